"""Parcel writes: manifest intake, scan events, pickup codes, hand-out.

Every batch is validated as a whole before anything is written, then applied in one
transaction. Parcels touched by a batch are locked with ``select_for_update`` in a
fixed order (by id) so concurrent batches cannot deadlock; a parcel's state is then
recomputed from all its events by the one state machine (statemachine.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import (
    Carrier,
    ExceptionStatus,
    Parcel,
    ParcelException,
    ScanEvent,
    SizeClass,
    SmsMessage,
)
from cunzhan.network.models import Level, Region, Station, StationKind, StationStatus

logger = logging.getLogger("cunzhan.logistics")
T = TypeVar("T")

MAX_BATCH = 10_000
MAX_WEIGHT_G = 100_000_000  # 100 t: anything above is a typo
MAX_COD_FEN = 10**10
TRACKING_RE = re.compile(r"^[A-Za-z0-9-]{4,40}$")
PHONE_RE = re.compile(r"^\+?\d{7,15}$")
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _err(errors: list[dict[str, Any]], row: int, fld: str, message: str) -> None:
    errors.append({"row": row, "field": fld, "message": message})


def _raise_if(errors: list[dict[str, Any]], what: str, code: str) -> None:
    if errors:
        first = errors[0]
        raise ApplicationError(
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
        raise ApplicationError(f"unknown carrier {code!r}", code="unknown_carrier")
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
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
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
    if not re.fullmatch(r"\d{12}", village):
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
        raise ApplicationError("the manifest has no rows", code="invalid_manifest")
    if len(rows) > MAX_BATCH:
        raise ApplicationError(
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

APPLIED = "applied"
ILLEGAL = "illegal"
DUPLICATE = "duplicate"


@dataclass(frozen=True)
class EventIn:
    event_id: str
    carrier: str
    tracking_number: str
    type: str
    occurred_at: dt.datetime
    station_code: str = ""
    device: str = ""


def _content(parcel_id: int, type_: str, at: dt.datetime, station_id: int | None, device: str):
    return (parcel_id, type_, at, station_id, device)


def _parse_events(events: Sequence[Any]) -> tuple[list[EventIn], list[dict[str, Any]]]:
    errors: list[dict[str, Any]] = []
    out: list[EventIn] = []
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
        if type_ not in sm.EVENT_TYPES:
            _err(errors, i, "type", f"one of {', '.join(sm.EVENT_TYPES)}")
        at = raw.get("occurred_at")
        if isinstance(at, str):
            try:
                at = dt.datetime.fromisoformat(at)
            except ValueError:
                at = None
        if not isinstance(at, dt.datetime) or at.tzinfo is None:
            _err(errors, i, "occurred_at", "an ISO 8601 time with a time zone")
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


def scan_events_record(
    *, scope: RegionScope, events: Sequence[Any], actor: Any = None
) -> list[dict[str, Any]]:
    """Append scan events idempotently; answer one status per event, in input order:
    ``applied``, ``illegal`` (stored, an exception opened) or ``duplicate`` (this
    ``event_id`` is already stored with the same content: nothing done). The batch is
    validated as a whole (unknown parcel or station, a reused id with other content:
    an error naming the event, nothing written) and applied in one transaction."""
    if len(events) > MAX_BATCH:
        raise ApplicationError(
            f"at most {MAX_BATCH} events per batch, got {len(events)}", code="batch_too_large"
        )
    if not events:
        raise ApplicationError("the batch has no events", code="invalid_batch")
    parsed, errors = _parse_events(events)
    _raise_if(errors, "the batch is not valid", "invalid_batch")

    # the parcels and stations named, in scope
    keys = {(e.carrier, e.tracking_number) for e in parsed}
    carriers = {c.code: c.pk for c in Carrier.objects.filter(code__in={k[0] for k in keys})}
    parcels: dict[tuple[str, str], Parcel] = {}
    by_carrier: dict[str, list[str]] = {}
    for c, tn in keys:
        by_carrier.setdefault(c, []).append(tn)
    for c, tns in by_carrier.items():
        if c not in carriers:
            continue
        for p in Parcel.objects.filter(carrier_id=carriers[c], tracking_number__in=tns):
            if _visible(scope, p):
                parcels[(c, p.tracking_number)] = p
    st_codes = {e.station_code for e in parsed if e.station_code}
    stations = {
        s.code: s
        for s in Station.objects.filter(code__in=st_codes)
        if scope.contains_code(s.region_id)
    }
    in_batch: dict[str, tuple] = {}
    rows: list[tuple[EventIn, Parcel, Station | None, tuple]] = []
    for i, e in enumerate(parsed, start=1):
        found = parcels.get((e.carrier, e.tracking_number))
        if found is None:
            _err(errors, i, "tracking_number", f"unknown parcel {e.carrier}:{e.tracking_number}")
            continue
        p = found
        st = stations.get(e.station_code) if e.station_code else None
        if e.station_code and st is None:
            _err(errors, i, "station_code", f"unknown station {e.station_code}")
            continue
        content = _content(p.pk, e.type, e.occurred_at, st.pk if st else None, e.device)
        prev = in_batch.setdefault(e.event_id, content)
        if prev != content:
            _err(errors, i, "event_id", "repeated in the batch with other content")
            continue
        rows.append((e, p, st, content))
    _raise_if(errors, "the batch is not valid", "invalid_batch")

    return _retry_locked(lambda: _scan_events_apply(rows, in_batch, actor))


def _scan_events_apply(
    rows: list[tuple[EventIn, Parcel, Station | None, tuple]],
    in_batch: dict[str, tuple],
    actor: Any,
) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    try:
        with transaction.atomic():
            ids = sorted({p.pk for _, p, _, _ in rows})
            locked = {
                p.pk: p
                for p in Parcel.objects.select_for_update().filter(pk__in=ids).order_by("pk")
            }
            stored = {
                ev.event_id: ev for ev in ScanEvent.objects.filter(event_id__in=list(in_batch))
            }
            statuses: list[dict[str, Any]] = []
            new: list[ScanEvent] = []
            seen_new: set[str] = set()
            for i, (e, p, st, content) in enumerate(rows, start=1):
                old = stored.get(e.event_id)
                if old is not None:
                    if (
                        _content(
                            old.parcel_id, old.type, old.occurred_at, old.station_id, old.device
                        )
                        != content
                    ):
                        _err(errors, i, "event_id", "already used for another event")
                    statuses.append({"event_id": e.event_id, "status": DUPLICATE})
                    continue
                if e.event_id in seen_new:
                    statuses.append({"event_id": e.event_id, "status": DUPLICATE})
                    continue
                seen_new.add(e.event_id)
                statuses.append({"event_id": e.event_id, "status": APPLIED})
                new.append(
                    ScanEvent(
                        event_id=e.event_id,
                        parcel=locked[p.pk],
                        type=e.type,
                        occurred_at=e.occurred_at,
                        region_id=st.region_id if st else None,
                        station=st,
                        actor=actor if getattr(actor, "pk", None) else None,
                        device=e.device,
                    )
                )
            _raise_if(errors, "the batch is not valid", "invalid_batch")
            ScanEvent.objects.bulk_create(new, batch_size=1000)
            touched = sorted({ev.parcel_id for ev in new})
            illegal_ids: set[str] = set()
            for pid in touched:
                illegal_ids |= _recompute(locked[pid])
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


def _recompute(parcel: Parcel) -> set[str]:
    """Derive the (locked) parcel's state from all its events; sync its exceptions and
    its pickup code. Returns the ids of the illegal events."""
    events = list(parcel.events.all().values_list("occurred_at", "event_id", "type", "station_id"))
    result = sm.derive_state(sm.Event(at, eid, t) for at, eid, t, _ in events)
    by_id = {eid: (at, st) for at, eid, _, st in events}
    before = parcel.state
    parcel.state = result.state
    if result.last_event_id:
        parcel.state_at = by_id[result.last_event_id][0]
    fields = ["state", "state_at", "updated_at"]
    if result.state == sm.AT_STATION:
        arrived_at = by_id[result.last_event_id][1]
        if arrived_at and parcel.station_id != arrived_at:
            parcel.station_id = arrived_at
            parcel.pickup_code = ""
            fields.append("station")
        if not parcel.pickup_code and parcel.station_id:
            _assign_code(parcel)
            fields += ["pickup_code", "shelf_slot"]
    elif result.state != sm.PICKED_UP and parcel.pickup_code:
        parcel.pickup_code = ""
        parcel.shelf_slot = ""
        fields += ["pickup_code", "shelf_slot"]
    parcel.save(update_fields=fields)
    if before != sm.AT_STATION and result.state == sm.AT_STATION and parcel.pickup_code:
        _notify(parcel)
    # exceptions: one open per illegal event; those no longer illegal are resolved
    illegal = {i.event_id: i for i in result.illegal}
    open_exc = {
        x.event.event_id: x
        for x in ParcelException.objects.filter(
            parcel=parcel,
            problem=ParcelException.Problem.ILLEGAL_TRANSITION,
            status=ExceptionStatus.OPEN,
        ).select_related("event")
        if x.event is not None
    }
    for eid, x in open_exc.items():
        if eid not in illegal:
            x.status = ExceptionStatus.RESOLVED
            x.resolved_at = timezone.now()
            x.note = "legal after events arrived out of order"
            x.save(update_fields=["status", "resolved_at", "note", "updated_at"])
    recorded = set(
        ParcelException.objects.filter(
            parcel=parcel, problem=ParcelException.Problem.ILLEGAL_TRANSITION
        ).values_list("event__event_id", flat=True)
    )
    missing = [i for eid, i in illegal.items() if eid not in recorded]
    if missing:
        ev = {
            e.event_id: e.pk
            for e in parcel.events.filter(event_id__in=[i.event_id for i in missing])
        }
        ParcelException.objects.bulk_create(
            [
                ParcelException(
                    parcel=parcel,
                    event_id=ev[i.event_id],
                    problem=ParcelException.Problem.ILLEGAL_TRANSITION,
                    detail=i.problem[:300],
                )
                for i in missing
            ]
        )
    return set(illegal)


# --- pickup codes -------------------------------------------------------------------------


def _assign_code(parcel: Parcel) -> None:
    """A 6-digit code unused among the parcels waiting at the station, and the lowest
    free shelf slot. The station row is locked (after the parcels: a fixed order)."""
    assert parcel.station_id is not None
    Station.objects.select_for_update().filter(pk=parcel.station_id).first()
    waiting = Parcel.objects.filter(station_id=parcel.station_id, state=sm.AT_STATION).exclude(
        pk=parcel.pk
    )
    used = set(waiting.values_list("pickup_code", flat=True))
    while True:
        code = f"{secrets.randbelow(1_000_000):06d}"
        if code not in used:
            break
    slots = set(waiting.values_list("shelf_slot", flat=True))
    n = 1
    while f"{parcel.size_class}-{n:03d}" in slots:
        n += 1
    parcel.pickup_code = code
    parcel.shelf_slot = f"{parcel.size_class}-{n:03d}"


def _notify(parcel: Parcel) -> None:
    station = Station.objects.filter(pk=parcel.station_id or 0).only("name").first()
    text = (
        f"【村站】您的{parcel.carrier_id}快递 {parcel.tracking_number} 已到"
        f"{station.name if station else '村站'}，取件码 {parcel.pickup_code}。"
    )
    sms_backend().send(phone=parcel.recipient_phone, text=text, parcel=parcel)


def pickup_code_resend(*, scope: RegionScope, parcel: Parcel) -> None:
    if not _visible(scope, parcel):
        raise NotFound()
    if parcel.state != sm.AT_STATION or not parcel.pickup_code:
        raise ApplicationError("the parcel is not waiting for pickup", code="not_waiting")
    _notify(parcel)


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
) -> list[Parcel]:
    """Hand out what waits at ``station``: the parcel with pickup ``code``, or every
    parcel for the recipient with phone ending ``phone_last4`` AND named ``name``.
    Records a ``picked_up`` event for each. Concurrent hand-outs of the same parcel:
    exactly one succeeds (the parcel row is locked and re-checked)."""
    if not scope.contains_code(station.region_id) or (
        scope.station_ids is not None and station.pk not in scope.station_ids
    ):
        raise NotFound()
    code = (code or "").strip()
    phone_last4 = (phone_last4 or "").strip()
    name = (name or "").strip()
    if code:
        if not re.fullmatch(r"\d{6}", code):
            raise ApplicationError("the pickup code has 6 digits", code="invalid_code")
        filters: dict[str, Any] = {"pickup_code": code}
    elif phone_last4 and name:
        if not re.fullmatch(r"\d{4}", phone_last4):
            raise ApplicationError("phone_last4: 4 digits", code="invalid_code")
        filters = {"phone_last4": phone_last4, "recipient_name": name}
    else:
        raise ApplicationError(
            "give the pickup code, or the phone's last 4 digits and the name",
            code="invalid_code",
        )
    when = at or timezone.now()
    return _retry_locked(lambda: _pick_up_locked(station, filters, when, actor, device))


def _pick_up_locked(
    station: Station, filters: dict[str, Any], when: dt.datetime, actor: Any, device: str
) -> list[Parcel]:
    with transaction.atomic():
        parcels = list(
            Parcel.objects.select_for_update()
            .filter(station=station, state=sm.AT_STATION, **filters)
            .order_by("pk")
        )
        if not parcels:
            raise ApplicationError(
                "no parcel waits at this station for that code or recipient",
                code="no_match",
                status=404,
            )
        for p in parcels:
            ScanEvent.objects.create(
                event_id=f"pickup:{uuid.uuid4().hex}",
                parcel=p,
                type=sm.PICKED_UP,
                occurred_at=when,
                region_id=station.region_id,
                station=station,
                actor=actor if getattr(actor, "pk", None) else None,
                device=device[:60],
            )
            _recompute(p)
    return parcels


def exception_resolve(*, scope: RegionScope, exc: ParcelException, actor: Any, note: str) -> None:
    if not _visible(scope, exc.parcel):
        raise NotFound()
    exc.status = ExceptionStatus.RESOLVED
    exc.resolved_by = actor if getattr(actor, "pk", None) else None
    exc.resolved_at = timezone.now()
    exc.note = (note or "")[:300]
    exc.save(update_fields=["status", "resolved_by", "resolved_at", "note", "updated_at"])
