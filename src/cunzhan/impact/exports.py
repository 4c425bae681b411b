"""Exports of the dashboards' tables and of the raw event history, in CSV, XLSX and
Parquet (docs/adr/0021-exports-and-columnar-snapshot.md).

* ``indicator_table``: an indicator's cells for a region's children (one row per child
  and period) or for the region itself (its series), exactly the cells the dashboard
  shows (through the same selectors, inside the caller's scope).
* ``event_table``: the scan events of the parcels of a region (or the lot events of its
  lots) in a date range, without personal data (no names, phones, actors, devices).

Every table is an iterator of rows; the writers stream it: CSV as a streaming response
(a chunk per 500 rows), XLSX through openpyxl's write-only workbook into a temporary
file, Parquet in row groups of ``BATCH_ROWS`` rows into a temporary file. Memory holds
one batch, never the whole table.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse
from django.utils import timezone

from cunzhan.core import tabular
from cunzhan.core.audit import audit_record
from cunzhan.core.errors import ApplicationError, Unprocessable
from cunzhan.core.scope import RegionScope, prefix_q
from cunzhan.impact import periods, selectors
from cunzhan.impact.models import Indicator
from cunzhan.impact.sources import day_bounds, tz

BATCH_ROWS = 10_000
CSV_CHUNK = 500
MAX_EVENT_DAYS = 366
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
TABLES = ("children", "series")
EVENT_KINDS = ("scans", "lots")


@dataclass
class ExportTable:
    filename: str  # without the extension
    columns: list[tuple[str, pa.DataType]]
    rows: Iterable[tuple[Any, ...]]

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(self.columns)


# --- input ----------------------------------------------------------------------------------------


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ApplicationError(
            f"format: one of {', '.join(FORMATS)}, got {fmt[:20]!r}",
            code="invalid_format",
            details={"format": fmt[:20]},
        )
    return fmt


def event_range(
    first: dt.date | None, last: dt.date | None, today: dt.date | None = None
) -> tuple[dt.date, dt.date]:
    """The days of an event export: default the last 30 days; at most a year."""
    today = today or timezone.localdate()
    last = last or today
    first = first or last - dt.timedelta(days=29)
    if first > last or (last - first).days >= MAX_EVENT_DAYS:
        raise Unprocessable(
            f"the date range {first}..{last} is out of range: first on or before last, "
            f"at most {MAX_EVENT_DAYS} days",
            code="period_out_of_range",
            details={"first": str(first), "last": str(last)},
        )
    if first < periods.MIN_DATE or last > today + dt.timedelta(days=366):
        raise Unprocessable(
            f"the date range {first}..{last} is out of range (from {periods.MIN_DATE})",
            code="period_out_of_range",
            details={"first": str(first), "last": str(last)},
        )
    return first, last


# --- tables ---------------------------------------------------------------------------------------

CELL_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("indicator", pa.string()),
    ("region_code", pa.string()),
    ("region_name", pa.string()),
    ("period_type", pa.string()),
    ("period_start", pa.date32()),
    ("numerator", pa.int64()),
    ("denominator", pa.int64()),
    ("value", pa.float64()),
]


def indicator_table(
    *,
    scope: RegionScope,
    indicator: Indicator,
    region_code: str,
    table: str,
    period_type: str = "",
    start: dt.date | None = None,
    end: dt.date | None = None,
    today: dt.date | None = None,
) -> ExportTable:
    """The dashboard's table: ``series`` (the region, one row per period) or
    ``children`` (its child regions, one row per child and period)."""
    if table not in TABLES:
        raise ApplicationError(
            f"table: 'children' or 'series', got {table[:20]!r}", code="invalid_table"
        )
    region = selectors.region_get(scope=scope, code=region_code)
    pt = selectors.check_period_type(indicator, period_type)
    d_first, d_last = selectors.default_range(pt, today or timezone.localdate())
    starts = periods.period_starts(start or d_first, end or d_last, pt)

    def row(c: Any) -> tuple[Any, ...]:
        return (
            indicator.code,
            c.region_code,
            c.region_name,
            pt,
            c.period_start,
            c.numerator,
            c.denominator,
            c.value,
        )

    if table == "series":
        cells = selectors.value_series(
            scope=scope,
            indicator=indicator,
            region_code=region.code,
            period_type=pt,
            start=starts[0],
            end=starts[-1],
        )
        rows: Iterable[tuple[Any, ...]] = [row(c) for c in cells]
    else:

        def children_rows() -> Iterator[tuple[Any, ...]]:
            for ps in starts:
                _r, children = selectors.children_values(
                    scope=scope,
                    indicator=indicator,
                    region_code=region.code,
                    period_type=pt,
                    period_start=ps,
                )
                yield from (row(c) for c in children)

        rows = children_rows()
    return ExportTable(
        filename=f"{indicator.code}_{selectors.url_code(region.code)}_{table}_{pt}_{starts[0]}_{starts[-1]}",
        columns=CELL_COLUMNS,
        rows=rows,
    )


LOCAL_TS = pa.timestamp("us", tz="Asia/Shanghai")
SCAN_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("event_id", pa.string()),
    ("occurred_at", LOCAL_TS),
    ("type", pa.string()),
    ("parcel", pa.string()),  # the parcel's uuid
    ("carrier", pa.string()),
    ("tracking_number", pa.string()),
    ("direction", pa.string()),
    ("village_code", pa.string()),
    ("station_code", pa.string()),
    ("event_region_code", pa.string()),
    ("weight_g", pa.int64()),
]
LOT_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("event_id", pa.string()),
    ("occurred_at", LOCAL_TS),
    ("type", pa.string()),
    ("lot_code", pa.string()),
    ("product", pa.string()),
    ("village_code", pa.string()),
    ("event_region_code", pa.string()),
    ("source", pa.string()),
]


def _scan_rows(scope: RegionScope, code: str, lo: dt.datetime, hi: dt.datetime) -> Iterator:
    from cunzhan.logistics.models import ScanEvent
    from cunzhan.logistics.selectors import parcels_in_scope

    parcels = parcels_in_scope(scope=scope).filter(prefix_q("village_id", code))
    qs = (
        ScanEvent.objects.filter(parcel__in=parcels, occurred_at__gte=lo, occurred_at__lt=hi)
        .order_by("occurred_at", "event_id")
        .values_list(
            "event_id",
            "occurred_at",
            "type",
            "parcel__uuid",
            "parcel__carrier__code",
            "parcel__tracking_number",
            "parcel__direction",
            "parcel__village_id",
            "station__code",
            "region_id",
            "parcel__weight_g",
        )
    )
    z = tz()
    for r in qs.iterator(chunk_size=2000):
        yield (r[0], r[1].astimezone(z), r[2], str(r[3]), *r[4:8], r[8] or "", r[9] or "", r[10])


def _lot_rows(scope: RegionScope, code: str, lo: dt.datetime, hi: dt.datetime) -> Iterator:
    from cunzhan.commerce.models import LotEvent
    from cunzhan.commerce.selectors import lots_in_scope

    lots = lots_in_scope(scope=scope).filter(prefix_q("village_id", code))
    qs = (
        LotEvent.objects.filter(lot__in=lots, occurred_at__gte=lo, occurred_at__lt=hi)
        .order_by("occurred_at", "id")
        .values_list(
            "event_id",
            "occurred_at",
            "type",
            "lot__code",
            "lot__product__code",
            "lot__village_id",
            "region_id",
            "source",
        )
    )
    z = tz()
    for r in qs.iterator(chunk_size=2000):
        yield (str(r[0]), r[1].astimezone(z), r[2], r[3], r[4], r[5], r[6] or "", r[7])


def event_table(
    *,
    scope: RegionScope,
    region_code: str,
    kind: str,
    first: dt.date | None = None,
    last: dt.date | None = None,
    today: dt.date | None = None,
) -> ExportTable:
    """The raw event history of a region: parcel scan events (``scans``) or lot events
    (``lots``), from ``first`` to ``last`` (local days), oldest first."""
    if kind not in EVENT_KINDS:
        raise ApplicationError(f"kind: 'scans' or 'lots', got {kind[:20]!r}", code="invalid_kind")
    region = selectors.region_get(scope=scope, code=region_code)
    if not region.code:
        raise Unprocessable(
            "the raw event history is exported per province or smaller region; choose a province",
            code="region_too_large",
        )
    first, last = event_range(first, last, today)
    lo, hi = day_bounds(first, last)
    inner = scope.narrowed_to(region.code)
    if kind == "scans":
        return ExportTable(
            f"scans_{region.code}_{first}_{last}",
            SCAN_COLUMNS,
            _scan_rows(inner, region.code, lo, hi),
        )
    return ExportTable(
        f"lot-events_{region.code}_{first}_{last}",
        LOT_COLUMNS,
        _lot_rows(inner, region.code, lo, hi),
    )


def event_export_audit(
    *, user: Any, table: ExportTable, region_code: str, fmt: str, channel: str
) -> None:
    """The raw history is personal-adjacent (tracking numbers identify parcels): every
    export of it is logged."""
    audit_record(
        action="export",
        object_type="impact.EventExport",
        object_id=table.filename,
        object_repr=f"{table.filename}.{fmt}",
        region_code=region_code,
        note=f"event history export ({channel})",
        actor=user,
    )


# --- writers --------------------------------------------------------------------------------------


def _batches(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for r in rows:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def csv_chunks(table: ExportTable) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark (spreadsheet programs then read the Chinese names),
    a chunk per ``CSV_CHUNK`` rows, written by the shared writer (formula-looking text
    escaped, ``core/tabular.py``)."""
    header = [c for c, _t in table.columns]
    for text in tabular.csv_rows(header, table.rows, chunk=CSV_CHUNK):
        yield text.encode()


def write_xlsx(table: ExportTable, out: Any) -> None:
    """Through the shared writer: openpyxl's write-only workbook, text escaped."""
    tabular.xlsx_write(
        out, sheet=table.filename, header=[c for c, _t in table.columns], rows=table.rows
    )


def write_parquet(table: ExportTable, out: Any, batch: int | None = None) -> None:
    """One row group per ``batch`` rows (default ``BATCH_ROWS``)."""
    batch = batch or BATCH_ROWS
    schema = table.schema
    with pq.ParquetWriter(out, schema, compression="zstd") as writer:
        wrote = False
        for rows in _batches(table.rows, batch):
            cols = list(zip(*rows, strict=True))
            writer.write_table(
                pa.Table.from_arrays(
                    [pa.array(c, type=f.type) for c, f in zip(cols, schema, strict=True)],
                    schema=schema,
                )
            )
            wrote = True
        if not wrote:
            writer.write_table(schema.empty_table())


def response(table: ExportTable, fmt: str) -> HttpResponseBase:
    """The download: a streamed CSV, or an XLSX / Parquet file built in a temporary file
    (deleted when the response is closed)."""
    check_format(fmt)
    filename = f"{table.filename}.{fmt}"
    if fmt == "csv":
        resp: HttpResponseBase = StreamingHttpResponse(csv_chunks(table), content_type=FORMATS[fmt])
        resp["Content-Disposition"] = f'attachment; filename="{filename}"'
        return resp
    tmp = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    try:
        (write_xlsx if fmt == "xlsx" else write_parquet)(table, tmp)
        tmp.seek(0)
    except BaseException:
        tmp.close()
        raise
    return FileResponse(tmp, as_attachment=True, filename=filename, content_type=FORMATS[fmt])
