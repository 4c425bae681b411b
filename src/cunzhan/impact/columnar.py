"""The columnar path (docs/adr/0021-exports-and-columnar-snapshot.md).

The operational database (PostgreSQL, or SQLite in development) is the source of truth.
``snapshot_write`` derives two fact tables from it and writes them as Parquet under
``settings.COLUMNAR_DIR``, one directory per county and month::

    parcels/county=520204/month=2026-10/part-0.parquet
    sales/county=520204/month=2026-10/part-0.parquet
    manifest.json   (when each county was written, how many rows)

* **parcels**: one row per parcel going down: county, village, station code, carrier,
  weight (g), and the local days it was received at the county centre, reached its
  station and was picked up (first scan of each type). Partition month: the month it
  reached the station (else received, else announced).
* **sales**: one row per allocation of a paid, not cancelled order (the sales report's
  definition, ``commerce.orders_selectors.sales_report``): county and village of the lot,
  local day of payment, quantity, amount (fen = units × unit price), product code.

``rollup_columnar`` runs the national (or a region's) rollup of parcels and sales by
county and month with DuckDB over those files; ``rollup_database`` computes the same
rollup on the operational tables. The snapshot is rebuildable at any time
(``cunzhan columnar-export``) and may be behind the database by the time since it was
written: ``snapshot_info`` says when.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db.models import Count, F, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Substr, TruncMonth
from django.utils import timezone

from cunzhan.core.errors import ApplicationError, NotFound, Unprocessable
from cunzhan.core.scope import RegionScope, prefix_q
from cunzhan.core.validation import is_ascii_digits
from cunzhan.impact.sources import tz

BATCH_ROWS = 50_000  # rows buffered per month before a row group is written
MAX_MONTHS = 120

PARCEL_SCHEMA = pa.schema(
    [
        ("county", pa.string()),
        ("village", pa.string()),
        ("station", pa.string()),
        ("carrier", pa.string()),
        ("weight_g", pa.int64()),
        ("received_day", pa.date32()),
        ("at_station_day", pa.date32()),
        ("picked_up_day", pa.date32()),
    ]
)
SALE_SCHEMA = pa.schema(
    [
        ("county", pa.string()),
        ("village", pa.string()),
        ("day", pa.date32()),
        ("quantity", pa.int64()),
        ("amount_fen", pa.int64()),
        ("product", pa.string()),
    ]
)
TABLES = {"parcels": PARCEL_SCHEMA, "sales": SALE_SCHEMA}


@dataclass(frozen=True)
class RollupRow:
    county_code: str
    month: str  # YYYY-MM
    parcels: int
    weight_g: int
    sales_fen: int
    sales_units: int


def root_dir(root: Path | str | None = None) -> Path:
    return Path(root) if root is not None else Path(settings.COLUMNAR_DIR)


# --- facts from the operational database ---------------------------------------------------------


def _local_day(value: dt.datetime | None) -> dt.date | None:
    return value.astimezone(tz()).date() if value is not None else None


def parcel_facts(county: str) -> Iterator[tuple[Any, ...]]:
    """(county, village, station, carrier, weight_g, received_day, at_station_day,
    picked_up_day) of each parcel going down in the county, streamed from the database."""
    from cunzhan.logistics.models import Parcel

    def first(event_type: str) -> Min:
        return Min("events__occurred_at", filter=Q(events__type=event_type))

    qs = (
        Parcel.objects.filter(prefix_q("village_id", county), direction="down")
        .annotate(
            recv=first("received_at_county"), at=first("at_station"), picked=first("picked_up")
        )
        .order_by()
        .values_list(
            "village_id",
            "station__code",
            "carrier__code",
            "weight_g",
            "created_at",
            "recv",
            "at",
            "picked",
        )
    )
    for village, station, carrier, weight, created, recv, at, picked in qs.iterator(5000):
        yield (
            county,
            village,
            station or "",
            carrier,
            weight,
            _local_day(recv),
            _local_day(at),
            _local_day(picked),
            # partition month: reached the station, else received, else announced
            _local_day(at or recv or created),
        )


def sale_facts(county: str) -> Iterator[tuple[Any, ...]]:
    """(county, village, day, quantity, amount_fen, product) of each allocation of a paid,
    not cancelled order whose lot comes from the county."""
    from cunzhan.commerce.orders_models import OrderAllocation
    from cunzhan.commerce.orders_selectors import SOLD_STATES

    qs = (
        OrderAllocation.objects.filter(
            prefix_q("lot__village_id", county),
            released=False,
            line__order__state__in=SOLD_STATES,
            line__order__paid_at__isnull=False,
        )
        .order_by()
        .values_list(
            "lot__village_id",
            "line__order__paid_at",
            "quantity",
            "line__unit_price_fen",
            "line__product__code",
        )
    )
    for village, paid_at, quantity, unit_fen, product in qs.iterator(5000):
        day = _local_day(paid_at)
        yield (county, village, day, quantity, quantity * unit_fen, product, day)


# --- writing the snapshot ---------------------------------------------------------------


class PartitionedWriter:
    """Rows of one table for one county, written to one Parquet file per month in row
    groups of ``batch`` rows: memory holds at most ``batch`` rows per open month."""

    def __init__(self, base: Path, schema: pa.Schema, county: str, batch: int = BATCH_ROWS):
        self.base, self.schema, self.county, self.batch = base, schema, county, batch
        self.buffers: dict[str, list[tuple[Any, ...]]] = {}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows = 0

    def add(self, row: tuple[Any, ...], day: dt.date) -> None:
        month = f"{day.year:04d}-{day.month:02d}"
        buf = self.buffers.setdefault(month, [])
        buf.append(row)
        self.rows += 1
        if len(buf) >= self.batch:
            self._flush(month)

    def _flush(self, month: str) -> None:
        buf = self.buffers.get(month)
        if not buf:
            return
        columns = list(zip(*buf, strict=True))
        table = pa.Table.from_arrays(
            [pa.array(col, type=f.type) for col, f in zip(columns, self.schema, strict=True)],
            schema=self.schema,
        )
        writer = self.writers.get(month)
        if writer is None:
            path = self.base / f"county={self.county}" / f"month={month}" / "part-0.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(path, self.schema, compression="zstd")
            self.writers[month] = writer
        writer.write_table(table, row_group_size=self.batch)
        self.buffers[month] = []

    def close(self) -> None:
        for month in list(self.buffers):
            self._flush(month)
        for writer in self.writers.values():
            writer.close()


def write_county(
    base: Path, table: str, county: str, facts: Iterable[tuple[Any, ...]], batch: int = BATCH_ROWS
) -> int:
    """Write ``facts`` (each row followed by its partition day) under ``base/table``."""
    writer = PartitionedWriter(base / table, TABLES[table], county, batch)
    try:
        for *row, day in facts:
            writer.add(tuple(row), day)
    finally:
        writer.close()
    return writer.rows


def _counties(region: str) -> list[str]:
    from cunzhan.network.models import Region

    if region:
        if not (is_ascii_digits(region) and len(region) in (2, 4, 6, 9, 12)):
            raise ApplicationError(
                f"region: a 2, 4, 6, 9 or 12-digit region code, got {region[:20]!r}",
                code="invalid_region",
            )
        if len(region) >= 6:
            return [region[:6]]
        qs = Region.objects.filter(prefix_q("code", region))
    else:
        qs = Region.objects.all()
    return sorted(qs.filter(level=3).values_list("code", flat=True))


def _manifest(root: Path) -> dict[str, Any]:
    path = root / "manifest.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def snapshot_write(*, root: Path | str | None = None, region: str = "") -> dict[str, Any]:
    """(Re)write the snapshot of every county (or those of ``region``) from the database.

    Each county is written to a staging directory first and then swapped in, so a
    reader sees a county's old files or its new ones, never half of them. A full export
    removes the counties that no longer exist. Returns the manifest."""
    root = root_dir(root)
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".staging-{uuid.uuid4().hex[:8]}"
    counties = _counties(region)
    manifest = _manifest(root)
    written = manifest.setdefault("counties", {})
    try:
        for county in counties:
            started = dt.datetime.now(dt.UTC)
            n_p = write_county(staging, "parcels", county, parcel_facts(county))
            n_s = write_county(staging, "sales", county, sale_facts(county))
            for table in TABLES:
                new = staging / table / f"county={county}"
                old = root / table / f"county={county}"
                trash = staging / "old" / table / f"county={county}"
                if old.exists():
                    trash.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(old, trash)
                if new.exists():
                    old.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(new, old)
            written[county] = {
                "parcels": n_p,
                "sales": n_s,
                "built_at": started.isoformat(timespec="seconds"),
            }
        if not region:
            for table in TABLES:
                for d in (root / table).glob("county=*") if (root / table).exists() else []:
                    if d.name.removeprefix("county=") not in counties:
                        shutil.rmtree(d)
            for county in [c for c in written if c not in counties]:
                del written[county]
        manifest["built_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        tmp = root / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
        os.replace(tmp, root / "manifest.json")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def snapshot_info(root: Path | str | None = None) -> dict[str, Any] | None:
    """The manifest of the snapshot, None when there is none."""
    manifest = _manifest(root_dir(root))
    return manifest or None


# --- the rollup -------------------------------------------------------------------------


def check_months(first: str, last: str, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """``YYYY-MM`` bounds (default: the last 12 months) as [first day, day after last)."""
    today = today or timezone.localdate()

    def parse(name: str, raw: str) -> dt.date:
        try:
            y, m = raw.split("-")
            return dt.date(int(y), int(m), 1)
        except ValueError as exc:
            raise ApplicationError(
                f"{name}: a month YYYY-MM, got {raw[:20]!r}",
                code="invalid_month",
                details={"field": name},
            ) from exc

    hi = parse("last", last) if last else today.replace(day=1)
    a_year_back = dt.date(hi.year - 1 + (hi.month == 12), hi.month % 12 + 1, 1)
    lo = parse("first", first) if first else a_year_back
    months = (hi.year - lo.year) * 12 + hi.month - lo.month + 1
    if months < 1 or months > MAX_MONTHS or lo.year < 2000:
        raise Unprocessable(
            f"the month range {lo:%Y-%m}..{hi:%Y-%m} is out of range (at most "
            f"{MAX_MONTHS} months, from 2000, first before last)",
            code="period_out_of_range",
            details={"first": f"{lo:%Y-%m}", "last": f"{hi:%Y-%m}"},
        )
    end = dt.date(hi.year + (hi.month == 12), hi.month % 12 + 1, 1)
    return lo, end


def _prefixes(scope: RegionScope, region: str) -> list[str] | None:
    """The village-code prefixes to keep (None: everything)."""
    if scope.station_ids is not None and not scope.everything:
        raise NotFound()  # station-narrowed scopes read no rollups
    if region:
        if not scope.contains_code(region):
            raise NotFound()
        return [region]
    return None if scope.everything else list(scope.prefixes)


def _merge(parcels: Iterable[tuple], sales: Iterable[tuple]) -> list[RollupRow]:
    cells: dict[tuple[str, str], list[int]] = {}
    for county, month, n, w in parcels:
        c = cells.setdefault((str(county), month), [0, 0, 0, 0])
        c[0] += int(n)
        c[1] += int(w or 0)
    for county, month, fen, units in sales:
        c = cells.setdefault((str(county), month), [0, 0, 0, 0])
        c[2] += int(fen or 0)
        c[3] += int(units or 0)
    return [RollupRow(k[0], k[1], *v) for k, v in sorted(cells.items())]


def _files(
    root: Path, table: str, prefixes: list[str] | None, lo: dt.date, end: dt.date
) -> list[str]:
    """The partition files a query needs: its counties and months only."""
    months = set()
    d = lo
    while d < end:
        months.add(f"month={d:%Y-%m}")
        d = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    out = []
    base = root / table
    for county_dir in sorted(base.glob("county=*")) if base.exists() else []:
        county = county_dir.name.removeprefix("county=")
        if prefixes is not None and not any(
            county.startswith(p) or p.startswith(county) for p in prefixes
        ):
            continue
        out += [
            str(f) for f in sorted(county_dir.glob("month=*/*.parquet")) if f.parent.name in months
        ]
    return out


def rollup_columnar(
    *,
    scope: RegionScope,
    region: str = "",
    first: dt.date,
    end: dt.date,
    root: Path | str | None = None,
    con: Any = None,
) -> list[RollupRow]:
    """Parcels that reached a station and sales, by county and month, from the Parquet
    snapshot through DuckDB; ``[first, end)`` are month starts."""
    import duckdb

    root = root_dir(root)
    prefixes = _prefixes(scope, region)
    if prefixes == []:
        return []
    con = con or duckdb.connect()
    where = ""
    params: list[Any] = []
    if prefixes is not None and any(len(p) > 6 for p in prefixes):
        # below a county: filter the rows (a county's prefix already chose its files)
        where = " AND (" + " OR ".join("starts_with(village, ?)" for _ in prefixes) + ")"
        params = list(prefixes)
    results: dict[str, list[tuple]] = {"parcels": [], "sales": []}
    # county and month come from the partition directories (hive partitioning: one
    # constant per file, nothing decoded per row); a row's day always lies in its
    # partition's month (parcels: the station day, sales: the day of payment), so
    # grouping by the partition is grouping by the day's month
    source = (
        "read_parquet(?, hive_partitioning = true, "
        "hive_types = {'county': VARCHAR, 'month': VARCHAR})"
    )
    for table, day_col, measures in (
        ("parcels", "at_station_day", "count(*), sum(weight_g)"),
        ("sales", "day", "sum(amount_fen), sum(quantity)"),
    ):
        files = _files(root, table, prefixes, first, end)
        if not files:
            continue
        if first.day == 1 and end.day == 1:
            # whole months: choosing the month partitions was the day filter; only the
            # rows without the day (a parcel that never reached a station is filed under
            # the month it was received or announced) are left out
            days_sql, days = f"{day_col} IS NOT NULL", []
        else:
            days_sql, days = f"{day_col} >= ? AND {day_col} < ?", [first, end]
        sql = (
            f"SELECT county, month, {measures} FROM {source} "  # noqa: S608
            f"WHERE {days_sql}{where} GROUP BY 1, 2"
        )
        results[table] = con.execute(sql, [files, *days, *params]).fetchall()
    return _merge(results["parcels"], results["sales"])


def rollup_database(
    *, scope: RegionScope, region: str = "", first: dt.date, end: dt.date
) -> list[RollupRow]:
    """The same rollup on the operational tables (the source of truth)."""
    from cunzhan.commerce.orders_models import OrderAllocation
    from cunzhan.commerce.orders_selectors import SOLD_STATES
    from cunzhan.impact.sources import day_bounds
    from cunzhan.logistics.models import Parcel, ScanEvent

    prefixes = _prefixes(scope, region)
    if prefixes == []:
        return []
    lo, hi = day_bounds(first, end - dt.timedelta(days=1))

    def within(field: str) -> Q:
        if prefixes is None:
            return Q()
        q = prefix_q(field, prefixes[0])
        for p in prefixes[1:]:
            q |= prefix_q(field, p)
        return q

    reached = (
        ScanEvent.objects.filter(parcel=OuterRef("pk"), type="at_station")
        .order_by("occurred_at", "event_id")
        .values("occurred_at")[:1]
    )
    parcels = (
        Parcel.objects.filter(within("village_id"), direction="down")
        .annotate(at=Subquery(reached))
        .filter(at__gte=lo, at__lt=hi)
        .annotate(month=TruncMonth("at", tzinfo=tz()), county=Substr("village_id", 1, 6))
        .order_by()
        .values("county", "month")
        .annotate(n=Count("id"), w=Sum("weight_g"))
    )
    sales = (
        OrderAllocation.objects.filter(
            within("lot__village_id"),
            released=False,
            line__order__state__in=SOLD_STATES,
            line__order__paid_at__gte=lo,
            line__order__paid_at__lt=hi,
        )
        .annotate(
            month=TruncMonth("line__order__paid_at", tzinfo=tz()),
            county=Substr("lot__village_id", 1, 6),
        )
        .order_by()
        .values("county", "month")
        .annotate(fen=Sum(F("quantity") * F("line__unit_price_fen")), units=Sum("quantity"))
    )

    def month(v: Any) -> str:
        return v.strftime("%Y-%m") if hasattr(v, "strftime") else str(v)[:7]

    return _merge(
        ((r["county"], month(r["month"]), r["n"], r["w"]) for r in parcels),
        ((r["county"], month(r["month"]), r["fen"], r["units"]) for r in sales),
    )


def rollup(
    *, scope: RegionScope, region: str = "", first: dt.date, end: dt.date, source: str = ""
) -> tuple[str, list[RollupRow]]:
    """The rollup from the snapshot when one exists (``source`` "" or "columnar"), else
    (or with ``source="database"``) from the database. Returns (source used, rows)."""
    if source not in ("", "columnar", "database"):
        raise ApplicationError(
            f"source: 'columnar' or 'database', got {source[:20]!r}", code="invalid_source"
        )
    if source != "database" and snapshot_info() is not None:
        return "columnar", rollup_columnar(scope=scope, region=region, first=first, end=end)
    if source == "columnar":
        raise Unprocessable(
            "no columnar snapshot yet: run `cunzhan columnar-export`",
            code="no_snapshot",
        )
    return "database", rollup_database(scope=scope, region=region, first=first, end=end)
