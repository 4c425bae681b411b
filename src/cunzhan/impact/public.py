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

from cunzhan.core.errors import ApplicationError, NotFound, Unprocessable
from cunzhan.core.validation import is_ascii_digits
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
    if not (is_ascii_digits(code) and len(code) in (2, 4, 6, 9, 12)):
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
        raise Unprocessable(
            f"year {year} is out of range (2000 .. {today.year})",
            code="period_out_of_range",
            details={"year": year},
        )
    return year


def _parent(code: str) -> str:
    return {2: "", 4: code[:2], 6: code[:4], 9: code[:6], 12: code[:9]}[len(code)]


INF = float("inf")


def suppressed_codes(indicator: Indicator, region_code: str, year: int) -> dict[str, str]:
    """The cells of the region's subtree (the region included) that are not published
    for the year, with the reason ("small" or "complementary"). Empty for an indicator
    that does not rest on households.

    Computed over the WHOLE tree (the nation's cells), whatever page asks, so every page
    and the API hide the same cells (a cell hidden on one page and shown on another would
    be given away). Then :func:`protect` adds complementary suppressions until no small
    cell can be recovered by subtraction (ADR 0030)."""
    if not household_based(indicator):
        return {}
    qs = IndicatorValue.objects.filter(
        indicator=indicator, period_type=PERIOD_TYPE, period_start=dt.date(year, 1, 1)
    )
    rows = list(qs.values_list("region_code", "households", "numerator", "denominator"))
    cells = {code: hh for code, hh, _n, _d in rows if code is not None}
    small = {code for code, hh in cells.items() if hh is None or 0 < hh < MIN_HOUSEHOLDS}
    counts_households = bool(rows) and all(hh is not None and n == hh for _c, hh, n, _d in rows)
    parts = [{code: float(n or 0) for code, _h, n, _d in rows if code is not None}]
    if indicator.is_ratio:
        parts.append({code: float(d or 0) for code, _h, _n, d in rows if code is not None})
    hidden = protect(
        parts, small, small_bounds=(1.0, MIN_HOUSEHOLDS - 1.0), counts=counts_households
    )
    out = {c: ("small" if c in small else "complementary") for c in hidden}
    if region_code:
        out = {c: r for c, r in out.items() if c.startswith(region_code)}
    return out


def _children_map(codes: Any) -> dict[str, list[str]]:
    children: dict[str, list[str]] = defaultdict(list)
    known = set(codes)
    for code in known:
        if code and _parent(code) in known:
            children[_parent(code)].append(code)
    return children


def attacker_bounds(
    values: dict[str, float],
    hidden: set[str],
    bounds: dict[str, tuple[float, float]],
    children: dict[str, list[str]],
) -> dict[str, tuple[float, float]]:
    """What someone who sees every published cell can infer about the hidden ones:
    the interval of each, narrowed through every ``parent = sum(children)`` until
    nothing changes (interval propagation; exact on a tree of sums)."""
    lo = {c: (values[c] if c not in hidden else bounds[c][0]) for c in values}
    hi = {c: (values[c] if c not in hidden else bounds[c][1]) for c in values}
    for _round in range(50):
        changed = False
        for parent, kids in children.items():
            s_lo = sum(lo[k] for k in kids)
            s_hi = sum(hi[k] for k in kids)
            if s_lo > lo[parent]:
                lo[parent], changed = s_lo, True
            if s_hi < hi[parent]:
                hi[parent], changed = s_hi, True
            for k in kids:
                k_lo = lo[parent] - (s_hi - hi[k])
                k_hi = hi[parent] - (s_lo - lo[k])
                if k_lo > lo[k]:
                    lo[k], changed = k_lo, True
                if k_hi < hi[k]:
                    hi[k], changed = k_hi, True
        if not changed:
            break
    return {c: (lo[c], hi[c]) for c in values}


def protect(
    parts: list[dict[str, float]],
    small: set[str],
    *,
    small_bounds: tuple[float, float],
    counts: bool,
) -> set[str]:
    """The cells to hide: the small ones, and complementary ones added one at a time
    until no small cell's value (in any of ``parts``: the numerator, the denominator) is
    pinned to one number by the published cells. A small cell of a count of households
    is known to lie in ``small_bounds`` (it is shown "<5", and zero is shown as 0);
    any other hidden value only in [0, ∞)."""
    hidden = set(small)
    for _step in range(10_000):
        pinned = None
        for values in parts:
            children = _children_map(values)
            bounds = {
                c: (small_bounds if counts and c in small and values is parts[0] else (0.0, INF))
                for c in values
            }
            found = attacker_bounds(values, hidden, bounds, children)
            pinned = next(
                (c for c in sorted(small) if c in found and found[c][0] == found[c][1]), None
            )
            if pinned is not None:
                extra = _complement_for(pinned, values, hidden)
                if extra is None:
                    return hidden
                hidden.add(extra)
                break
        if pinned is None:
            return hidden
    return hidden


def _complement_for(code: str, values: dict[str, float], hidden: set[str]) -> str | None:
    """The cheapest published cell whose hiding breaks the subtraction that pins
    ``code``: its smallest published sibling, else (all siblings hidden) the parent; and
    the same one level up when the parent is hidden already."""
    node = code
    while node:
        parent = _parent(node)
        siblings = [
            c for c in values if c and c != node and _parent(c) == parent and c not in hidden
        ]
        if siblings:
            return min(siblings, key=lambda c: (values[c], c))
        if parent in values and parent not in hidden:
            return parent
        node = parent
    return None


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
