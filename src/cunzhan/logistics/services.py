"""Parcel writes: manifest intake, scan events, pickup codes, hand-out.

Every batch is validated as a whole before anything is written, then applied in one
transaction. Parcels touched by a batch are locked with ``select_for_update`` in a
fixed order (by id) so concurrent batches cannot deadlock; a parcel's state is then
recomputed from all its events by the one state machine (statemachine.py).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import secrets
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, TypeVar

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext

from cunzhan.accounts.roles import Role
from cunzhan.core.audit import audit_record
from cunzhan.core.errors import ApplicationError, Conflict, NotFound, Unprocessable
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import is_ascii_digits
from cunzhan.logistics import scan_rights
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import (
    Carrier,
    ExceptionStatus,
    Parcel,
    ParcelException,
    PickupFailure,
    ScanEvent,
    SizeClass,
    SmsMessage,
    in_states,
)
from cunzhan.logistics.selectors import HANDOUT_EVENT_PREFIX
from cunzhan.network.models import Level, Region, Station, StationKind, StationStatus

logger = logging.getLogger("cunzhan.logistics")
T = TypeVar("T")

MAX_BATCH = 10_000
MAX_WEIGHT_G = 100_000_000  # 100 t: anything above is a typo
MAX_COD_FEN = 10**10
TRACKING_RE = re.compile(r"^[A-Za-z0-9-]{4,40}$")
PHONE_RE = re.compile(r"^\+?[0-9]{7,15}$")
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")  # \Z: no trailing newline
# a hand-out's own id: the prefix, the caller's key, ``:<n>`` for a parcel of several
HANDOUT_ID_MAX = 64 - len(HANDOUT_EVENT_PREFIX) - len(":999")
# a scan's time: not before the platform's era, not days ahead (a device's wrong clock
# would otherwise fix a parcel's final state), and always convertible to UTC
EARLIEST_EVENT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
MAX_CLOCK_AHEAD = dt.timedelta(days=2)


def _err(errors: list[dict[str, Any]], row: int, fld: str, message: str) -> None:
    errors.append({"row": row, "field": fld, "message": message})


def _raise_if(errors: list[dict[str, Any]], what: str, code: str) -> None:
    if errors:
        first = errors[0]
        raise Unprocessable(
            f"{what}: {len(errors)} error(s); first: row {first['row']}, "
            f"{first['field']}: {first['message']}",
            code=code,
            details={"errors": errors[:1000]},
        )


def _visible(scope: RegionScope, parcel: Parcel) -> bool:
    if not scope.contains_code(parcel.village_id):
        return False
    if scope.everything or scope.station_ids is None:
        return True
    return parcel.station_id in scope.station_ids


def _retry_locked(fn: Callable[[], T]) -> T:
    """Run the transaction ``fn``; on SQLite's "table is locked" (the shared-cache memory
    database of the tests answers it at once instead of waiting; a file database waits
    itself: IMMEDIATE transactions with a timeout) try again, nothing having been
    written."""
    for attempt in range(1, 201):
        try:
            return fn()
        except OperationalError as exc:
            if connection.vendor != "sqlite" or "locked" not in str(exc) or attempt == 200:
                raise
            time.sleep(0.02)
    raise AssertionError("unreachable")  # pragma: no cover


# --- SMS ----------------------------------------------------------------------------------


class SmsBackend(Protocol):
    def send(self, *, phone: str, text: str, parcel: Parcel | None = None) -> None: ...


class ConsoleDbSmsBackend:
    """The default: log the message (console) and store it in :class:`SmsMessage`."""

    def send(self, *, phone: str, text: str, parcel: Parcel | None = None) -> None:
        SmsMessage.objects.create(phone=phone, text=text[:300], parcel=parcel)
        logger.info("SMS to %s: %s", phone, text)

    def send_many(self, messages: Sequence[tuple[str, str, Any]]) -> None:
        """Many at once (a batch of arrivals): one statement. ``messages``: (phone,
        text, parcel or anything with the parcel's ``pk``); ``COPY`` on PostgreSQL."""
        now = timezone.now()
        table = connection.ops.quote_name(SmsMessage._meta.db_table)
        with connection.cursor() as cur:
            if connection.vendor == "postgresql":
                raw = cur.cursor
                with raw.copy(  # type: ignore[union-attr]
                    f"COPY {table} (phone, text, parcel_id, created_at) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(["varchar", "varchar", "int8", "timestamptz"])
                    for ph, text, p in messages:
                        copy.write_row((ph, text[:300], getattr(p, "pk", None), now))
            else:
                now_db = connection.ops.adapt_datetimefield_value(now)
                cur.executemany(
                    f"INSERT INTO {table} "  # noqa: S608
                    "(phone, text, parcel_id, created_at) VALUES (%s, %s, %s, %s)",
                    [(ph, text[:300], getattr(p, "pk", None), now_db) for ph, text, p in messages],
                )
        if messages:  # one log record for the batch: the console backend's output
            logger.info("\n".join(f"SMS to {phone}: {text}" for phone, text, _p in messages))


def sms_backend() -> SmsBackend:
    path = getattr(settings, "CUNZHAN_SMS_BACKEND", "")
    if path:
        return import_string(path)()  # type: ignore[no-any-return]
    return ConsoleDbSmsBackend()


# --- carriers -----------------------------------------------------------------------------


def carrier_create(*, code: str, name: str) -> Carrier:
    code = (code or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9_]{2,20}", code):
        raise ApplicationError("carrier code: 2-20 letters or digits", code="invalid_carrier")
    if not (name or "").strip():
        raise ApplicationError("carrier name is required", code="invalid_carrier")
    carrier, _created = Carrier.objects.get_or_create(code=code, defaults={"name": name.strip()})
    return carrier


# the national carriers, always known (also created by migration 0002)
KNOWN_CARRIERS = {
    "ZTO": "中通快递",
    "YTO": "圆通速递",
    "STO": "申通快递",
    "YUNDA": "韵达速递",
    "JT": "极兔速递",
    "EMS": "中国邮政EMS",
    "JD": "京东物流",
    "SF": "顺丰速运",
}


def _carrier(code: str) -> Carrier:
    code = (code or "").strip().upper()
    carrier = Carrier.objects.filter(code=code).first()
    if carrier is None and code in KNOWN_CARRIERS:
        carrier, _created = Carrier.objects.get_or_create(
            code=code, defaults={"name": KNOWN_CARRIERS[code]}
        )
    if carrier is None:
        raise Unprocessable(f"unknown carrier {code!r}", code="unknown_carrier")
    return carrier


# --- manifests ----------------------------------------------------------------------------


@dataclass
class ManifestResult:
    carrier: str
    created: list[Parcel] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # tracking numbers already announced
    unmatched: list[str] = field(default_factory=list)  # tracking numbers without a station


def _int(value: Any, *, low: int, high: int) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[0-9]+\s*", value):
        n = int(value)
    else:
        return None
    return n if low <= n <= high else None


def _clean_row(row: Any, index: int, errors: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not isinstance(row, dict):
        _err(errors, index, "row", "must be an object")
        return None
    before = len(errors)
    out: dict[str, Any] = {}
    tn = str(row.get("tracking_number") or "").strip()
    if not TRACKING_RE.match(tn):
        _err(errors, index, "tracking_number", "4-40 letters, digits or '-'")
    out["tracking_number"] = tn
    name = str(row.get("recipient_name") or "").strip()
    if not name or len(name) > 80 or "\x00" in name:
        _err(errors, index, "recipient_name", "required, at most 80 characters")
    out["recipient_name"] = name
    phone = re.sub(r"[\s-]", "", str(row.get("phone") or ""))
    if not PHONE_RE.match(phone):
        _err(errors, index, "phone", "7-15 digits")
    out["phone"] = phone
    village = str(row.get("village_code") or "").strip()
    if not re.fullmatch(r"[0-9]{12}", village):
        _err(errors, index, "village_code", "a 12-digit village code")
    out["village_code"] = village
    weight = _int(row.get("weight_g"), low=1, high=MAX_WEIGHT_G)
    if weight is None:
        _err(errors, index, "weight_g", f"an integer from 1 to {MAX_WEIGHT_G} (grams)")
    out["weight_g"] = weight
    size = str(row.get("size_class") or "S").strip().upper()
    if size not in SizeClass.values:
        _err(errors, index, "size_class", f"one of {', '.join(SizeClass.values)}")
    out["size_class"] = size
    cod = _int(row.get("cod_fen", 0) or 0, low=0, high=MAX_COD_FEN)
    if cod is None:
        _err(errors, index, "cod_fen", "a non-negative integer (fen)")
    out["cod_fen"] = cod
    return out if len(errors) == before else None


def _same_parcel(p: Parcel, row: dict[str, Any]) -> bool:
    return (
        p.recipient_name == row["recipient_name"]
        and p.recipient_phone == row["phone"]
        and p.village_id == row["village_code"]
        and p.weight_g == row["weight_g"]
        and p.size_class == row["size_class"]
        and p.cod_fen == row["cod_fen"]
    )


def manifest_intake(
    *,
    scope: RegionScope,
    carrier_code: str,
    rows: Sequence[Any],
    actor: Any = None,
    occurred_at: dt.datetime | None = None,
) -> ManifestResult:
    """Announce a carrier's parcels: validated as a whole (errors name row and field,
    rows counted from 1), then every new parcel gets an ``announced`` event and is
    matched to its village's active village station; unmatched ones open an exception.
    Re-sending the same manifest creates nothing (the rows are reported as duplicates);
    a known tracking number with different data is an error."""
    carrier = _carrier(carrier_code)
    if not rows:
        raise Unprocessable("the manifest has no rows", code="invalid_manifest")
    if len(rows) > MAX_BATCH:
        raise Unprocessable(
            f"at most {MAX_BATCH} rows per manifest, got {len(rows)}", code="batch_too_large"
        )
    errors: list[dict[str, Any]] = []
    clean: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, dict[str, Any]] = {}
    for i, raw in enumerate(rows, start=1):
        row = _clean_row(raw, i, errors)
        if row is None:
            continue
        prev = seen.get(row["tracking_number"])
        if prev is not None:
            if prev != row:
                _err(errors, i, "tracking_number", "repeated in the manifest with other data")
            continue
        seen[row["tracking_number"]] = row
        clean.append((i, row))
    codes = {r["village_code"] for _, r in clean}
    villages = {
        v.code: v
        for v in Region.objects.filter(code__in=codes, level=Level.VILLAGE)
        if scope.contains_code(v.code)
    }
    for i, row in clean:
        if row["village_code"] not in villages:
            _err(errors, i, "village_code", f"unknown village {row['village_code']}")
    existing = {
        p.tracking_number: p
        for p in Parcel.objects.filter(carrier=carrier, tracking_number__in=list(seen))
    }
    for i, row in clean:
        p = existing.get(row["tracking_number"])
        if p is not None and (not _visible(scope, p) or not _same_parcel(p, row)):
            _err(errors, i, "tracking_number", "already announced with other data")
    _raise_if(errors, "the manifest is not valid", "invalid_manifest")

    when = occurred_at or timezone.now()
    stations = {
        s.region_id: s
        for s in Station.objects.filter(
            region_id__in=list(villages),
            kind=StationKind.VILLAGE_STATION,
            status=StationStatus.ACTIVE,
        )
    }
    result = ManifestResult(carrier=carrier.code)
    new_rows = [row for _, row in clean if row["tracking_number"] not in existing]
    result.duplicates = [
        row["tracking_number"] for _, row in clean if row["tracking_number"] in existing
    ]
    try:
        with transaction.atomic():
            parcels = [
                Parcel(
                    carrier=carrier,
                    tracking_number=row["tracking_number"],
                    recipient_name=row["recipient_name"],
                    recipient_phone=row["phone"],
                    phone_last4=row["phone"][-4:],
                    village_id=row["village_code"],
                    station=stations.get(row["village_code"]),
                    weight_g=row["weight_g"],
                    size_class=row["size_class"],
                    cod_fen=row["cod_fen"],
                    state=sm.ANNOUNCED,
                    state_at=when,
                )
                for row in new_rows
            ]
            Parcel.objects.bulk_create(parcels, batch_size=1000)
            if parcels and parcels[0].pk is None:  # a backend without RETURNING
                by_tn = {
                    p.tracking_number: p
                    for p in Parcel.objects.filter(
                        carrier=carrier, tracking_number__in=[p.tracking_number for p in parcels]
                    )
                }
                parcels = [by_tn[p.tracking_number] for p in parcels]
            ScanEvent.objects.bulk_create(
                [
                    ScanEvent(
                        event_id=f"manifest:{carrier.code}:{p.tracking_number}",
                        parcel=p,
                        type=sm.ANNOUNCED,
                        occurred_at=when,
                        actor=actor if getattr(actor, "pk", None) else None,
                        device="manifest",
                    )
                    for p in parcels
                ],
                batch_size=1000,
            )
            unmatched = [p for p in parcels if p.station_id is None]
            ParcelException.objects.bulk_create(
                [
                    ParcelException(
                        parcel=p,
                        problem=ParcelException.Problem.UNMATCHED,
                        detail=f"no active village station in {p.village_id}",
                    )
                    for p in unmatched
                ]
            )
    except IntegrityError as exc:  # a concurrent copy of the same manifest won
        raise ApplicationError(
            "the manifest was being sent at the same time; send it again",
            code="conflict",
            status=409,
        ) from exc
    result.created = parcels
    result.unmatched = [p.tracking_number for p in unmatched]
    return result


# --- scan events --------------------------------------------------------------------------
#
# The bulk path (docs/adr/0010-event-ingest.md): the batch is validated as a whole with a
# handful of set queries, then in ONE transaction the touched parcels are locked in id
# order, the new events are inserted in one statement (COPY on PostgreSQL), ALL events of
# the touched parcels are read in one query, every state is derived in Python by the one
# state machine, and parcels, exceptions and SMS are written in bulk.

APPLIED = "applied"
ILLEGAL = "illegal"
DUPLICATE = "duplicate"

MAX_BODY_BYTES = 32 * 1024 * 1024  # a 10,000-event EPCIS document is about 6 MB
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/x-jsonlines"})
JSON_TYPES = frozenset({"application/json", ""})
EPCIS_TYPES = frozenset({"application/ld+json"})
_CHUNK = 5000  # ids per IN (...) list: below every backend's parameter limit


class EventIn(NamedTuple):  # a tuple: 10,000 per batch, built 3x faster than a dataclass
    event_id: str
    carrier: str
    tracking_number: str
    type: str
    occurred_at: dt.datetime
    station_code: str = ""
    device: str = ""


def _content(parcel_id: int, type_: str, at: dt.datetime, station_id: int | None, device: str):
    return (parcel_id, type_, at, station_id, device)


def _chunks(seq: Sequence[T], n: int = _CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def event_batch_parse(*, body: bytes, content_type: str) -> list[Any]:
    """The events of a request body: a JSON array, NDJSON (one event object per line,
    ``application/x-ndjson``) or a GS1 EPCIS 2.0 document (``application/ld+json``, or a
    JSON object with ``"type": "EPCISDocument"``). Errors name the line (NDJSON) or the
    EPCIS event; nothing is written."""
    from cunzhan.logistics import epcis  # the EPCIS mapping is pure: no cycle at import

    ctype = (content_type or "").split(";")[0].strip().lower()
    if len(body) > MAX_BODY_BYTES:
        raise Unprocessable(
            f"the body is larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB",
            code="batch_too_large",
        )
    if ctype in NDJSON_TYPES:
        return _ndjson_parse(body)
    if ctype not in JSON_TYPES | EPCIS_TYPES:
        raise ApplicationError(
            f"unsupported content type {ctype!r}: send application/json (an array of events), "
            "application/x-ndjson (one event per line) or application/ld+json (EPCIS 2.0)",
            code="unsupported_media_type",
            status=415,
        )
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApplicationError(
            f"the body is not valid JSON: {exc}", code="invalid_batch", status=422
        ) from exc
    if isinstance(doc, dict) and (ctype in EPCIS_TYPES or epcis.is_document(doc)):
        return epcis.events_from_document(doc)
    if ctype in EPCIS_TYPES:
        raise Unprocessable(
            "application/ld+json: the body must be an EPCISDocument", code="invalid_epcis"
        )
    if not isinstance(doc, list):
        raise ApplicationError(
            "the body must be a JSON array of events, NDJSON or an EPCIS 2.0 document",
            code="invalid_batch",
            status=422,
        )
    return doc


_JSON = json.JSONDecoder()


def _ndjson_parse(body: bytes) -> list[Any]:
    lines = body.split(b"\n")
    count = sum(1 for line in lines if line.strip())
    if count > MAX_BATCH:
        raise Unprocessable(
            f"at most {MAX_BATCH} events per batch, got {count} lines", code="batch_too_large"
        )
    decode = _JSON.decode  # one decoder: json.loads per line costs twice as much
    out: list[Any] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = decode(line.decode("utf-8"))
        except ValueError as exc:  # UnicodeDecodeError is one
            raise ApplicationError(
                f"NDJSON line {n} is not valid JSON: {exc}",
                code="invalid_batch",
                status=422,
                details={"line": n},
            ) from exc
        if not isinstance(obj, dict):
            raise ApplicationError(
                f"NDJSON line {n} must be one event object",
                code="invalid_batch",
                status=422,
                details={"line": n},
            )
        out.append(obj)
    return out


def _parse_events(events: Sequence[Any]) -> tuple[list[EventIn], list[dict[str, Any]]]:
    errors: list[dict[str, Any]] = []
    out: list[EventIn] = []
    types = set(sm.EVENT_TYPES)
    latest = timezone.now() + MAX_CLOCK_AHEAD
    for i, raw in enumerate(events, start=1):
        if isinstance(raw, EventIn):
            out.append(raw)
            continue
        if not isinstance(raw, dict):
            _err(errors, i, "event", "must be an object")
            continue
        before = len(errors)
        eid = str(raw.get("event_id") or "")
        if not EVENT_ID_RE.match(eid):
            _err(errors, i, "event_id", "1-64 letters, digits or _.:-")
        type_ = str(raw.get("type") or "")
        if type_ not in types:
            _err(errors, i, "type", f"one of {', '.join(sm.EVENT_TYPES)}")
        at = raw.get("occurred_at")
        if isinstance(at, str):
            try:
                at = dt.datetime.fromisoformat(at)
            except ValueError:
                at = None
        if not isinstance(at, dt.datetime) or at.tzinfo is None:
            _err(errors, i, "occurred_at", "an ISO 8601 time with a time zone")
        else:
            try:  # aware datetimes compare in UTC
                in_range = EARLIEST_EVENT <= at <= latest
            except (OverflowError, ValueError):
                in_range = False
            if not in_range:
                _err(
                    errors,
                    i,
                    "occurred_at",
                    "between 2000-01-01 and two days from now (check the device's clock)",
                )
        if len(errors) == before:
            out.append(
                EventIn(
                    event_id=eid,
                    carrier=str(raw.get("carrier") or "").strip().upper(),
                    tracking_number=str(raw.get("tracking_number") or "").strip(),
                    type=type_,
                    occurred_at=at,  # type: ignore[arg-type]
                    station_code=str(raw.get("station_code") or "").strip(),
                    device=str(raw.get("device") or "")[:60],
                )
            )
    return out, errors


def _visible_ids(scope: RegionScope, village_id: str, station_id: int | None) -> bool:
    if not scope.contains_code(village_id):
        return False
    if scope.everything or scope.station_ids is None:
        return True
    return station_id in scope.station_ids


# (event, parcel id, station id, region id of the station, content)
_Row = tuple[EventIn, int, int | None, str | None, tuple]


def scan_events_record(
    *, scope: RegionScope, events: Sequence[Any], actor: Any = None
) -> list[dict[str, Any]]:
    """Append scan events idempotently; answer one status per event, in input order:
    ``applied``, ``illegal`` (stored, an exception opened) or ``duplicate`` (this
    ``event_id`` is already stored with the same content: nothing done). The batch is
    validated as a whole (unknown parcel or station, a reused id with other content:
    an error naming the event, nothing written) and applied in one transaction."""
    if len(events) > MAX_BATCH:
        raise Unprocessable(
            f"at most {MAX_BATCH} events per batch, got {len(events)}", code="batch_too_large"
        )
    if not events:
        raise Unprocessable("the batch has no events", code="invalid_batch")
    parsed, errors = _parse_events(events)
    _raise_if(errors, "the batch is not valid", "invalid_batch")
    _check_rights(parsed, actor)

    def run() -> list[dict[str, Any]]:
        try:
            with transaction.atomic():  # the look-ups too, for _index_paths
                restore = _index_paths()
                statuses = _resolve_and_apply(scope, parsed, actor)
                restore()
                return statuses
        except IntegrityError as exc:  # deferred foreign keys are checked at commit
            raise ApplicationError(
                "another request changed what this batch refers to at the same time; send it again",
                code="conflict",
                status=409,
            ) from exc

    # the look-ups too: SQLite's shared-cache test database answers "table is locked"
    # to a read while another connection writes (the batch is one transaction: safe
    # to repeat)
    return _retry_locked(run)


def _check_rights(parsed: list[EventIn], actor: Any) -> None:
    """The role × event-type matrix (``scan_rights``), before anything is read or
    written: a ``picked_up`` event needs its proof (the hand-out), another type outside
    the actor's work is refused. The error names every offending event."""
    proof, other = scan_rights.refused_events(parsed, actor)
    if proof:
        raise ApplicationError(
            gettext("%(n)d 个取件事件没有凭证，整批未写入：取件须在村站凭取件码或手机号与姓名交付")
            % {"n": len(proof)},
            code="pickup_proof_required",
            status=422,
            details={"errors": proof[:1000]},
        )
    if other:
        raise ApplicationError(
            gettext("%(n)d 个事件不属于您的角色的工作，整批未写入；允许的事件类型：%(types)s")
            % {
                "n": len(other),
                "types": ", ".join(sorted(scan_rights.allowed_types(actor))) or "-",
            },
            code="event_type_not_allowed",
            status=403,
            details={"errors": other[:1000]},
        )


def _check_driver_runs(rows: list[_Row], actor: Any) -> list[dict[str, Any]]:
    """A driver scans only the parcels on his own runs: items of a route whose run he
    drives or whose vehicle is his. One query per 5,000 parcels (drivers only)."""
    from cunzhan.logistics.plan_models import PlanItem

    pids = sorted({r[1] for r in rows})
    mine: set[int] = set()
    for chunk in _chunks(pids):
        mine.update(
            PlanItem.objects.filter(parcel_id__in=list(chunk))
            .filter(Q(stop__route__run__driver=actor) | Q(stop__route__vehicle__driver=actor))
            .order_by()
            .values_list("parcel_id", flat=True)
        )
    return [
        {
            "row": i,
            "event_id": r[0].event_id,
            "type": r[0].type,
            "message": gettext("包裹 %(p)s 不在您的车次上")
            % {"p": f"{r[0].carrier}:{r[0].tracking_number}"},
        }
        for i, r in enumerate(rows, start=1)
        if r[1] not in mine
    ]


def _index_paths() -> Callable[[], None]:
    """PostgreSQL, for the rest of the transaction: random reads cost what they cost on
    solid-state storage (1.1 sequential reads instead of the default 4, which models
    spinning disks). Every query of a batch looks up at most 10,000 rows by key
    (``= ANY(…)``, a join on ``unnest``); with the default the planner prices 10,000
    index probes above a scan of the whole table, and on a table of a million events
    or parcels it scans it (0.09 s instead of 0.017 s for the event ids, a hash join
    over every parcel for the update: docs/benchmarks.md). Returns what puts the
    caller's value back: the batch may run inside a caller's transaction (a run's
    scans, the simulator's day), which must not keep the setting (on an error the
    rollback undoes it)."""
    if connection.vendor != "postgresql":
        return lambda: None
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('random_page_cost')")
        ((before,),) = cur.fetchall()
        cur.execute("SET LOCAL random_page_cost = 1.1")

    def restore() -> None:
        with connection.cursor() as cur:
            cur.execute("SELECT set_config('random_page_cost', %s, true)", [before])

    return restore


def _resolve_and_apply(
    scope: RegionScope, parsed: list[EventIn], actor: Any
) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    # the parcels and stations named, in scope: one query per carrier (and per chunk)
    by_carrier: dict[str, set[str]] = {}
    for e in parsed:
        by_carrier.setdefault(e.carrier, set()).add(e.tracking_number)
    carriers = dict(Carrier.objects.filter(code__in=list(by_carrier)).values_list("code", "pk"))
    parcels: dict[tuple[str, str], int] = {}
    everything = scope.everything
    for c, tn_set in by_carrier.items():
        if c not in carriers:
            continue
        cond, params = _in("tracking_number", sorted(tn_set), "text")
        for pk, tn, village_id, station_id in _select(
            "SELECT id, tracking_number, village_id, station_id "  # noqa: S608
            f"FROM {Parcel._meta.db_table} WHERE carrier_id = %s AND {cond}",
            [carriers[c], *params],
        ):
            if everything or _visible_ids(scope, village_id, station_id):
                parcels[(c, tn)] = pk
    st_codes = {e.station_code for e in parsed if e.station_code}
    stations = {
        code: (pk, region_id)
        for pk, code, region_id in Station.objects.filter(code__in=list(st_codes))
        .order_by()
        .values_list("pk", "code", "region_id")
        # an operator scans at his own station(s) only
        if scope.contains_code(region_id) and (scope.station_ids is None or pk in scope.station_ids)
    }
    in_batch: dict[str, tuple] = {}
    rows: list[_Row] = []
    for i, e in enumerate(parsed, start=1):
        pid = parcels.get((e.carrier, e.tracking_number))
        if pid is None:
            _err(errors, i, "tracking_number", f"unknown parcel {e.carrier}:{e.tracking_number}")
            continue
        st_id, region_id = None, None
        if e.station_code:
            found = stations.get(e.station_code)
            if found is None:
                _err(errors, i, "station_code", f"unknown station {e.station_code}")
                continue
            st_id, region_id = found
        content = _content(pid, e.type, e.occurred_at, st_id, e.device)
        prev = in_batch.setdefault(e.event_id, content)
        if prev != content:
            _err(errors, i, "event_id", "repeated in the batch with other content")
            continue
        rows.append((e, pid, st_id, region_id, content))
    _raise_if(errors, "the batch is not valid", "invalid_batch")
    if scan_rights.actor_role(actor) == Role.DRIVER:
        not_mine = _check_driver_runs(rows, actor)
        if not_mine:
            raise ApplicationError(
                gettext("%(n)d 个事件的包裹不在您的车次上，整批未写入") % {"n": len(not_mine)},
                code="parcel_not_on_run",
                status=403,
                details={"errors": not_mine[:1000]},
            )
    return _scan_events_apply(rows, in_batch, actor)


_LOCK_FIELDS = (
    "id",
    "carrier_id",
    "tracking_number",
    "recipient_phone",
    "village_id",
    "station_id",
    "size_class",
    "state",
    "state_at",
    "pickup_code",
    "shelf_slot",
    "last_event_at",
    "last_event_id",
)


class _Locked:
    """The fields of a locked parcel that the recompute reads and writes (a model
    instance costs more to build than the whole derivation)."""

    __slots__ = (*_LOCK_FIELDS[1:], "pk", "updated_at")

    def __init__(self, row: Sequence[Any]) -> None:
        (
            self.pk,
            self.carrier_id,
            self.tracking_number,
            self.recipient_phone,
            self.village_id,
            self.station_id,
            self.size_class,
            self.state,
            self.state_at,
            self.pickup_code,
            self.shelf_slot,
            self.last_event_at,
            self.last_event_id,
        ) = row
        self.state_at = _aware(self.state_at)
        self.last_event_at = _aware(self.last_event_at)


def _sqlite_datetime(value: dt.datetime | None) -> str | None:
    """What Django's SQLite backend stores for an aware datetime (UTC, naive, ``str``),
    without its generic adapter's checks: 10x cheaper, and a batch adapts 40,000."""
    if value is None:
        return None
    return str(value.astimezone(dt.UTC).replace(tzinfo=None))


def _aware(value: Any) -> Any:
    """A datetime read by a raw query: SQLite gives it naive (UTC)."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _pg_array(values: Sequence[Any]) -> str:
    """A PostgreSQL array literal of integers or strings (None: NULL), for a
    ``%t::type[]`` parameter: a few ``join`` calls instead of psycopg dumping 10,000
    items one by one. Strings are always quoted (so ``NULL`` stays a string) and
    escaped. Anything else is refused."""
    if all(type(v) is int for v in values):
        return "{" + ",".join(map(str, values)) + "}"
    if all(type(v) is str for v in values):
        joined = "".join(values)
        if "\\" not in joined and '"' not in joined:  # nothing to escape: one join
            return '{"' + '","'.join(values) + '"}' if values else "{}"
        return "{" + ",".join(map(_quote, values)) + "}"
    parts = []
    for v in values:
        if v is None:
            parts.append("NULL")
        elif type(v) is int:
            parts.append(str(v))
        elif type(v) is str:
            parts.append(_quote(v))
        else:
            raise TypeError(f"an array literal takes int, str or None, not {type(v).__name__}")
    return "{" + ",".join(parts) + "}"


def _in(column: str, values: Sequence[Any], sql_type: str) -> tuple[str, list[Any]]:
    """``column IN (values)`` with ONE parameter whatever the number of values: an
    array on PostgreSQL, a JSON array on SQLite (building a 10,000-item IN list costs
    Django more than running the query)."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%t::{sql_type}[])", [_pg_array(values)]  # see _execute
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(list(values))]  # noqa: S608


def _execute(sql: str, params: list[Any], *, fetch: bool) -> list[tuple]:
    """Run one query of the ingest. On PostgreSQL with server-side binding in psycopg's
    BINARY format, on a plain psycopg cursor of the same connection (so in the same
    transaction): Django's cursors bind client-side, and a 10,000-item array parameter
    quoted as text costs an escaping regex per item, a timestamp in the result an ISO
    parse — together about a third of a batch's Python time (docs/benchmarks.md)."""
    if connection.vendor == "postgresql":
        import psycopg  # PostgreSQL only

        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as raw:
            raw.execute(sql, params, binary=True)
            return raw.fetchall() if fetch else []
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if fetch else []  # type: ignore[no-any-return]


def _select(sql: str, params: list[Any]) -> list[tuple]:
    return _execute(sql, params, fetch=True)


def _lock_parcels(ids: list[int]) -> dict[int, _Locked]:
    """Lock the parcels in id order (every writer does: no deadlock between batches)."""
    cond, params = _in("id", sorted(ids), "bigint")
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    rows = _select(
        f"SELECT {', '.join(_LOCK_FIELDS)} FROM {Parcel._meta.db_table} "  # noqa: S608
        f"WHERE {cond} ORDER BY id{lock}",
        params,
    )
    return {r[0]: _Locked(r) for r in rows}


def _scan_events_apply(
    rows: list[_Row], in_batch: dict[str, tuple], actor: Any
) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    actor_id = actor.pk if getattr(actor, "pk", None) else None
    try:
        with transaction.atomic():
            locked = _lock_parcels(list({r[1] for r in rows}))
            cond, params = _in("event_id", list(in_batch), "text")
            stored: dict[str, tuple] = {
                eid: (pid, type_, _aware(at), st, device)
                for eid, pid, type_, at, st, device in _select(
                    "SELECT event_id, parcel_id, type, occurred_at, station_id, device "  # noqa: S608
                    f"FROM {ScanEvent._meta.db_table} WHERE {cond}",
                    params,
                )
            }
            statuses: list[dict[str, Any]] = []
            new: list[tuple] = []
            seen_new: set[str] = set()
            for i, (e, pid, st_id, region_id, content) in enumerate(rows, start=1):
                old = stored.get(e.event_id)
                if old is not None:
                    if old != content:
                        _err(errors, i, "event_id", "already used for another event")
                    statuses.append({"event_id": e.event_id, "status": DUPLICATE})
                    continue
                if e.event_id in seen_new:
                    statuses.append({"event_id": e.event_id, "status": DUPLICATE})
                    continue
                seen_new.add(e.event_id)
                statuses.append({"event_id": e.event_id, "status": APPLIED})
                new.append(
                    (e.event_id, pid, e.type, e.occurred_at, region_id, st_id, actor_id, e.device)
                )
            _raise_if(errors, "the batch is not valid", "invalid_batch")
            _insert_events(new)
            by_parcel: dict[int, list[tuple]] = defaultdict(list)
            for n in new:
                by_parcel[n[1]].append((n[0], n[2], n[3], n[5]))
            illegal_ids = _recompute_many([locked[pid] for pid in sorted(by_parcel)], new=by_parcel)
            if illegal_ids:
                for s in statuses:
                    if s["status"] == APPLIED and s["event_id"] in illegal_ids:
                        s["status"] = ILLEGAL
    except IntegrityError as exc:
        raise ApplicationError(
            "another batch stored some of these events at the same time; send it again",
            code="conflict",
            status=409,
        ) from exc
    return statuses


_EVENT_COLS = (
    "event_id",
    "parcel_id",
    "type",
    "occurred_at",
    "region_id",
    "station_id",
    "actor_id",
    "device",
    "recorded_at",
)


_EVENT_TYPES_PG = [  # the PostgreSQL types of _EVENT_COLS, for a binary COPY
    "varchar",
    "int8",
    "varchar",
    "timestamptz",
    "varchar",
    "int8",
    "int8",
    "varchar",
    "timestamptz",
]


def _insert_events(new: list[tuple]) -> None:
    """One statement for all new events: COPY on PostgreSQL (the parcels are locked and
    the ids checked, so a conflict can only come from another parcel's batch reusing an
    id at the same moment: the unique index refuses it and the batch answers 409),
    executemany on SQLite."""
    if not new:
        return
    now = timezone.now()
    table = connection.ops.quote_name(ScanEvent._meta.db_table)
    cols = ", ".join(_EVENT_COLS)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            raw = cur.cursor
            # binary: a third of the text format's cost on the client (no escaping)
            with raw.copy(f"COPY {table} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:  # type: ignore[union-attr]
                copy.set_types(_EVENT_TYPES_PG)
                for r in new:
                    copy.write_row((*r, now))
        else:
            adapt = _sqlite_datetime
            now_db = adapt(now)
            marks = ", ".join(["%s"] * len(_EVENT_COLS))
            cur.executemany(
                f"INSERT INTO {table} ({cols}) VALUES ({marks})",  # noqa: S608
                [(r[0], r[1], r[2], adapt(r[3]), *r[4:], now_db) for r in new],
            )


def _recompute(parcel: Parcel) -> set[str]:
    """Derive one (locked) parcel's state; see :func:`_recompute_many`."""
    return _recompute_many([parcel])


def _last_key(p: Any) -> tuple[dt.datetime, str] | None:
    return (p.last_event_at, p.last_event_id) if p.last_event_at is not None else None


def _recompute_many(parcels: Sequence[Any], new: dict[int, list[tuple]] | None = None) -> set[str]:
    """Derive the (locked) parcels' states by the one state machine; assign pickup codes
    and shelf slots on arrival at a station, clear them when a parcel leaves, send the
    arrival SMS, open an exception per illegal event and resolve those that became
    legal. The instances are updated in place. Returns the ids of the illegal events.

    ``new`` (the ingest): each parcel's new events ``(event_id, type, occurred_at,
    station_id)``, already stored. When they all sort after the parcel's last event
    (``last_event_at``/``last_event_id``) and it has no open illegal-transition
    exception, they are applied to the stored state (``statemachine.derive_from``)
    without reading the history; otherwise (a late event, an open exception, no
    ``new``) the state is derived from ALL the parcel's events, read in one query."""
    if not parcels:
        return set()
    by_pid = {p.pk: p for p in parcels}
    problem = ParcelException.Problem.ILLEGAL_TRANSITION
    cond, params = _in("x.parcel_id", sorted(by_pid), "bigint")
    exc_rows = _select(
        "SELECT x.id, x.parcel_id, e.event_id, x.status, x.resolved_by_id, x.note "  # noqa: S608
        f"FROM {ParcelException._meta.db_table} x "
        f"LEFT JOIN {ScanEvent._meta.db_table} e ON e.id = x.event_id "
        f"WHERE {cond} AND x.problem = %s",
        [*params, problem.value],
    )
    open_exc = {r[1] for r in exc_rows if r[3] == ExceptionStatus.OPEN}

    # parcel id -> [(event pk or None, event id, type, occurred_at, station id)]
    events: dict[int, list[tuple]] = {}
    full: list[int] = []
    for pid, p in by_pid.items():
        mine = (new or {}).get(pid)
        last = _last_key(p)
        if (
            mine
            and pid not in open_exc
            and all(
                t != sm.ANNOUNCED and (last is None or (at, eid) > last) for eid, t, at, _ in mine
            )
        ):
            events[pid] = [(None, eid, t, at, st) for eid, t, at, st in mine]
        else:
            full.append(pid)
    if full:
        cond, params = _in("parcel_id", full, "bigint")
        for pid, pk, eid, type_, at, st in _select(
            "SELECT parcel_id, id, event_id, type, occurred_at, station_id "  # noqa: S608
            f"FROM {ScanEvent._meta.db_table} WHERE {cond}",
            params,
        ):
            events.setdefault(pid, []).append((pk, eid, type_, _aware(at), st))
    full_set = set(full)

    before: dict[int, tuple] = {}
    illegal: dict[int, dict[str, sm.Illegal]] = {}
    need_code: list[Any] = []
    rerouted: list[Any] = []
    for pid, p in by_pid.items():
        evs = events.get(pid, [])
        todo = [sm.Event(at, eid, type_) for _, eid, type_, at, _ in evs]
        if pid in full_set:
            result = sm.derive_state(todo)
            last = None
        else:
            result = sm.derive_from(p.state, todo)
            last = _last_key(p)
        for _, eid, type_, at, _ in evs:
            if type_ != sm.ANNOUNCED and (last is None or (at, eid) > last):
                last = (at, eid)
        info = {eid: (at, st) for _, eid, _, at, st in evs}
        before[pid] = (
            p.state,
            p.state_at,
            p.station_id,
            p.pickup_code,
            p.shelf_slot,
            p.last_event_at,
            p.last_event_id,
        )
        p.last_event_at, p.last_event_id = last if last is not None else (None, "")
        p.state = result.state
        if result.last_event_id:
            p.state_at = info[result.last_event_id][0]
        if result.state == sm.AT_STATION:
            arrived_at = info[result.last_event_id][1] if result.last_event_id else None
            if arrived_at and p.station_id != arrived_at:
                p.station_id = arrived_at
                p.pickup_code = ""
            if not p.pickup_code and p.station_id:
                need_code.append(p)
        elif result.state != sm.PICKED_UP and p.pickup_code:
            p.pickup_code = ""
            p.shelf_slot = ""
        if result.last_event_id and any(
            eid == result.last_event_id and type_ == sm.MISROUTED for _, eid, type_, _, _ in evs
        ):
            rerouted.append(p)
        if result.illegal:
            illegal[pid] = {i.event_id: i for i in result.illegal}
    if rerouted:
        # a misrouted parcel is sorted again for ITS village's station, not for the
        # station it wrongly reached
        intended = dict(
            Station.objects.filter(
                region_id__in={p.village_id for p in rerouted},
                kind=StationKind.VILLAGE_STATION,
                status=StationStatus.ACTIVE,
            ).values_list("region_id", "pk")
        )
        for p in rerouted:
            if intended.get(p.village_id):
                p.station_id = intended[p.village_id]
    if need_code:
        _assign_codes(need_code, by_pid)

    now = timezone.now()
    changed = [
        p
        for pid, p in by_pid.items()
        if before[pid]
        != (
            p.state,
            p.state_at,
            p.station_id,
            p.pickup_code,
            p.shelf_slot,
            p.last_event_at,
            p.last_event_id,
        )
    ]
    _update_parcels(changed, now)
    arrived = [
        p
        for pid, p in by_pid.items()
        if before[pid][0] != sm.AT_STATION and p.state == sm.AT_STATION and p.pickup_code
    ]
    if arrived:
        _notify_many(arrived)
    _sync_exceptions(exc_rows, illegal, _event_pks(illegal, events), now)
    return {eid for per in illegal.values() for eid in per}


def _event_pks(
    illegal: dict[int, dict[str, sm.Illegal]], events: dict[int, list[tuple]]
) -> dict[tuple[int, str], int]:
    """The row ids of the illegal events (those applied incrementally were stored by
    COPY, without their ids: one query for them)."""
    out: dict[tuple[int, str], int] = {}
    missing: list[str] = []
    for pid, per in illegal.items():
        for pk, eid, *_ in events.get(pid, []):
            if eid in per:
                if pk is None:
                    missing.append(eid)
                else:
                    out[(pid, eid)] = pk
    for chunk in _chunks(missing):
        cond, params = _in("event_id", chunk, "text")
        for pk, pid, eid in _select(
            f"SELECT id, parcel_id, event_id FROM {ScanEvent._meta.db_table} WHERE {cond}",  # noqa: S608
            params,
        ):
            out[(pid, eid)] = pk
    return out


def _update_parcels(changed: list[Any], now: dt.datetime) -> None:
    if not changed:
        return
    for p in changed:
        p.updated_at = now
    table = connection.ops.quote_name(Parcel._meta.db_table)
    if connection.vendor == "postgresql":
        _execute(
            f"UPDATE {table} AS p SET state = v.state, state_at = v.state_at, "  # noqa: S608
            "station_id = v.station_id, pickup_code = v.pickup_code, "
            "shelf_slot = v.shelf_slot, last_event_at = v.last_event_at, "
            "last_event_id = v.last_event_id, updated_at = %s "
            "FROM unnest(%t::bigint[], %t::varchar[], %b::timestamptz[], %t::bigint[], "
            "%t::varchar[], %t::varchar[], %b::timestamptz[], %t::varchar[]) "
            "AS v(id, state, state_at, station_id, pickup_code, shelf_slot, "
            "last_event_at, last_event_id) "
            "WHERE p.id = v.id",
            [
                now,
                _pg_array([p.pk for p in changed]),
                _pg_array([p.state for p in changed]),
                [p.state_at for p in changed],
                _pg_array([p.station_id for p in changed]),
                _pg_array([p.pickup_code for p in changed]),
                _pg_array([p.shelf_slot for p in changed]),
                [p.last_event_at for p in changed],
                _pg_array([p.last_event_id for p in changed]),
            ],
            fetch=False,
        )
        return
    with connection.cursor() as cur:
        adapt = _sqlite_datetime
        cur.executemany(
            f"UPDATE {table} SET state = %s, state_at = %s, station_id = %s, "  # noqa: S608
            "pickup_code = %s, shelf_slot = %s, last_event_at = %s, last_event_id = %s, "
            "updated_at = %s WHERE id = %s",
            [
                (
                    p.state,
                    adapt(p.state_at),
                    p.station_id,
                    p.pickup_code,
                    p.shelf_slot,
                    adapt(p.last_event_at),
                    p.last_event_id,
                    adapt(now),
                    p.pk,
                )
                for p in changed
            ],
        )


AUTO_NOTE = "legal after events arrived out of order"


def _sync_exceptions(
    exc_rows: list[tuple],
    illegal: dict[int, dict[str, sm.Illegal]],
    event_pk: dict[tuple[int, str], int],
    now: dt.datetime,
) -> None:
    """One open exception per illegal event; open ones no longer illegal are resolved
    (automatically), and those resolved automatically that became illegal again (yet
    later events) are opened again. What a person resolved stays resolved."""
    problem = ParcelException.Problem.ILLEGAL_TRANSITION
    recorded: set[tuple[int, str]] = set()
    resolve: list[int] = []
    reopen: list[int] = []
    for pk, pid, eid, status, by, note in exc_rows:
        recorded.add((pid, eid))
        if eid is None:
            continue
        now_illegal = eid in illegal.get(pid, {})
        if status == ExceptionStatus.OPEN and not now_illegal:
            resolve.append(pk)
        elif status != ExceptionStatus.OPEN and now_illegal and by is None and note == AUTO_NOTE:
            reopen.append(pk)
    for chunk in _chunks(resolve):
        ParcelException.objects.filter(pk__in=chunk).update(
            status=ExceptionStatus.RESOLVED, resolved_at=now, note=AUTO_NOTE, updated_at=now
        )
    for chunk in _chunks(reopen):
        ParcelException.objects.filter(pk__in=chunk).update(
            status=ExceptionStatus.OPEN, resolved_at=None, note="", updated_at=now
        )
    missing = [
        ParcelException(
            parcel_id=pid,
            event_id=event_pk[(pid, eid)],
            problem=problem,
            detail=i.problem[:300],
        )
        for pid, per in illegal.items()
        for eid, i in per.items()
        if (pid, eid) not in recorded
    ]
    ParcelException.objects.bulk_create(missing, batch_size=500)


# --- pickup codes -------------------------------------------------------------------------


def _assign_codes(need: list[Any], touched: dict[int, Any]) -> None:
    """A 6-digit code unused among the parcels waiting at the station and the lowest free
    shelf slot, for each parcel in ``need`` (in id order). The stations are locked (after
    the parcels: a fixed order). A code held by any parcel waiting there before this
    batch is never reused within it, so the unique index holds whatever the order in
    which the rows are written."""
    st_ids = sorted({p.station_id for p in need if p.station_id})
    # NO KEY UPDATE: serializes the batches assigning codes at a station, but not the
    # foreign-key checks (KEY SHARE) of rows that merely reference the station
    list(
        Station.objects.select_for_update(no_key=True)
        .filter(pk__in=st_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    codes: dict[int, set[str]] = defaultdict(set)
    slots: dict[int, set[str]] = defaultdict(set)
    for pk, sid, code, slot in (
        Parcel.objects.filter(in_states(sm.AT_STATION), station_id__in=st_ids)
        .order_by()
        .values_list("pk", "station_id", "pickup_code", "shelf_slot")
    ):
        codes[sid].add(code)
        if pk not in touched:
            slots[sid].add(slot)
    for p in touched.values():  # parcels of this batch that keep waiting keep their code
        if p.state == sm.AT_STATION and p.pickup_code and p.station_id:
            codes[p.station_id].add(p.pickup_code)
            slots[p.station_id].add(p.shelf_slot)
    for p in sorted(need, key=lambda x: x.pk):
        sid = p.station_id or 0
        while True:
            code = f"{secrets.randbelow(1_000_000):06d}"
            if code not in codes[sid]:
                break
        n = 1
        while f"{p.size_class}-{n:03d}" in slots[sid]:
            n += 1
        p.pickup_code = code
        p.shelf_slot = f"{p.size_class}-{n:03d}"
        codes[sid].add(code)
        slots[sid].add(p.shelf_slot)


def _sms_text(carrier: str, tracking_number: str, station_name: str, code: str) -> str:
    return f"【村站】您的{carrier}快递 {tracking_number} 已到{station_name}，取件码 {code}。"


def _notify_many(parcels: list[Any]) -> None:
    names = dict(
        Station.objects.filter(pk__in={p.station_id for p in parcels})
        .order_by()
        .values_list("pk", "name")
    )
    carriers = dict(Carrier.objects.order_by().values_list("pk", "code"))
    messages = [
        (
            p.recipient_phone,
            _sms_text(
                carriers.get(p.carrier_id, ""),
                p.tracking_number,
                names.get(p.station_id or 0, "村站"),
                p.pickup_code,
            ),
            p,
        )
        for p in parcels
    ]
    backend = sms_backend()
    send_many = getattr(backend, "send_many", None)
    if send_many is not None:
        send_many(messages)
        return
    models = Parcel.objects.in_bulk([p.pk for p in parcels])
    for phone, text, parcel in messages:
        backend.send(phone=phone, text=text, parcel=models.get(parcel.pk))


def _notify(parcel: Parcel) -> None:
    _notify_many([parcel])


def pickup_code_resend(*, scope: RegionScope, parcel: Parcel) -> None:
    if not _visible(scope, parcel):
        raise NotFound()
    if parcel.state != sm.AT_STATION or not parcel.pickup_code:
        raise Conflict("the parcel is not waiting for pickup", code="not_waiting")
    _notify(parcel)


# attempt limits of the hand-out (docs/adr/0028): failures in a sliding window, per
# station and per parcel; settings may override them
PICKUP_WINDOW = dt.timedelta(minutes=15)
PICKUP_MAX_FAILURES_STATION = 20
PICKUP_MAX_FAILURES_PARCEL = 5


def _pickup_limits() -> tuple[dt.timedelta, int, int]:
    return (
        dt.timedelta(
            seconds=int(
                getattr(settings, "CUNZHAN_PICKUP_WINDOW_SECONDS", PICKUP_WINDOW.total_seconds())
            )
        ),
        int(getattr(settings, "CUNZHAN_PICKUP_MAX_FAILURES_STATION", PICKUP_MAX_FAILURES_STATION)),
        int(getattr(settings, "CUNZHAN_PICKUP_MAX_FAILURES_PARCEL", PICKUP_MAX_FAILURES_PARCEL)),
    )


def _locked_until(filters: dict[str, Any], limit: int, now: dt.datetime) -> dt.datetime | None:
    """When the ``limit``-th latest failure matching ``filters`` leaves the window (None:
    fewer than ``limit`` failures in it)."""
    window, _st, _p = _pickup_limits()
    times = list(
        PickupFailure.objects.filter(created_at__gt=now - window, **filters)
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    return times[-1] + window if len(times) >= limit else None


def _refuse_locked(station: Station, until: dt.datetime, actor: Any, *, per_parcel: bool) -> None:
    audit_record(
        action="pickup_locked",
        object_type="network.Station",
        object_id=station.pk,
        object_repr=station.name,
        region_code=station.region_id,
        note="parcel" if per_parcel else "station",
        actor=actor if getattr(actor, "pk", None) else None,
    )
    local = f"{timezone.localtime(until):%H:%M}"
    message = (
        gettext("该包裹的取件尝试失败次数过多，已暂停交付，请于 %(time)s 后再试")
        if per_parcel
        else gettext("本站取件尝试失败次数过多，已暂停取件，请于 %(time)s 后再试")
    )
    raise ApplicationError(
        message % {"time": local},
        code="pickup_locked",
        status=429,
        details={"retry_at": until.isoformat()},
    )


def parcel_pick_up(
    *,
    scope: RegionScope,
    station: Station,
    code: str = "",
    phone_last4: str = "",
    name: str = "",
    actor: Any = None,
    device: str = "",
    at: dt.datetime | None = None,
    event_id: str = "",
) -> list[Parcel]:
    """Hand out what waits at ``station``: the parcel with pickup ``code``, or every
    parcel for the recipient with phone ending ``phone_last4`` AND named ``name``.
    Records a ``picked_up`` event for each — the only way a parcel is picked up (the
    generic ingest refuses ``picked_up``: docs/adr/0028). ``event_id``: the caller's
    idempotency key (a device's request id, the simulator's stable id); several parcels
    get ``<event_id>:<n>``. Concurrent hand-outs of the same parcel: exactly one
    succeeds (the parcel row is locked and re-checked).

    Attempts are limited: after ``PICKUP_MAX_FAILURES_STATION`` failures at the station,
    or ``PICKUP_MAX_FAILURES_PARCEL`` against one parcel, within ``PICKUP_WINDOW``, the
    hand-out is refused (``pickup_locked``, 429) — even with the right code — until the
    window has passed. Every failure, every refusal and every hand-out by phone and
    name is audited."""
    if not scope.contains_code(station.region_id) or (
        scope.station_ids is not None and station.pk not in scope.station_ids
    ):
        raise NotFound()
    code = (code or "").strip()
    phone_last4 = (phone_last4 or "").strip()
    name = (name or "").strip()
    if code:
        if not re.fullmatch(r"[0-9]{6}", code):
            raise Unprocessable("the pickup code has 6 digits", code="invalid_code")
        filters: dict[str, Any] = {"pickup_code": code}
        method = PickupFailure.Method.CODE
    elif phone_last4 and name:
        if not re.fullmatch(r"[0-9]{4}", phone_last4):
            raise Unprocessable("phone_last4: 4 digits", code="invalid_code")
        filters = {"phone_last4": phone_last4, "recipient_name": name}
        method = PickupFailure.Method.PHONE_NAME
    else:
        raise Unprocessable(
            "give the pickup code, or the phone's last 4 digits and the name",
            code="invalid_code",
        )
    if event_id and (not EVENT_ID_RE.match(event_id) or len(event_id) > HANDOUT_ID_MAX):
        raise Unprocessable(
            gettext("event_id：1 到 %(n)s 个字母、数字或 _.:-") % {"n": HANDOUT_ID_MAX},
            code="invalid_event_id",
        )
    if event_id:
        replayed = _handout_replayed(station, event_id)
        if replayed:
            # a device's retry of a hand-out that went through: the same answer, no new
            # event and no failed attempt
            return replayed
    now = timezone.now()
    _window, max_station, max_parcel = _pickup_limits()
    until = _locked_until({"station": station}, max_station, now)
    if until is not None:
        _refuse_locked(station, until, actor, per_parcel=False)
    when = at or now
    outcome, parcels = _retry_locked(
        lambda: _pick_up_locked(station, filters, when, actor, device, event_id, max_parcel, now)
    )
    if outcome == "locked":
        until = max(
            u
            for p in parcels
            if (u := _locked_until({"parcel_id": p.pk}, max_parcel, now)) is not None
        )
        _refuse_locked(station, until, actor, per_parcel=True)
    if outcome == "no_match":
        _pickup_failed(station, method, parcels, actor, phone_last4)
    return parcels


def _handout_replayed(station: Station, event_id: str) -> list[Parcel]:
    """The parcels an earlier hand-out at ``station`` with the caller's key ``event_id``
    recorded (``pickup:<key>``, or ``pickup:<key>:<n>`` for several), in their order."""
    key = HANDOUT_EVENT_PREFIX + event_id
    found = ScanEvent.objects.filter(
        Q(event_id=key) | Q(event_id__startswith=key + ":"),
        type=sm.PICKED_UP,
        station=station,
    ).values_list("event_id", "parcel_id")
    ids = [pid for eid, pid in sorted(found) if eid == key or is_ascii_digits(eid[len(key) + 1 :])]
    by_id = Parcel.objects.in_bulk(ids)
    return [by_id[i] for i in ids if i in by_id]


def _pickup_failed(
    station: Station, method: str, candidates: list[Parcel], actor: Any, phone_last4: str
) -> None:
    """Record and audit a failed attempt (its own transaction: it stays when the
    request fails), then answer it."""
    user = actor if getattr(actor, "pk", None) else None
    with transaction.atomic():
        PickupFailure.objects.bulk_create(
            [
                PickupFailure(station=station, parcel=p, method=method, actor=user)
                for p in ([*candidates] if candidates else [None])  # type: ignore[list-item]
            ]
        )
        audit_record(
            action="pickup_failed",
            object_type="network.Station",
            object_id=station.pk,
            object_repr=station.name,
            region_code=station.region_id,
            after={
                "method": method,
                "phone_last4": phone_last4,
                "parcels": [str(p.uuid) for p in candidates],
            },
            actor=user,
        )
    raise ApplicationError(
        gettext("本站没有与该取件码或收件人相符的待取包裹"),
        code="no_match",
        status=404,
    )


def _pick_up_locked(
    station: Station,
    filters: dict[str, Any],
    when: dt.datetime,
    actor: Any,
    device: str,
    event_id: str,
    max_parcel: int,
    now: dt.datetime,
) -> tuple[str, list[Parcel]]:
    """``("ok", handed out)``, ``("no_match", parcels the attempt counts against)`` or
    ``("locked", parcels locked by their failures)``; nothing written but the hand-out."""
    with transaction.atomic():
        parcels = list(
            Parcel.objects.select_for_update()
            .filter(in_states(sm.AT_STATION), station=station, **filters)
            .order_by("pk")
        )
        if not parcels:
            # a phone whose last digits match a waiting parcel, with the wrong name:
            # the attempt counts against that parcel too
            candidates: list[Parcel] = []
            if "phone_last4" in filters:
                candidates = list(
                    Parcel.objects.filter(
                        in_states(sm.AT_STATION),
                        station=station,
                        phone_last4=filters["phone_last4"],
                    ).order_by("pk")
                )
            return "no_match", candidates
        window, _st, _p = _pickup_limits()
        counts = dict(
            PickupFailure.objects.filter(parcel__in=parcels, created_at__gt=now - window)
            .values_list("parcel_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        locked = [p for p in parcels if counts.get(p.pk, 0) >= max_parcel]
        if locked:
            return "locked", locked
        ScanEvent.objects.bulk_create(
            [
                ScanEvent(
                    # every hand-out's event id carries the hand-out prefix, the caller's
                    # idempotency key after it: commissions and fingerprints recognise a
                    # hand-out by it (logistics.selectors.parcels_handed_out)
                    event_id=HANDOUT_EVENT_PREFIX
                    + (
                        (event_id if len(parcels) == 1 else f"{event_id}:{n}")
                        if event_id
                        else uuid.uuid4().hex
                    ),
                    parcel=p,
                    type=sm.PICKED_UP,
                    occurred_at=when,
                    region_id=station.region_id,
                    station=station,
                    actor=actor if getattr(actor, "pk", None) else None,
                    device=device[:60],
                )
                for n, p in enumerate(parcels, start=1)
            ]
        )
        _recompute_many(parcels)
        if "phone_last4" in filters:  # no code: who took what, on whose word
            for p in parcels:
                audit_record(
                    action="pickup_by_phone_name",
                    object_type="logistics.Parcel",
                    object_id=p.uuid,
                    object_repr=f"{p.tracking_number}",
                    region_code=p.village_id,
                    after={
                        "station": station.code,
                        "recipient_name": p.recipient_name,
                        "phone_last4": p.phone_last4,
                    },
                    personal_data=True,
                    actor=actor if getattr(actor, "pk", None) else None,
                )
    return "ok", parcels


def exception_resolve(*, scope: RegionScope, exc: ParcelException, actor: Any, note: str) -> None:
    if not _visible(scope, exc.parcel):
        raise NotFound()
    exc.status = ExceptionStatus.RESOLVED
    exc.resolved_by = actor if getattr(actor, "pk", None) else None
    exc.resolved_at = timezone.now()
    exc.note = (note or "")[:300]
    exc.save(update_fields=["status", "resolved_by", "resolved_at", "note", "updated_at"])
