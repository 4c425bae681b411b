"""Impact API under /api/v1/impact: indicators, a region's series, its children and the
drill-down rows of one number. Thin: validate, call one selector, render. A region
outside the caller's scope: 404."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from django.utils import timezone
from ninja import Path, Query, Router, Schema

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.api import ERROR_RESPONSES, IsoDate, require
from cunzhan.impact import selectors

router = Router(tags=["impact"])

# A region in an impact URL: CN (the nation) or a 2, 4, 6, 9 or 12-digit code.
REGION_CODE_PATTERN = r"^(CN|[0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$"
REGION_CODE_OR_EMPTY = r"^(CN|[0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})?$"
RegionPath = Path(..., pattern=REGION_CODE_PATTERN, description="CN or a region code")
# "" means the indicator's own period type; a finer one than the indicator is computed
# at is refused with 422 ``invalid_period``
PeriodType = Literal["", "day", "week", "month", "quarter", "year"]


class IndicatorOut(Schema):
    code: str
    name_zh: str
    name_en: str
    description: str
    numerator: str
    denominator: str
    factor: int
    unit: str
    period_type: str
    aggregation: str
    target: float | None
    higher_is_better: bool
    legend: list[dict[str, Any]]


class RegionRef(Schema):
    code: str
    name: str
    level: int


class CellOut(Schema):
    region_code: str
    region_name: str
    period_start: dt.date
    numerator: int
    denominator: int | None
    value: float | None


class SeriesOut(Schema):
    indicator: str
    region: RegionRef
    period_type: str
    cells: list[CellOut]


class ChildrenOut(Schema):
    indicator: str
    region: RegionRef
    period_type: str
    period_start: dt.date
    children: list[CellOut]


class RowOut(Schema):
    kind: str
    id: str
    day: str
    region_code: str
    region_name: str
    label: str
    detail: str
    amount: int


class RowsOut(Schema):
    indicator: str
    source: str
    part: str
    region: RegionRef
    period_type: str
    period_start: dt.date
    period_end: dt.date
    total: int
    rows: list[RowOut]


def _region(r: Any) -> dict[str, Any]:
    return {"code": selectors.url_code(r.code), "name": r.name, "level": r.level}


@router.get("/indicators", response={200: list[IndicatorOut], **ERROR_RESPONSES})
def indicators_list(request: HttpRequest):
    require(request, Perm.VIEW_IMPACT)
    return list(selectors.indicator_list())


@router.get(
    "/indicators/{indicator_code}/regions/{code}/values",
    response={200: SeriesOut, **ERROR_RESPONSES},
)
def region_values(
    request: HttpRequest,
    indicator_code: str,
    code: str = RegionPath,
    period_type: PeriodType = "",
    start: IsoDate | None = None,
    end: IsoDate | None = None,
):
    """The region's series, one cell per period (zeros included); default: the
    indicator's period type, the last 30 days / 12 weeks / 12 months ..."""
    user = require(request, Perm.VIEW_IMPACT)
    indicator = selectors.indicator_get(code=indicator_code)
    cells = selectors.value_series(
        scope=scope_for_user(user),
        indicator=indicator,
        region_code=code,
        period_type=period_type,
        start=start,
        end=end,
    )
    region = selectors.region_get(scope=scope_for_user(user), code=code)
    return {
        "indicator": indicator.code,
        "region": _region(region),
        "period_type": period_type or indicator.period_type,
        "cells": cells,
    }


@router.get(
    "/indicators/{indicator_code}/regions/{code}/children",
    response={200: ChildrenOut, **ERROR_RESPONSES},
)
def region_children_values(
    request: HttpRequest,
    indicator_code: str,
    code: str = RegionPath,
    period_type: PeriodType = "",
    period_start: IsoDate | None = None,
):
    """The child regions' cells for one period (default: the current one)."""
    user = require(request, Perm.VIEW_IMPACT)
    indicator = selectors.indicator_get(code=indicator_code)
    pt = selectors.check_period_type(indicator, period_type)
    ps = period_start or selectors.default_range(pt, timezone.localdate())[1]
    region, children = selectors.children_values(
        scope=scope_for_user(user),
        indicator=indicator,
        region_code=code,
        period_type=pt,
        period_start=ps,
    )
    return {
        "indicator": indicator.code,
        "region": _region(region),
        "period_type": pt,
        "period_start": ps,
        "children": children,
    }


@router.get(
    "/indicators/{indicator_code}/regions/{code}/rows",
    response={200: RowsOut, **ERROR_RESPONSES},
)
def region_rows(
    request: HttpRequest,
    indicator_code: str,
    code: str = RegionPath,
    period_type: PeriodType = "",
    period_start: IsoDate | None = None,
    part: Literal["numerator", "denominator"] = "numerator",
):
    """The drill-down: the rows that make the number (parcels, shipments, stations,
    households without names), inside the caller's scope; at most 500 rows, ``total``
    counts them all. Household rows are personal data: listed (and the read audited)
    for callers with ``view_registry``, one row per village (``kind`` "village") for
    anyone else."""
    user = require(request, Perm.VIEW_IMPACT)
    indicator = selectors.indicator_get(code=indicator_code)
    pt = selectors.check_period_type(indicator, period_type)
    ps = period_start or selectors.default_range(pt, timezone.localdate())[1]
    out = selectors.drilldown(
        scope=scope_for_user(user),
        indicator=indicator,
        region_code=code,
        period_type=pt,
        period_start=ps,
        part=part,
        user=user,
    )
    return {
        "indicator": indicator.code,
        "source": out["source"].key,
        "part": part,
        "region": _region(out["region"]),
        "period_type": pt,
        "period_start": ps,
        "period_end": out["period_end"],
        "total": out["total"],
        "rows": out["rows"],
    }


# --- public (no token): yearly aggregates, small cells suppressed --------------------------------


class PublicCellOut(Schema):
    region_code: str
    region_name: str
    year: int
    value: float | None
    numerator: int | None
    denominator: int | None
    suppressed: bool
    reason: str


class PublicIndicatorOut(Schema):
    code: str
    name_zh: str
    name_en: str
    unit: str
    factor: int
    cell: PublicCellOut


class PublicValuesOut(Schema):
    region: RegionRef | None
    year: int
    min_households: int
    indicators: list[PublicIndicatorOut]
    indicator: str
    children: list[PublicCellOut]


@router.get("/public/values", auth=None, response={200: PublicValuesOut, **ERROR_RESPONSES})
def public_values(
    request: HttpRequest,
    region: str = Query("", pattern=r"^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})?$"),
    year: int | None = Query(None, ge=2000, le=9999),
    indicator: str = Query("", max_length=60),
):
    """The public transparency data (no token): every indicator's value for the region
    (``""``: the nation) and year, and the child regions' values of one indicator
    (default: the first). Cells resting on fewer than 5 households, and parents that
    would give one away by subtraction, are ``suppressed`` (value and numerator null).
    No rows, no names."""
    from cunzhan.core.errors import NotFound
    from cunzhan.impact import public

    reg = public.public_region(region)
    y = public.check_year(year)
    cells = public.region_cells(region_code=region, year=y)
    if not cells:
        raise NotFound("no indicator defined", code="unknown_indicator")
    chosen = next((i for i, _c in cells if i.code == indicator), None)
    if indicator and chosen is None:
        raise NotFound(f"unknown indicator {indicator!r}", code="unknown_indicator")
    chosen = chosen or cells[0][0]
    return {
        "region": _region(reg) if reg is not None else None,
        "year": y,
        "min_households": public.MIN_HOUSEHOLDS,
        "indicators": [
            {
                "code": i.code,
                "name_zh": i.name_zh,
                "name_en": i.name_en,
                "unit": i.unit,
                "factor": i.factor,
                "cell": c,
            }
            for i, c in cells
        ],
        "indicator": chosen.code,
        "children": public.children_cells(indicator=chosen, region_code=region, year=y),
    }
