"""The bulk path: many sales (payment + settlement) of one county at once, with the same
rules and checks as :func:`services.payment_receive` and :func:`services.sale_settle`,
computed set-wise (docs/adr/0013-double-entry-ledger.md).

- every row is validated first; any invalid row: ``invalid_rows`` listing them, nothing
  posted; keys must be unique within the call;
- a key already posted with the same request is skipped (the digests are those of the
  per-call services, so either path recognises the other's postings); with another
  request: ``idempotency_conflict``, nothing posted;
- accounts are created in bulk, locked once in primary-key order; the sale split and its
  rounding are :func:`services.sale_split`; a sale still needs the buyer to hold its
  gross (a running balance over the rows, in order) — ``not_paid`` otherwise;
- transactions and lines are inserted with multi-row INSERTs in chunks (the lines carry
  the ids the transactions' INSERT returned); each account's balance is updated once
  with the sum of its lines. One database transaction per call.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from cunzhan.core.audit import audit_record
from cunzhan.core.errors import ApplicationError
from cunzhan.ledger import services
from cunzhan.ledger.models import (
    CURRENCY,
    Account,
    AccountKind,
    Line,
    Transaction,
    TransactionKind,
)
from cunzhan.network.models import Region, Station

CHUNK = 2000
MAX_ROWS = 50_000
MAX_ERRORS = 50


@dataclass(frozen=True)
class SaleRow:
    """A delivered sale and the payment that paid it."""

    payment_key: str
    sale_key: str
    buyer_key: str
    buyer_label: str
    producer_key: str
    producer_label: str
    station: Station | None
    gross_fen: int
    provider: str = "sandbox"
    occurred_at: dt.datetime | None = None


@dataclass
class BulkResult:
    transactions: int = 0
    lines: int = 0
    skipped: int = 0
    gross_fen: int = 0


TX_COLUMNS = (
    "uuid",
    "county_id",
    "kind",
    "memo",
    "idempotency_key",
    "digest",
    "currency",
    "gross_fen",
    "occurred_at",
    "created_at",
    "actor_id",
)
LINE_COLUMNS = ("transaction_id", "account_id", "amount_fen", "occurred_at")
ROWS_PER_INSERT = 500


def _uuid_adapter() -> Any:
    """uuid -> what the database stores (PostgreSQL: a uuid; SQLite: 32 hex digits)."""
    field = Transaction._meta.get_field("uuid")
    return lambda value: field.get_db_prep_value(value, connection)


def _dt_db(value: dt.datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _values_sql(table: str, columns: Sequence[str], n: int, returning: bool = False) -> str:
    qn = connection.ops.quote_name
    row = "(" + ",".join(["%s"] * len(columns)) + ")"
    # table and column names are the models' own, quoted; every value is a parameter
    sql = f"INSERT INTO {qn(table)} ({','.join(qn(c) for c in columns)}) VALUES "  # noqa: S608
    return sql + ",".join([row] * n) + (f" RETURNING {qn('id')}" if returning else "")


def _insert_transactions(rows: list[tuple[Any, ...]]) -> list[int]:
    """Insert the transactions and return their ids, in order. PostgreSQL: ids drawn
    from the table's sequence, then ``COPY``; SQLite: multi-row ``INSERT … RETURNING
    id``. (Django's ``bulk_create`` builds a model instance and prepares every field of
    every row, which was most of the time at a month's volume.)"""
    table = Transaction._meta.db_table
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, len(rows)],
            )
            ids = [int(r[0]) for r in cur.fetchall()]
            columns = ",".join(qn(c) for c in ("id", *TX_COLUMNS))
            with cur.cursor.copy(f"COPY {qn(table)} ({columns}) FROM STDIN") as copy:
                for tx_id, row in zip(ids, rows, strict=True):
                    copy.write_row((tx_id, *row))
            return ids
        ids = []
        for chunk in _chunks(rows, ROWS_PER_INSERT):
            cur.execute(
                _values_sql(table, TX_COLUMNS, len(chunk), returning=True),
                [v for row in chunk for v in row],
            )
            ids += [r[0] for r in cur.fetchall()]
    return ids


def _insert_lines(rows: list[tuple[Any, ...]]) -> None:
    table = Line._meta.db_table
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            columns = ",".join(qn(c) for c in LINE_COLUMNS)
            with cur.cursor.copy(f"COPY {qn(table)} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        for chunk in _chunks(rows, ROWS_PER_INSERT * 2):
            cur.execute(
                _values_sql(table, LINE_COLUMNS, len(chunk)), [v for row in chunk for v in row]
            )


def _add_to_balances(deltas: dict[int, int]) -> None:
    """``balance_fen += delta`` per account (locked by the caller), in id order."""
    items = sorted((pk, d) for pk, d in deltas.items() if d)
    if connection.vendor != "postgresql":
        for pk, delta in items:
            Account.objects.filter(pk=pk).update(balance_fen=F("balance_fen") + delta)
        return
    table = connection.ops.quote_name(Account._meta.db_table)
    with connection.cursor() as cur:
        for chunk in _chunks(items, 1000):
            values = ",".join(["(%s::bigint, %s::bigint)"] * len(chunk))
            cur.execute(
                f"UPDATE {table} AS a SET balance_fen = a.balance_fen + v.d "  # noqa: S608
                f"FROM (VALUES {values}) AS v(id, d) WHERE a.id = v.id",
                [x for pair in chunk for x in pair],
            )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _validate(region: Region, rows: Sequence[SaleRow]) -> None:
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, row in enumerate(rows, start=1):
        try:
            services.key_check(row.payment_key, "payment_key")
            services.key_check(row.sale_key, "sale_key")
            services.amount_check(row.gross_fen, "gross_fen")
            services._provider_check(row.provider)
            for name in ("buyer_key", "producer_key"):
                value = getattr(row, name)
                if not isinstance(value, str) or not value.strip() or len(value) > 120:
                    raise ApplicationError(f"{name}: 1 to 120 characters", code="invalid_owner_key")
            if row.station is not None and not row.station.region_id.startswith(region.code):
                raise ApplicationError(
                    f"station {row.station.code} is not in county {region.code}",
                    code="station_not_in_county",
                )
            if row.occurred_at is not None:
                services._when(row.occurred_at)
            for key in (row.payment_key, row.sale_key):
                if key in seen:
                    raise ApplicationError(f"key {key!r} twice in this call", code="duplicate_key")
                seen.add(key)
        except ApplicationError as exc:
            errors.append({"row": i, "code": exc.code, "message": exc.message})
            if len(errors) >= MAX_ERRORS:
                break
    if errors:
        raise ApplicationError(
            f"{len(errors)} invalid row(s), nothing posted; first: row {errors[0]['row']}: "
            f"{errors[0]['message']}",
            code="invalid_rows",
            details={"errors": errors},
        )


ACCOUNT_COLUMNS = (
    "uuid",
    "key",
    "kind",
    "county_id",
    "owner_key",
    "label",
    "station_id",
    "currency",
    "balance_fen",
    "created_at",
    "updated_at",
)


def accounts_bulk(region: Region, specs: dict[str, dict[str, Any]]) -> dict[str, int]:
    """The ids of the accounts with these keys (``key -> kind, owner_key, label,
    station``), created if missing with ``INSERT … ON CONFLICT (key) DO NOTHING RETURNING``
    (an account created meanwhile by another caller is looked up)."""
    found: dict[str, int] = {}
    keys = list(specs)
    for chunk in _chunks(keys, 900):
        found.update(Account.objects.filter(key__in=list(chunk)).values_list("key", "pk"))
    missing = [k for k in keys if k not in found]
    if not missing:
        return found
    uuid_db = _uuid_adapter()
    now = _dt_db(timezone.now())
    rows = []
    for k in missing:
        spec = specs[k]
        station = spec.get("station")
        rows.append(
            (
                uuid_db(uuid.uuid4()),
                k,
                str(spec["kind"]),
                region.code,
                spec.get("owner_key", ""),
                spec.get("label", "")[:200],
                station.pk if station is not None else None,
                CURRENCY,
                0,
                now,
                now,
            )
        )
    qn = connection.ops.quote_name
    with connection.cursor() as cur:
        for chunk in _chunks(rows, ROWS_PER_INSERT):
            sql = _values_sql(Account._meta.db_table, ACCOUNT_COLUMNS, len(chunk))
            cur.execute(
                sql + f" ON CONFLICT ({qn('key')}) DO NOTHING RETURNING {qn('key')}, {qn('id')}",
                [v for row in chunk for v in row],
            )
            found.update((key, int(pk)) for key, pk in cur.fetchall())
    late = [k for k in missing if k not in found]
    for chunk in _chunks(late, 900):
        found.update(Account.objects.filter(key__in=list(chunk)).values_list("key", "pk"))
    return found


def sales_post_bulk(
    *, county: Region | str, sales: Sequence[SaleRow], actor: Any = None
) -> BulkResult:
    """Post each row's payment and settlement (see the module docstring)."""
    region = services.county_resolve(county)
    if len(sales) > MAX_ROWS:
        raise ApplicationError(f"at most {MAX_ROWS} rows per call", code="too_many_rows")
    _validate(region, sales)
    rules = services.settlement_rules(county=region)
    c = region.code

    def buyer_key(r: SaleRow) -> str:
        return f"{c}:{AccountKind.BUYER}:{r.buyer_key}"

    def producer_kind(r: SaleRow) -> str:
        return (
            AccountKind.COOPERATIVE
            if r.producer_key.startswith("cooperative:")
            else AccountKind.PRODUCER
        )

    def producer_key(r: SaleRow) -> str:
        return f"{c}:{producer_kind(r)}:{r.producer_key}"

    specs: dict[str, dict[str, Any]] = {
        f"{c}:{AccountKind.PLATFORM}": {"kind": AccountKind.PLATFORM, "label": "平台收入"}
    }
    for r in sales:
        specs.setdefault(
            buyer_key(r),
            {"kind": AccountKind.BUYER, "owner_key": r.buyer_key, "label": r.buyer_label[:200]},
        )
        specs.setdefault(
            producer_key(r),
            {
                "kind": producer_kind(r),
                "owner_key": r.producer_key,
                "label": r.producer_label[:200],
            },
        )
        specs.setdefault(
            f"{c}:{AccountKind.PROVIDER_CLEARING}:{r.provider}",
            {"kind": AccountKind.PROVIDER_CLEARING, "owner_key": r.provider, "label": r.provider},
        )
        if r.station is not None:
            specs.setdefault(
                f"{c}:station:{r.station.pk}",
                {"kind": AccountKind.STATION, "station": r.station, "label": r.station.name},
            )

    def run() -> BulkResult:
        result = BulkResult()
        accounts = accounts_bulk(region, specs)
        uuid_db = _uuid_adapter()
        platform = accounts[f"{c}:{AccountKind.PLATFORM}"]
        with transaction.atomic():
            locked: dict[int, int] = {}  # account id -> balance, locked
            for chunk in _chunks(sorted(accounts.values()), 900):
                locked.update(
                    Account.objects.select_for_update()
                    .filter(pk__in=list(chunk))
                    .order_by("pk")
                    .values_list("pk", "balance_fen")
                )
            existing: dict[str, str] = {}
            all_keys = [k for r in sales for k in (r.payment_key, r.sale_key)]
            for chunk in _chunks(all_keys, 900):
                existing.update(
                    Transaction.objects.filter(idempotency_key__in=list(chunk)).values_list(
                        "idempotency_key", "digest"
                    )
                )
            deltas: dict[int, int] = defaultdict(int)
            held: dict[int, int] = {}  # buyer account -> what it holds, running
            now = timezone.now()
            now_db = _dt_db(now)
            actor_id = actor.pk if getattr(actor, "is_authenticated", False) else None
            pending: list[tuple[tuple[Any, ...], list[tuple[int, int]]]] = []

            def flush() -> None:
                if not pending:
                    return
                ids = _insert_transactions([t for t, _ in pending])
                lines = [
                    (tx_id, a, x, t[8])
                    for tx_id, (t, ls) in zip(ids, pending, strict=True)
                    for a, x in ls
                ]
                _insert_lines(lines)
                result.transactions += len(pending)
                result.lines += len(lines)
                pending.clear()

            def add(
                kind: str, key: str, digest: str, lines: list[tuple[int, int]], r: SaleRow, at: Any
            ) -> None:
                if key in existing:
                    if existing[key] != digest:
                        raise ApplicationError(
                            f"idempotency key {key!r} was used for another posting",
                            code="idempotency_conflict",
                            details={"idempotency_key": key},
                            status=409,
                        )
                    result.skipped += 1
                    return
                for a, x in lines:
                    deltas[a] += x
                pending.append(
                    (
                        (
                            uuid_db(uuid.uuid4()),
                            c,
                            kind,
                            f"{kind} {r.gross_fen} fen",
                            key,
                            digest,
                            CURRENCY,
                            r.gross_fen,
                            at,
                            now_db,
                            actor_id,
                        ),
                        lines,
                    )
                )
                if len(pending) >= CHUNK:
                    flush()

            for r in sales:
                buyer = accounts[buyer_key(r)]
                producer = accounts[producer_key(r)]
                clearing = accounts[f"{c}:{AccountKind.PROVIDER_CLEARING}:{r.provider}"]
                station_acct = accounts[f"{c}:station:{r.station.pk}"] if r.station else None
                at = _dt_db(r.occurred_at) if r.occurred_at else now_db
                if buyer not in held:
                    held[buyer] = -locked[buyer]
                pay_lines = [(clearing, r.gross_fen), (buyer, -r.gross_fen)]
                pay_digest = services.lines_digest(TransactionKind.PAYMENT, c, pay_lines)
                if r.payment_key not in existing:
                    held[buyer] += r.gross_fen
                add(TransactionKind.PAYMENT, r.payment_key, pay_digest, pay_lines, r, at)
                split = services.sale_split(
                    gross_fen=r.gross_fen,
                    platform_fee_bp=rules.platform_fee_bp,
                    station_commission_bp=rules.station_commission_bp if r.station else 0,
                )
                sale_digest = services._digest(
                    ["sale", c, r.gross_fen, producer, buyer, getattr(r.station, "pk", None)]
                )
                raw = [
                    (buyer, r.gross_fen),
                    (producer, -split.producer_fen),
                    (platform, -split.platform_fee_fen),
                ]
                if station_acct is not None:
                    raw.append((station_acct, -split.station_commission_fen))
                sale_lines = [(a, x) for a, x in raw if x != 0]
                if r.sale_key not in existing:
                    if held[buyer] < r.gross_fen:
                        raise ApplicationError(
                            f"sale {r.sale_key!r}: buyer {r.buyer_key!r} holds "
                            f"{held[buyer]} fen, less than {r.gross_fen}",
                            code="not_paid",
                            details={"sale_key": r.sale_key},
                        )
                    held[buyer] -= r.gross_fen
                    result.gross_fen += r.gross_fen
                add(TransactionKind.SALE, r.sale_key, sale_digest, sale_lines, r, at)
            flush()
            _add_to_balances(deltas)
            audit_record(
                action="import",
                object_type="ledger.SalesBulk",
                object_id=region.code,
                object_repr=f"{len(sales)} sales",
                region_code=region.code,
                after={
                    "transactions": result.transactions,
                    "skipped": result.skipped,
                    "gross_fen": result.gross_fen,
                },
                actor=actor,
            )
        return result

    return services._retry(run)
