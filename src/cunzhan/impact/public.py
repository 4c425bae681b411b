"""Public transparency reads (no login): yearly aggregates of the indicators per region,
never a row, a name, a phone or a household number, with small cells suppressed.

Suppression (docs/adr/0020-public-page-and-commerce-indicators.md):

* **Primary**: a cell of a household-based indicator (one of its sources declares
  ``unit = "households"``) that rests on 1 to 4 households (``IndicatorValue.households``;
  a stored cell without the count is treated as small) is shown as "<5".
* **Complementary**: a parent's value is the sum of its children's, so a parent whose
  children hold exactly ONE suppressed cell would give that cell away by subtraction;
  such a parent is suppressed too, and so on up the tree (a parent with two or more
  suppressed children is shown: their sum is known, neither of them is). Computed from
  the whole subtree of the page's region, bottom-up.
* Only **years** are published: months would let a suppressed month be recovered from
  the year and the other months.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone

from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import prefix_q
from cunzhan.impact.models import Indicator, IndicatorValue
from cunzhan.impact.services import cell_value
from cunzhan.impact.sources import HOUSEHOLDS, source_get

MIN_HOUSEHOLDS = 5
PERIOD_TYPE = "year"
YEARS_SHOWN = 5


@dataclass(frozen=True)
class PublicCell:
    region_code: str
    region_name: str
    year: int
    value: float | None  # None: no value (a ratio over nothing) or suppressed
    numerator: int | None  # None when suppressed
    denominator: int | None
    suppressed: bool
    reason: str  # "", "small" (< 5 households) or "complementary"


def household_based(indicator: Indicator) -> bool:
    keys = (
        [indicator.numerator, indicator.denominator]
        if indicator.denominator
        else [indicator.numerator]
    )
    return any(source_get(k).unit == HOUSEHOLDS for k in keys)


# Not published (ADR 0020 addendum): the online sales are money of identifiable sellers
# (one household, one person) with no per-seller suppression yet, and a village's total
# would give away a suppressed registered-poor household's sales.
NOT_PUBLIC_SOURCES = frozenset(
    {
        "commerce.sales_fen",
        "commerce.sales_fen.poverty_counties",
        "commerce.sales_fen.registered_poor",
    }
)


def publishable(indicator: Indicator) -> bool:
    """Whether an indicator may appear on the public page: not over the sales sources,
    and not a ratio whose numerator rests on households (a cell's household count is the
    union of numerator and denominator: a share of 6 households could be one household's
    income)."""
    if indicator.numerator in NOT_PUBLIC_SOURCES or indicator.denominator in NOT_PUBLIC_SOURCES:
        return False
    if indicator.is_count_over:
        return True
    return not (indicator.is_ratio and source_get(indicator.numerator).unit == HOUSEHOLDS)


def public_indicators() -> list[Indicator]:
    """The active indicators that may be published, stored per year (all of them: year
    is the coarsest)."""
    return [i for i in Indicator.objects.filter(active=True) if publishable(i)]


def public_region(code: str) -> Any:
    """A region by its code ("" = the nation: None); a clear error for a malformed code,
    404 for an unknown one."""
    from cunzhan.network.models import Region

    if not code:
        return None
    if not (code.isdigit() and len(code) in (2, 4, 6, 9, 12)):
        raise ApplicationError(
            f"region: a 2, 4, 6, 9 or 12-digit region code, got {code[:20]!r}",
            code="invalid_region",
        )
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise NotFound()
    return region


def check_year(year: int | None, today: dt.date | None = None) -> int:
    today = today or timezone.localdate()
    if year is None:
        return today.year
    if not (2000 <= year <= today.year):
        raise ApplicationError(
            f"year {year} is out of range (2000 .. {today.year})",
            code="period_out_of_range",
            details={"year": year},
        )
    return year


def _parent(code: str) -> str:
    return {2: "", 4: code[:2], 6: code[:4], 9: code[:6], 12: code[:9]}[len(code)]


def suppressed_codes(indicator: Indicator, region_code: str, year: int) -> dict[str, str]:
    """The cells of the region's subtree (the region included) that are not published
    for the year, with the reason ("small" or "complementary"). Empty for an indicator
    that does not rest on households."""
    if not household_based(indicator):
        return {}
    qs = IndicatorValue.objects.filter(
        indicator=indicator, period_type=PERIOD_TYPE, period_start=dt.date(year, 1, 1)
    )
    if region_code:
        qs = qs.filter(prefix_q("region_code", region_code))
    cells = {
        code: hh for code, hh in qs.values_list("region_code", "households") if code is not None
    }
    out: dict[str, str] = {}
    for code, hh in cells.items():
        if hh is None or 0 < hh < MIN_HOUSEHOLDS:
            out[code] = "small"
    # bottom-up: villages (12) first, the nation ("") last
    children: dict[str, list[str]] = defaultdict(list)
    for code in cells:
        if code:
            children[_parent(code)].append(code)
    for length in (9, 6, 4, 2, 0):
        for code in [c for c in cells if len(c) == length]:
            if code in out:
                continue
            if sum(1 for c in children.get(code, []) if c in out) == 1:
                out[code] = "complementary"
    return out


def _public_cell(
    indicator: Indicator,
    code: str,
    name: str,
    year: int,
    row: IndicatorValue | None,
    reason: str,
) -> PublicCell:
    if reason:
        return PublicCell(code, name, year, None, None, None, True, reason)
    num = row.numerator if row else 0
    den = (row.denominator or 0 if row else 0) if indicator.is_ratio else None
    return PublicCell(code, name, year, cell_value(indicator, num, den), num, den, False, "")


def region_cells(*, region_code: str, year: int) -> list[tuple[Indicator, PublicCell]]:
    """Every active indicator's cell for the region and year (suppressed where due)."""
    region = public_region(region_code)
    name = region.name if region else ""
    ps = dt.date(year, 1, 1)
    rows = {
        v.indicator_id: v
        for v in IndicatorValue.objects.filter(
            region_code=region_code, period_type=PERIOD_TYPE, period_start=ps
        )
    }
    out = []
    for ind in public_indicators():
        reason = suppressed_codes(ind, region_code, year).get(region_code, "")
        out.append((ind, _public_cell(ind, region_code, name, year, rows.get(ind.pk), reason)))
    return out


def children_cells(*, indicator: Indicator, region_code: str, year: int) -> list[PublicCell]:
    """One cell per child region (zeros included), suppressed where due."""
    from cunzhan.network.models import Region

    public_region(region_code)
    children = list(
        Region.objects.filter(parent_id=region_code)
        if region_code
        else Region.objects.filter(level=1)
    )
    rows = {
        v.region_code: v
        for v in IndicatorValue.objects.filter(
            indicator=indicator,
            period_type=PERIOD_TYPE,
            period_start=dt.date(year, 1, 1),
            region_code__in=[c.code for c in children],
        )
    }
    hidden = suppressed_codes(indicator, region_code, year)
    return [
        _public_cell(indicator, c.code, c.name, year, rows.get(c.code), hidden.get(c.code, ""))
        for c in sorted(children, key=lambda c: c.code)
    ]


def year_series(*, indicator: Indicator, region_code: str, year: int) -> list[PublicCell]:
    """The region's cells for the last ``YEARS_SHOWN`` years up to ``year``."""
    region = public_region(region_code)
    name = region.name if region else ""
    years = list(range(year - YEARS_SHOWN + 1, year + 1))
    rows = {
        v.period_start.year: v
        for v in IndicatorValue.objects.filter(
            Q(period_start__in=[dt.date(y, 1, 1) for y in years]),
            indicator=indicator,
            region_code=region_code,
            period_type=PERIOD_TYPE,
        )
    }
    return [
        _public_cell(
            indicator,
            region_code,
            name,
            y,
            rows.get(y),
            suppressed_codes(indicator, region_code, y).get(region_code, ""),
        )
        for y in years
    ]
