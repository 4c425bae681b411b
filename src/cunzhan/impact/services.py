"""Impact writes: define an indicator, refresh a county's stored values.

The refresh recomputes only the affected cells: the periods (of every stored period
type) that contain a day whose data changed, for the county's villages, townships and
the county itself from the domains' data, then the prefecture, province and national
cells of those periods from the stored county cells (a parent = the sum of its
children, numerator and denominator apart). See docs/adr/0017-impact-indicators.md.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from cunzhan.core.audit import audit_record
from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import prefix_q
from cunzhan.core.validation import is_ascii_digits
from cunzhan.impact import periods
from cunzhan.impact.models import (
    AGGREGATIONS,
    COUNT_OVER,
    SUM,
    Indicator,
    IndicatorRefresh,
    IndicatorValue,
)
from cunzhan.impact.sources import COUNTIES_OVER, HOUSEHOLDS, STOCK, DataSource, source_get

LEVEL_OF_LENGTH = {0: 0, 2: 1, 4: 2, 6: 3, 9: 4, 12: 5}
DEFAULT_HISTORY_DAYS = 366
WATERMARK_MARGIN = dt.timedelta(minutes=10)


def ancestors(code: str) -> list[str]:
    """The codes above ``code``, nearest first, ending with the national ``""``."""
    return [code[:n] for n in (9, 6, 4, 2) if n < len(code)] + [""]


def cell_value(indicator: Indicator, numerator: int, denominator: int | None) -> float | None:
    if indicator.is_ratio:
        if not denominator:
            return None
        return numerator * indicator.factor / denominator
    return float(numerator * indicator.factor)


def _check_legend(legend: Any) -> list[dict[str, Any]]:
    if not isinstance(legend, list):
        raise ApplicationError("legend: a list of {min, color, label}", code="invalid_legend")
    last = None
    for i, band in enumerate(legend):
        if not isinstance(band, dict) or not isinstance(band.get("min"), int | float):
            raise ApplicationError(
                f"legend[{i}]: needs a numeric 'min'", code="invalid_legend", details={"band": i}
            )
        color = str(band.get("color", ""))
        if not (len(color) == 7 and color.startswith("#")):
            raise ApplicationError(
                f"legend[{i}]: colour must be #rrggbb", code="invalid_legend", details={"band": i}
            )
        if last is not None and band["min"] <= last:
            raise ApplicationError(
                f"legend[{i}]: 'min' must ascend", code="invalid_legend", details={"band": i}
            )
        last = band["min"]
    return legend


@transaction.atomic
def indicator_define(
    *,
    code: str,
    name_zh: str,
    name_en: str,
    numerator: str,
    denominator: str = "",
    factor: int = 1,
    unit: str = "",
    period_type: str = "day",
    target: float | None = None,
    higher_is_better: bool = True,
    legend: list[dict[str, Any]] | None = None,
    description: str = "",
    order: int = 100,
    aggregation: str = SUM,
    base: str = "",
    threshold: int | None = None,
    actor: Any = None,
) -> Indicator:
    """Create or update an indicator. Refused: a formula that references a data source
    nobody registered, a ratio over a flow and a stock, an unknown period type, a
    factor below 1, a bad legend; for ``count_over``, a base indicator that does not
    exist or is not stored for the period type, a missing or negative threshold."""
    if aggregation not in AGGREGATIONS:
        raise ApplicationError(
            f"aggregation: one of {', '.join(AGGREGATIONS)}, got {aggregation!r}",
            code="invalid_aggregation",
        )
    if aggregation == COUNT_OVER:
        numerator, denominator = COUNTIES_OVER, ""
        found = Indicator.objects.filter(code=base).exclude(aggregation=COUNT_OVER).first()
        if found is None:
            raise ApplicationError(
                f"base: unknown indicator {base!r}",
                code="unknown_indicator",
                details={"base": base},
            )
        if period_type not in periods.types_from(found.period_type):
            raise ApplicationError(
                f"{base} is not stored per {period_type}",
                code="invalid_period",
                details={"period_type": period_type},
            )
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
            raise ApplicationError(
                "threshold: a whole number ≥ 0 in the base indicator's unit",
                code="invalid_threshold",
            )
    elif numerator == COUNTIES_OVER or base or threshold is not None:
        raise ApplicationError(
            "base and threshold go with aggregation 'count_over'", code="invalid_aggregation"
        )
    num = source_get(numerator)
    if denominator:
        den = source_get(denominator)
        if den.kind != num.kind:
            raise ApplicationError(
                f"{numerator} ({num.kind}) and {denominator} ({den.kind}) cannot form a ratio",
                code="mixed_source_kinds",
            )
    periods.check_period_type(period_type)
    if factor < 1:
        raise ApplicationError("factor must be at least 1", code="invalid_factor")
    if not code or not name_zh or not name_en:
        raise ApplicationError("code, name_zh and name_en are required", code="invalid")
    values = {
        "name_zh": name_zh,
        "name_en": name_en,
        "numerator": numerator,
        "denominator": denominator,
        "factor": factor,
        "unit": unit,
        "period_type": period_type,
        "target": target,
        "higher_is_better": higher_is_better,
        "legend": _check_legend(legend or []),
        "description": description,
        "order": order,
        "aggregation": aggregation,
        "base": base,
        "threshold": threshold,
    }
    indicator, created = Indicator.objects.update_or_create(code=code, defaults=values)
    audit_record(
        action="create" if created else "update",
        object_type="impact.Indicator",
        object_id=indicator.pk,
        object_repr=code,
        after={k: v for k, v in values.items() if k != "legend"},
        actor=actor,
    )
    return indicator


@dataclass
class RefreshResult:
    county: str
    cells_written: int = 0
    cells_deleted: int = 0
    periods: dict[str, int] = field(default_factory=dict)  # indicator -> periods recomputed
    # indicator -> the (period type, period start) recomputed (count_over reads them)
    recomputed: dict[str, set[tuple[str, dt.date]]] = field(default_factory=dict)


def _sources(indicator: Indicator) -> list[DataSource]:
    out = [source_get(indicator.numerator)]
    if indicator.denominator:
        out.append(source_get(indicator.denominator))
    return out


def _affected_days(
    indicator: Indicator,
    county: str,
    since: dt.date | None,
    watermark: dt.datetime | None,
    today: dt.date,
) -> set[dt.date]:
    srcs = _sources(indicator)
    if srcs[0].kind == STOCK:
        return {today}
    if since is not None:
        first = since
    elif watermark is None:
        first = today - dt.timedelta(days=DEFAULT_HISTORY_DAYS)
    else:
        days: set[dt.date] = set()
        for s in srcs:
            assert s.touched is not None
            days |= s.touched(county, watermark)
        return days
    return {first + dt.timedelta(days=i) for i in range((today - first).days + 1)}


def _recompute(
    indicator: Indicator, county: str, days: set[dt.date], result: RefreshResult
) -> None:
    if not days:
        return
    srcs = _sources(indicator)
    types = periods.types_from(indicator.period_type)
    affected = {t: {periods.period_start(d, t) for d in days} for t in types}
    if srcs[0].kind == STOCK:  # a snapshot, dated the day it is taken
        lo = hi = max(days)
    else:
        lo = min(min(v) for v in affected.values())
        hi = max(periods.period_end(max(v), t) for t, v in affected.items())
    # (type, period start) -> region code -> [numerator, denominator]
    acc: dict[tuple[str, dt.date], dict[str, list[int]]] = defaultdict(
        lambda: defaultdict(lambda: [0, 0])
    )
    # household-based sources: the distinct households behind each cell
    members: dict[tuple[str, dt.date], dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    for part, source in enumerate(srcs):
        raw = source.counts(county, lo, hi)
        for (code, day), n in raw.items():
            for t in types:
                ps = periods.period_start(day, t)
                if ps not in affected[t]:
                    continue
                cells = acc[(t, ps)]
                for c in [code, *[a for a in ancestors(code) if len(a) >= 6]]:
                    cells[c][part] += n
        if source.unit == HOUSEHOLDS and source.households is not None:
            for (code, day), ids in source.households(county, lo, hi).items():
                for t in types:
                    ps = periods.period_start(day, t)
                    if ps not in affected[t]:
                        continue
                    for c in [code, *[a for a in ancestors(code) if len(a) >= 6]]:
                        members[(t, ps)][c] |= ids
    counted = _household_based(indicator)
    county_q = prefix_q("region_code", county)
    for t in types:
        for ps in sorted(affected[t]):
            deleted, _ = IndicatorValue.objects.filter(
                county_q, indicator=indicator, period_type=t, period_start=ps
            ).delete()
            result.cells_deleted += deleted
            hh = members.get((t, ps), {})
            new = [
                _cell(
                    indicator,
                    code,
                    t,
                    ps,
                    nd[0],
                    nd[1],
                    len(hh.get(code, ())) if counted else None,
                )
                for code, nd in sorted(acc.get((t, ps), {}).items())
                if nd[0] or nd[1]
            ]
            IndicatorValue.objects.bulk_create(new)
            result.cells_written += len(new)
            _recompute_above_county(indicator, county, t, ps, result)
    result.periods[indicator.code] = sum(len(v) for v in affected.values())
    result.recomputed[indicator.code] = {(t, ps) for t, v in affected.items() for ps in v}


def _household_based(indicator: Indicator) -> bool:
    return any(s.unit == HOUSEHOLDS for s in _sources(indicator))


def _cell(
    indicator: Indicator,
    code: str,
    t: str,
    ps: dt.date,
    num: int,
    den: int,
    households: int | None = None,
) -> IndicatorValue:
    denominator = den if indicator.is_ratio else None
    return IndicatorValue(
        households=households,
        indicator=indicator,
        region_code=code,
        level=LEVEL_OF_LENGTH[len(code)],
        period_type=t,
        period_start=ps,
        numerator=num,
        denominator=denominator,
        value=cell_value(indicator, num, denominator),
    )


def _recompute_above_county(
    indicator: Indicator, county: str, t: str, ps: dt.date, result: RefreshResult
) -> None:
    """Prefecture, province and national cells = sums of the stored county cells."""
    for parent in ancestors(county):
        counties = IndicatorValue.objects.filter(
            indicator=indicator, period_type=t, period_start=ps, level=3
        )
        if parent:
            counties = counties.filter(prefix_q("region_code", parent))
        sums = counties.aggregate(n=Sum("numerator"), d=Sum("denominator"), h=Sum("households"))
        num, den = sums["n"] or 0, sums["d"] or 0
        # a household lives in one county: the parent's households are the counties' sum
        households = (sums["h"] or 0) if _household_based(indicator) else None
        IndicatorValue.objects.filter(
            indicator=indicator, period_type=t, period_start=ps, region_code=parent
        ).delete()
        if num or den:
            _cell(indicator, parent, t, ps, num, den, households).save()
            result.cells_written += 1


def _recompute_count_over(indicator: Indicator, county: str, result: RefreshResult) -> None:
    """The county's cell of a ``count_over`` indicator is 1 when its cell of the base
    indicator reaches the threshold in the period, then the prefecture, province and
    national cells are the sums of the county cells (how many counties). Only the
    periods of the base recomputed in this refresh are looked at."""
    done = result.recomputed.get(indicator.base, set())
    base = Indicator.objects.filter(code=indicator.base).first()
    if base is None:
        return
    for t, ps in sorted(x for x in done if x[0] in periods.types_from(indicator.period_type)):
        cell = IndicatorValue.objects.filter(
            indicator=base, region_code=county, period_type=t, period_start=ps
        ).first()
        over = (
            cell is not None
            and cell.value is not None
            and indicator.threshold is not None
            and cell.value >= indicator.threshold
        )
        deleted, _ = IndicatorValue.objects.filter(
            indicator=indicator, region_code=county, period_type=t, period_start=ps
        ).delete()
        result.cells_deleted += deleted
        if over:
            _cell(indicator, county, t, ps, 1, 0).save()
            result.cells_written += 1
        _recompute_above_county(indicator, county, t, ps, result)


@transaction.atomic
def indicators_refresh(
    *,
    county_code: str,
    since: dt.date | None = None,
    today: dt.date | None = None,
    indicator_codes: list[str] | None = None,
    actor: Any = None,
) -> RefreshResult:
    """Recompute the county's cells. ``since``: every day from then to ``today``;
    without it, the days whose data were recorded since the last refresh started
    (the first refresh: the last year). Stock sources: the periods holding today."""
    from cunzhan.network.models import Region

    if not (is_ascii_digits(county_code) and len(county_code) == 6):
        raise ApplicationError(
            f"county: a 6-digit county code, got {county_code!r}", code="invalid_county"
        )
    if not Region.objects.filter(code=county_code).exists():
        raise ApplicationError(f"unknown county {county_code}", code="unknown_county")
    today = today or timezone.localdate()
    if since is not None and not (periods.MIN_DATE <= since <= today):
        raise ApplicationError(
            f"since {since} is out of range ({periods.MIN_DATE} .. {today})",
            code="period_out_of_range",
        )
    started = timezone.now()
    # the indicator rows are locked (in pk order) for the whole refresh: two counties'
    # refreshes write the same prefecture, province and national cells, computed from
    # the stored county cells, so they run one after the other
    indicators = list(Indicator.objects.select_for_update().filter(active=True).order_by("pk"))
    if indicator_codes:
        # a count_over indicator goes with its base both ways: counting needs the base's
        # recomputed periods, and a recomputed base changes the count
        wanted = set(indicator_codes)
        wanted |= {i.base for i in indicators if i.is_count_over and i.code in wanted}
        wanted |= {i.code for i in indicators if i.is_count_over and i.base in wanted}
        indicators = [i for i in indicators if i.code in wanted]
    last = IndicatorRefresh.objects.select_for_update().filter(county_code=county_code).first()
    # a margin for events recorded (auto_now_add) before the last refresh started but
    # committed after it by a long ingest transaction: recomputing a day twice is harmless
    watermark = last.started_at - WATERMARK_MARGIN if last else None
    result = RefreshResult(county=county_code)
    for indicator in indicators:
        if indicator.is_count_over:
            continue
        days = _affected_days(indicator, county_code, since, watermark, today)
        _recompute(indicator, county_code, days, result)
    # after the cells they count: counties whose base cell reaches a threshold
    for indicator in indicators:
        if indicator.is_count_over:
            _recompute_count_over(indicator, county_code, result)
    IndicatorRefresh.objects.update_or_create(
        county_code=county_code,
        defaults={
            "started_at": started,
            "finished_at": timezone.now(),
            "cells_written": result.cells_written,
        },
    )
    audit_record(
        action="update",
        object_type="impact.IndicatorRefresh",
        object_id=county_code,
        object_repr=f"indicators {county_code}",
        region_code=county_code,
        after={"cells_written": result.cells_written, "since": str(since or "")},
        actor=actor,
    )
    return result
