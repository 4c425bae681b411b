"""Impact exports and the county-by-month rollup under /api/v1/impact (ADR 0021).

* ``GET /indicators/{indicator}/regions/{code}/export?table=series|children&format=...``
  the dashboard's table (csv, xlsx, parquet);
* ``GET /regions/{code}/events?kind=scans|lots&first=&last=&format=...`` the raw event
  history without personal data (audited);
* ``GET /rollup?region=&first=YYYY-MM&last=YYYY-MM`` parcels and sales by county and
  month, from the columnar snapshot (DuckDB over Parquet) when there is one.

A region outside the caller's scope: 404, as everywhere in impact; a bad format, table,
kind or range: 400 naming it."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.http import HttpRequest
from ninja import Path, Query, Router, Schema

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.api import ERROR_RESPONSES, IsoDate, require
from cunzhan.impact import columnar, exports, selectors
from cunzhan.impact.api import REGION_CODE_OR_EMPTY, PeriodType, RegionPath

router = Router(tags=["impact"])

ExportFormat = Literal["csv", "xlsx", "parquet"]
# the file, in the content type of its format
_FILE_RESPONSE = {
    "responses": {
        200: {
            "description": "the file (csv, xlsx or parquet, as ``format`` asks)",
            "content": {
                ctype.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                for ctype in exports.FORMATS.values()
            },
        }
    }
}
MONTH_PATTERN = r"^([0-9]{4}-(0[1-9]|1[0-2]))?$"


@router.get(
    "/indicators/{indicator_code}/regions/{code}/export",
    response={200: None, **ERROR_RESPONSES},
    openapi_extra=_FILE_RESPONSE,
)
def indicator_export(
    request: HttpRequest,
    indicator_code: str,
    code: str = RegionPath,
    table: Literal["series", "children"] = "series",
    period_type: PeriodType = "",
    start: IsoDate | None = None,
    end: IsoDate | None = None,
    format: ExportFormat = "csv",
):
    """An indicator's cells for the region itself (``table=series``, the default: one row
    per period) or for its children (``table=children``: one row per child and period),
    from ``start`` to ``end`` (default: the dashboard's range), as ``format`` csv, xlsx
    or parquet."""
    user = require(request, Perm.VIEW_IMPACT)
    exports.check_format(format)
    indicator = selectors.indicator_get(code=indicator_code)
    out = exports.indicator_table(
        scope=scope_for_user(user),
        indicator=indicator,
        region_code=code,
        table=table,
        period_type=period_type,
        start=start,
        end=end,
    )
    return exports.response(out, format)


@router.get(
    "/regions/{code}/events",
    response={200: None, **ERROR_RESPONSES},
    openapi_extra=_FILE_RESPONSE,
)
def events_export(
    request: HttpRequest,
    code: str = Path(
        ...,
        pattern=r"^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$",
        description="a province or smaller region",
    ),
    kind: Literal["scans", "lots"] = "scans",
    first: IsoDate | None = None,
    last: IsoDate | None = None,
    format: ExportFormat = "csv",
):
    """The scan events of the region's parcels (``kind=scans``) or its lots' events
    (``kind=lots``) from ``first`` to ``last`` (local days, default the last 30, at most
    366), oldest first; no names, phones or actors. Streamed; every export is audited."""
    user = require(request, Perm.VIEW_IMPACT)
    exports.check_format(format)
    out = exports.event_table(
        scope=scope_for_user(user), region_code=code, kind=kind, first=first, last=last
    )
    exports.event_export_audit(user=user, table=out, region_code=code, fmt=format, channel="api")
    return exports.response(out, format)


class RollupRowOut(Schema):
    county_code: str
    month: str
    parcels: int
    weight_g: int
    sales_fen: int
    sales_units: int


class RollupOut(Schema):
    source: str
    snapshot_built_at: str | None
    first: str
    last: str
    rows: list[RollupRowOut]


@router.get("/rollup", response={200: RollupOut, **ERROR_RESPONSES})
def rollup(
    request: HttpRequest,
    region: str = Query("", pattern=REGION_CODE_OR_EMPTY),
    first: str = Query("", pattern=MONTH_PATTERN, description="YYYY-MM"),
    last: str = Query("", pattern=MONTH_PATTERN, description="YYYY-MM"),
    source: Literal["", "columnar", "database"] = "",
):
    """Parcels that reached a village station (count, weight) and sales (fen, units) by
    county and month, for the caller's scope or ``region`` within it; ``first`` /
    ``last`` ``YYYY-MM`` (default the last 12 months). Read from the columnar snapshot
    when one exists (``snapshot_built_at`` says how fresh), else from the database;
    ``source=database`` forces the database."""
    user = require(request, Perm.VIEW_IMPACT)
    scope = scope_for_user(user)
    if region:
        region = selectors.region_get(scope=scope, code=region).code  # CN -> "" (the nation)
    lo, end = columnar.check_months(first, last)
    used, rows = columnar.rollup(scope=scope, region=region, first=lo, end=end, source=source)
    info = columnar.snapshot_info() if used == "columnar" else None
    return {
        "source": used,
        "snapshot_built_at": (info or {}).get("built_at"),
        "first": f"{lo:%Y-%m}",
        "last": f"{end - dt.timedelta(days=1):%Y-%m}",
        "rows": rows,
    }
