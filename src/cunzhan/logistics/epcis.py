"""GS1 EPCIS 2.0 JSON-LD: scan events out (export) and carriers' tracking events in (import).

Every scan event is one ``ObjectEvent``; the mapping of our event types to CBV 2.0
business steps and dispositions, and the URN schemes for parcels, places and events,
are in docs/adr/0010-event-ingest.md:

- parcel (``epcList``): ``urn:cunzhan:parcel:<carrier code>:<tracking number>``
- event (``eventID``): ``urn:cunzhan:event:<event_id>``
- station (``readPoint``): ``urn:cunzhan:station:<station code>``
- region (``bizLocation``): ``urn:cunzhan:region:<12-digit region code>``

An event type without a CBV counterpart (misrouted, and any type added later) uses the
business step ``urn:cunzhan:bizstep:<type>`` (EPCIS allows any URI there).

The import side is pure (a document in, event dicts for the bulk path out); the export
reads through the scope like every selector.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
import zoneinfo
from typing import Any

from django.conf import settings
from django.db.models import Q

from cunzhan.core.errors import ApplicationError, NotFound, Unprocessable
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import is_ascii_digits
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, ScanEvent

__all__ = [
    "CONTEXT",
    "DOC_TYPES",
    "EXPORT_MAP",
    "document_export",
    "event_type_for",
    "events_from_document",
    "is_document",
]

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
EXT_NS = "urn:cunzhan:epcis:"  # our extension fields: cunzhan:eventType, cunzhan:device
DOC_TYPES = frozenset({"EPCISDocument", "EPCISQueryDocument"})

PARCEL_URN = "urn:cunzhan:parcel:"
EVENT_URN = "urn:cunzhan:event:"
STATION_URN = "urn:cunzhan:station:"
REGION_URN = "urn:cunzhan:region:"
BIZSTEP_URN = "urn:cunzhan:bizstep:"
MAX_EXPORT = 10_000

# event type -> (action, CBV 2.0 bizStep, CBV 2.0 disposition)
EXPORT_MAP: dict[str, tuple[str, str, str]] = {
    sm.ANNOUNCED: ("ADD", "commissioning", "active"),
    sm.RECEIVED_AT_COUNTY: ("OBSERVE", "receiving", "in_progress"),
    sm.SORTED: ("OBSERVE", "staging_outbound", "in_progress"),
    sm.LOADED: ("OBSERVE", "loading", "in_transit"),
    sm.AT_STATION: ("OBSERVE", "arriving", "in_progress"),
    sm.PICKED_UP: ("OBSERVE", "dispensing", "dispensed"),
    sm.RETURNED: ("OBSERVE", "shipping", "returned"),
    sm.REFUSED: ("OBSERVE", "accepting", "non_conformant"),
    sm.DAMAGED: ("OBSERVE", "inspecting", "damaged"),
    sm.LOST: ("OBSERVE", "inspecting", "unknown"),
    sm.MISROUTED: ("OBSERVE", BIZSTEP_URN + sm.MISROUTED, "in_progress"),
    # to go back to the carrier: no CBV step says "waited too long / sent back", so ours
    sm.RETURN_DUE: ("OBSERVE", BIZSTEP_URN + sm.RETURN_DUE, "in_progress"),
    # a run takes the return away from the station
    sm.COLLECTED: ("OBSERVE", "departing", "in_transit"),
}

_BY_STEP_DISP = {(step, disp): t for t, (_a, step, disp) in EXPORT_MAP.items()}
_steps: dict[str, list[str]] = {}
for _t, (_a, _step, _d) in EXPORT_MAP.items():
    _steps.setdefault(_step, []).append(_t)
# a business step that names one event type maps without looking at the disposition
_BY_STEP = {step: ts[0] for step, ts in _steps.items() if len(ts) == 1}

_STEP_PREFIXES = ("urn:epcglobal:cbv:bizstep:", "https://ref.gs1.org/cbv/BizStep-", "cbv:BizStep-")
_DISP_PREFIXES = ("urn:epcglobal:cbv:disp:", "https://ref.gs1.org/cbv/Disp-", "cbv:Disp-")
_EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
_OFFSET_RE = re.compile(r"^[+-][0-9]{2}:[0-9]{2}$")


def _strip(value: Any, prefixes: tuple[str, ...]) -> str:
    s = str(value or "").strip()
    for p in prefixes:
        if s.startswith(p):
            return s[len(p) :]
    return s


def event_type_for(biz_step: Any, disposition: Any = "") -> str | None:
    """Our event type for a CBV business step (bare, URN or GS1 web URI form) and
    disposition; None when there is none."""
    step = _strip(biz_step, _STEP_PREFIXES)
    disp = _strip(disposition, _DISP_PREFIXES)
    if step.startswith(BIZSTEP_URN):
        t = step[len(BIZSTEP_URN) :]
        return t if t in sm.EVENT_TYPES else None
    return _BY_STEP_DISP.get((step, disp)) or _BY_STEP.get(step)


# --- export -------------------------------------------------------------------------------


def _zone() -> dt.tzinfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE or "Asia/Shanghai")


def _offset(at: dt.datetime, zone: dt.tzinfo) -> str:
    off = at.astimezone(zone).utcoffset() or dt.timedelta(0)
    minutes = int(off.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _utc(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def object_event(
    *,
    event_id: str,
    type_: str,
    occurred_at: dt.datetime,
    recorded_at: dt.datetime | None,
    carrier: str,
    tracking_number: str,
    station_code: str | None,
    region_code: str | None,
    device: str,
    zone: dt.tzinfo,
) -> dict[str, Any]:
    action, step, disp = EXPORT_MAP.get(type_, ("OBSERVE", BIZSTEP_URN + type_, ""))
    ev: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": EVENT_URN + event_id,
        "eventTime": _utc(occurred_at),
        "eventTimeZoneOffset": _offset(occurred_at, zone),
    }
    if recorded_at is not None:
        ev["recordTime"] = _utc(recorded_at)
    ev["epcList"] = [f"{PARCEL_URN}{carrier}:{tracking_number}"]
    ev["action"] = action
    ev["bizStep"] = step
    if disp:
        ev["disposition"] = disp
    if station_code:
        ev["readPoint"] = {"id": STATION_URN + station_code}
    if region_code:
        ev["bizLocation"] = {"id": REGION_URN + region_code}
    ev["cunzhan:eventType"] = type_
    if device:
        ev["cunzhan:device"] = device
    return ev


def document_export(
    *,
    scope: RegionScope,
    parcel_id: uuid.UUID | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    village: str = "",
    after: int = 0,
    limit: int = 1000,
) -> tuple[dict[str, Any], int | None]:
    """An ``EPCISDocument`` with the scan events visible in ``scope`` (oldest stored
    first), filtered by parcel, time (``since`` inclusive, ``until`` exclusive) and
    village (a region code prefix); at most ``limit`` events after the cursor
    ``after``. Returns the document and the cursor of the next page (None: last)."""
    if not 1 <= limit <= MAX_EXPORT:
        raise ApplicationError(f"limit: 1 to {MAX_EXPORT}", code="invalid_filter")
    qs = ScanEvent.objects.filter(scope.q("parcel__village_id"))
    if not scope.everything and scope.station_ids is not None:
        qs = qs.filter(parcel__station_id__in=list(scope.station_ids))
    if parcel_id is not None:
        pid = (
            Parcel.objects.filter(scope.q("village_id"), uuid=parcel_id)
            .filter(
                Q()
                if scope.everything or scope.station_ids is None
                else Q(station_id__in=list(scope.station_ids))
            )
            .values_list("pk", flat=True)
            .first()
        )
        if pid is None:
            raise NotFound()
        qs = qs.filter(parcel_id=pid)
    if village:
        if not is_ascii_digits(village) or len(village) > 12:
            raise ApplicationError("village: a region code", code="invalid_filter")
        qs = qs.filter(RegionScope.for_regions([village]).q("parcel__village_id"))
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    if after:
        qs = qs.filter(pk__gt=after)
    rows = list(
        qs.order_by("pk").values_list(
            "pk",
            "event_id",
            "type",
            "occurred_at",
            "recorded_at",
            "parcel__carrier__code",
            "parcel__tracking_number",
            "station__code",
            "region_id",
            "device",
        )[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    zone = _zone()
    events = [
        object_event(
            event_id=eid,
            type_=t,
            occurred_at=at,
            recorded_at=rec,
            carrier=carrier,
            tracking_number=tn,
            station_code=st,
            region_code=region,
            device=device,
            zone=zone,
        )
        for _pk, eid, t, at, rec, carrier, tn, st, region, device in rows
    ]
    doc = {
        "@context": [CONTEXT, {"cunzhan": EXT_NS}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _utc(dt.datetime.now(dt.UTC)),
        "epcisBody": {"eventList": events},
    }
    return doc, (rows[-1][0] if more and rows else None)


# --- import -------------------------------------------------------------------------------


def _event_list(doc: dict[str, Any]) -> list[Any]:
    body = doc.get("epcisBody")
    if not isinstance(body, dict):
        raise Unprocessable("EPCIS document: epcisBody is missing", code="invalid_epcis")
    if doc.get("type") == "EPCISQueryDocument":
        results = body.get("queryResults")
        body = results.get("resultsBody") if isinstance(results, dict) else None
        if not isinstance(body, dict):
            raise Unprocessable(
                "EPCIS query document: queryResults.resultsBody is missing", code="invalid_epcis"
            )
    events = body.get("eventList")
    if not isinstance(events, list):
        raise Unprocessable("EPCIS document: eventList is missing", code="invalid_epcis")
    return events


def _event_id(raw: Any, ev: dict[str, Any]) -> str:
    """Our idempotency key: the eventID (ours, or a carrier's short enough URI), a hash
    of a longer one, or, without an eventID, a hash of what the event says."""
    s = str(raw or "").strip()
    if s.startswith(EVENT_URN) and _EVENT_ID_RE.match(s[len(EVENT_URN) :]):
        return s[len(EVENT_URN) :]
    if s and _EVENT_ID_RE.match(s):
        return s
    basis = s or repr(sorted((k, repr(v)) for k, v in ev.items()))
    return "epcis:" + hashlib.sha256(basis.encode()).hexdigest()[:40]


def _time(ev: dict[str, Any]) -> dt.datetime | None:
    raw = ev.get("eventTime")
    if not isinstance(raw, str):
        return None
    try:
        at = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is None:
        off = ev.get("eventTimeZoneOffset")
        if not (isinstance(off, str) and _OFFSET_RE.match(off)):
            return None
        at = dt.datetime.fromisoformat(raw + off)
    return at


def is_document(doc: Any) -> bool:
    """A JSON object whose ``type`` says it is an EPCIS document."""
    return isinstance(doc, dict) and isinstance(doc.get("type"), str) and doc["type"] in DOC_TYPES


def events_from_document(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The scan events of an EPCIS 2.0 document (``EPCISDocument``, or the results of an
    ``EPCISQueryDocument``): one per EPC of each ObjectEvent. Anything that does not map
    (another event type, a business step with no event type, an EPC that is not a
    parcel) is an error naming the event (from 1) and its eventID; nothing is kept."""
    if not is_document(doc):
        raise Unprocessable(
            "an EPCIS document has type EPCISDocument or EPCISQueryDocument",
            code="invalid_epcis",
        )
    raw_events = _event_list(doc)
    if len(raw_events) > 10_000:
        raise Unprocessable(
            f"at most 10000 events per batch, got {len(raw_events)} EPCIS events",
            code="batch_too_large",
        )
    out: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []

    def err(i: int, ev: Any, fld: str, message: str) -> None:
        eid = ev.get("eventID") if isinstance(ev, dict) else None
        errors.append({"row": i, "event": eid, "field": fld, "message": message})

    for i, ev in enumerate(raw_events, start=1):
        if not isinstance(ev, dict):
            err(i, ev, "event", "must be an object")
            continue
        if ev.get("type") != "ObjectEvent":
            err(i, ev, "type", f"only ObjectEvent is imported, not {ev.get('type')!r}")
            continue
        if ev.get("action") not in ("ADD", "OBSERVE", "DELETE"):
            err(i, ev, "action", "ADD, OBSERVE or DELETE")
            continue
        type_ = event_type_for(ev.get("bizStep"), ev.get("disposition"))
        if type_ is None:
            err(
                i,
                ev,
                "bizStep",
                f"bizStep {ev.get('bizStep')!r} with disposition {ev.get('disposition')!r} "
                "maps to no parcel event type",
            )
            continue
        at = _time(ev)
        if at is None:
            err(i, ev, "eventTime", "an ISO 8601 time (with a zone or eventTimeZoneOffset)")
            continue
        epcs = ev.get("epcList")
        if not isinstance(epcs, list) or not epcs:
            err(i, ev, "epcList", "one or more parcel URIs")
            continue
        keys: list[list[str]] = []
        for epc in epcs:
            s = str(epc)
            parts = s[len(PARCEL_URN) :].split(":", 1) if s.startswith(PARCEL_URN) else []
            if len(parts) != 2 or not all(parts):
                keys = []
                err(i, ev, "epcList", f"{s!r} is not a {PARCEL_URN}<carrier>:<tracking> URI")
                break
            keys.append(parts)
        if not keys:
            continue
        station = ""
        read_point = ev.get("readPoint")
        rp = str(read_point.get("id") or "") if isinstance(read_point, dict) else ""
        if rp.startswith(STATION_URN):
            station = rp[len(STATION_URN) :]
        base = _event_id(ev.get("eventID"), ev)
        device = str(ev.get("cunzhan:device") or "")[:60]
        for n, (carrier, tn) in enumerate(keys):
            eid = base if len(keys) == 1 else f"{base[:58]}.{n}"
            out.append(
                {
                    "event_id": eid,
                    "carrier": carrier,
                    "tracking_number": tn,
                    "type": type_,
                    "occurred_at": at,
                    "station_code": station,
                    "device": device,
                }
            )
    if errors:
        first = errors[0]
        raise Unprocessable(
            f"the EPCIS document is not valid: {len(errors)} error(s); first: event "
            f"{first['row']} ({first['event'] or 'no eventID'}), {first['field']}: "
            f"{first['message']}",
            code="invalid_epcis",
            details={"errors": errors[:1000]},
        )
    if len(out) > 10_000:
        raise Unprocessable(
            f"at most 10000 events per batch, got {len(out)} (one per EPC)",
            code="batch_too_large",
        )
    return out
