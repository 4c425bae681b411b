"""Impact reads: indicators, a region's series, its children, the drill-down rows.

Every read takes the caller's :class:`RegionScope`; a region outside it is "not found"
(never told apart from a region that does not exist)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cunzhan.accounts.roles import Perm
from cunzhan.core.audit import audit_record
from cunzhan.core.errors import ApplicationError, NotFound, Unprocessable
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import is_ascii_digits
from cunzhan.impact import periods
from cunzhan.impact.models import Indicator, IndicatorValue
from cunzhan.impact.services import cell_value
from cunzhan.impact.sources import HOUSEHOLDS, DataSource, source_get

DEFAULT_SPAN = {"day": 30, "week": 12, "month": 12, "quarter": 8, "year": 5}
# The whole country in URLs and the API; its cells are stored under region code "".
NATIONAL_CODE = "CN"


@dataclass(frozen=True)
class National:
    """The root of the region tree (not a ``Region`` row): provinces are its children."""

    code: str = ""
    level: int = 0
    longitude: float | None = None
    latitude: float | None = None

    @property
    def name(self) -> str:
        from django.utils.translation import gettext

        return gettext("全国")


def url_code(code: str) -> str:
    """The code of a region in a URL: ``CN`` for the whole country."""
    return code or NATIONAL_CODE


@dataclass(frozen=True)
class Cell:
    region_code: str
    region_name: str
    period_start: dt.date
    numerator: int
    denominator: int | None
    value: float | None


def indicator_list() -> QuerySet[Indicator]:
    return Indicator.objects.filter(active=True)


def indicator_get(*, code: str) -> Indicator:
    found = Indicator.objects.filter(code=code, active=True).first()
    if found is None:
        raise NotFound(f"unknown indicator {code!r}", code="unknown_indicator")
    return found


def region_get(*, scope: RegionScope, code: str) -> Any:
    """The region ``code`` in the caller's scope; ``CN`` (or "") is the whole country,
    which only a user with a national scope sees."""
    from cunzhan.network.models import Region

    if code in (NATIONAL_CODE, ""):
        if not scope.everything:
            raise NotFound()
        return National()
    if not (is_ascii_digits(code) and len(code) in (2, 4, 6, 9, 12)):
        raise ApplicationError(
            f"region: {NATIONAL_CODE} or a 2, 4, 6, 9 or 12-digit region code, got {code[:20]!r}",
            code="invalid_region",
        )
    if not scope.contains_code(code):
        raise NotFound()
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise NotFound()
    return region


def check_period_type(indicator: Indicator, period_type: str) -> str:
    period_type = period_type or indicator.period_type
    if period_type not in periods.types_from(indicator.period_type):
        raise Unprocessable(
            f"{indicator.code} is computed per {indicator.period_type}; period type "
            f"{period_type!r} is not one of {', '.join(periods.types_from(indicator.period_type))}",
            code="invalid_period",
            details={"period_type": period_type},
        )
    return period_type


def latest_period(
    *, indicator: Indicator, region_code: str, period_type: str, today: dt.date
) -> dt.date:
    """The latest period up to ``today`` with a stored cell for the region (the
    current period when there is none): a dashboard opens on a period with data."""
    found = (
        IndicatorValue.objects.filter(
            indicator=indicator,
            region_code=region_code,
            period_type=period_type,
            period_start__lte=today,
        )
        .order_by("-period_start")
        .values_list("period_start", flat=True)
        .first()
    )
    return found or periods.period_start(today, period_type)


def default_range(period_type: str, today: dt.date) -> tuple[dt.date, dt.date]:
    last = periods.period_start(today, period_type)
    first = last
    for _step in range(DEFAULT_SPAN[period_type] - 1):
        first = periods.period_start(first - dt.timedelta(days=1), period_type)
    return first, last


def _cell(indicator: Indicator, region: Any, ps: dt.date, row: IndicatorValue | None) -> Cell:
    num = row.numerator if row else 0
    den = (row.denominator if row else 0) if indicator.is_ratio else None
    return Cell(url_code(region.code), region.name, ps, num, den, cell_value(indicator, num, den))


def value_series(
    *,
    scope: RegionScope,
    indicator: Indicator,
    region_code: str,
    period_type: str = "",
    start: dt.date | None = None,
    end: dt.date | None = None,
    today: dt.date | None = None,
) -> list[Cell]:
    """One cell per period from ``start`` to ``end`` (zeros where nothing was stored)."""
    region = region_get(scope=scope, code=region_code)
    period_type = check_period_type(indicator, period_type)
    d_first, d_last = default_range(period_type, today or timezone.localdate())
    starts = periods.period_starts(start or d_first, end or d_last, period_type)
    rows = {
        v.period_start: v
        for v in IndicatorValue.objects.filter(
            indicator=indicator,
            region_code=region.code,
            period_type=period_type,
            period_start__gte=starts[0],
            period_start__lte=starts[-1],
        )
    }
    return [_cell(indicator, region, ps, rows.get(ps)) for ps in starts]


def cells_for(*, indicators: list[tuple[Indicator, str, dt.date]], region: Any) -> dict[str, Cell]:
    """One cell per (indicator, period type, period start) of ``region`` (already
    scope-checked, e.g. by :func:`region_get`), read in ONE query: the dashboard's
    cards. Keyed by indicator code; zeros where nothing was stored."""
    wanted = {(ind.pk, t, ps) for ind, t, ps in indicators}
    rows = {
        (v.indicator_id, v.period_type, v.period_start): v
        for v in IndicatorValue.objects.filter(
            region_code=region.code,
            indicator_id__in={k[0] for k in wanted},
            period_type__in={k[1] for k in wanted},
            period_start__in={k[2] for k in wanted},
        )
        if (v.indicator_id, v.period_type, v.period_start) in wanted
    }
    return {
        ind.code: _cell(ind, region, ps, rows.get((ind.pk, t, ps))) for ind, t, ps in indicators
    }


def children_values(
    *,
    scope: RegionScope,
    indicator: Indicator,
    region_code: str,
    period_type: str,
    period_start: dt.date,
) -> tuple[Any, list[Cell]]:
    """The region and one cell per child region in scope (zeros included)."""
    from cunzhan.network.selectors import region_children

    region = region_get(scope=scope, code=region_code)
    period_type = check_period_type(indicator, period_type)
    periods.check_aligned(period_start, period_type)
    children = list(region_children(scope=scope, code=region.code or None))
    rows = {
        v.region_code: v
        for v in IndicatorValue.objects.filter(
            indicator=indicator,
            period_type=period_type,
            period_start=period_start,
            region_code__in=[c.code for c in children],
        )
    }
    return region, [_cell(indicator, c, period_start, rows.get(c.code)) for c in children]


def _counties_over(
    scope: RegionScope, indicator: Indicator, period_type: str, period_start: dt.date
) -> list[dict[str, Any]]:
    """The counties (in scope) whose cell of the base indicator reaches the threshold."""
    from cunzhan.network.models import Region

    base = Indicator.objects.filter(code=indicator.base).first()
    if base is None or indicator.threshold is None:
        return []
    cells = list(
        IndicatorValue.objects.filter(
            scope.q("region_code"),
            indicator=base,
            level=3,
            period_type=period_type,
            period_start=period_start,
            value__gte=indicator.threshold,
        ).order_by("region_code")
    )
    names = dict(
        Region.objects.filter(code__in=[c.region_code for c in cells]).values_list("code", "name")
    )
    return [
        {
            "kind": "county",
            "id": c.region_code,
            "day": period_start.isoformat(),
            "region_code": c.region_code,
            "region_name": names.get(c.region_code, ""),
            "label": f"{base.code} = {c.numerator}",
            "detail": f"≥ {indicator.threshold}",
            "amount": 1,
        }
        for c in cells
    ]


def drilldown(
    *,
    scope: RegionScope,
    indicator: Indicator,
    region_code: str,
    period_type: str,
    period_start: dt.date,
    user: Any,
    part: str = "numerator",
    limit: int = 500,
) -> dict[str, Any]:
    """The rows behind a number (parcels, shipments, stations, households), inside the
    caller's scope. ``total`` counts them all; ``rows`` holds the first ``limit``.

    Rows of a household-based source (one per household: its number, its income) are
    personal data: a ``user`` who may read the register (``view_registry``) gets them
    and the read is audited like opening a household's record; anyone else gets one
    row per village (households and total), never a household's own figure."""
    region = region_get(scope=scope, code=region_code)
    period_type = check_period_type(indicator, period_type)
    periods.check_aligned(period_start, period_type)
    if part not in ("numerator", "denominator") or (
        part == "denominator" and not indicator.is_ratio
    ):
        raise Unprocessable(
            f"part: 'numerator'{' or denominator' if indicator.is_ratio else ''}, got {part!r}",
            code="invalid_part",
        )
    source = source_get(indicator.numerator if part == "numerator" else indicator.denominator)
    end = periods.period_end(period_start, period_type)
    if indicator.is_count_over:
        inner = scope.narrowed_to(region.code) if region.code else scope
        rows = _counties_over(inner, indicator, period_type, period_start)
    elif region.code:
        rows = source.rows(scope.narrowed_to(region.code), region.code, period_start, end)
    else:  # the whole country: province by province (a source filters by a code prefix)
        from cunzhan.network.selectors import region_children

        rows = []
        for province in region_children(scope=scope, code=None).order_by("code"):
            inner = scope.narrowed_to(province.code)
            rows.extend(source.rows(inner, province.code, period_start, end))
    total = sum(r["amount"] for r in rows)
    aggregated = False
    if _household_rows(indicator, source):
        if user is not None and user.can(Perm.VIEW_REGISTRY):
            _audit_household_rows(
                user=user,
                indicator=indicator,
                region=region,
                source=source,
                period_start=period_start,
                rows=rows[:limit],
            )
        else:
            rows, aggregated = _village_totals(rows), True
    return {
        "region": region,
        "source": source,
        "period_end": end,
        "total": total,
        "rows": rows[:limit],
        "aggregated": aggregated,
    }


def _household_rows(indicator: Indicator, source: DataSource) -> bool:
    """Whether the drill-down lists households (not counties over a threshold)."""
    return source.unit == HOUSEHOLDS and not indicator.is_count_over


def _village_totals(rows: list[dict]) -> list[dict]:
    """One row per village: how many household rows and their total, no household."""
    by_village: dict[str, dict] = {}
    for r in rows:
        v = by_village.setdefault(
            r["region_code"],
            {
                "kind": "village",
                "id": r["region_code"],
                "day": "",
                "region_code": r["region_code"],
                "region_name": r["region_name"],
                "label": r["region_name"],
                "households": set(),
                "amount": 0,
            },
        )
        v["households"].add(r["id"])
        v["amount"] += r["amount"]
    out = []
    for code in sorted(by_village):
        v = by_village[code]
        n = len(v.pop("households"))
        v["detail"] = _("%(n)d户") % {"n": n}
        out.append(v)
    return out


def _audit_household_rows(
    *,
    user: Any,
    indicator: Indicator,
    region: Any,
    source: DataSource,
    period_start: dt.date,
    rows: list[dict],
) -> None:
    """One personal-data read per call, naming what was listed and how many households."""
    households = sorted({str(r["id"]) for r in rows})
    audit_record(
        action="read",
        object_type="impact.Indicator",
        object_id=indicator.code,
        object_repr=indicator.name_zh,
        region_code=region.code,
        after={
            "source": source.key,
            "period_start": period_start.isoformat(),
            "households": households,
        },
        note=_("指标明细：%(n)d户的逐户数据") % {"n": len(households)},
        personal_data=True,
        actor=user,
    )
