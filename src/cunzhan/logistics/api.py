"""Parcel API under /api/v1/logistics: manifests, scan-event batches, parcels, hand-out.

A parcel is visible to users whose scope contains its village (station operators: their
station); outside it, 404. Roles: see ``READ_ROLES`` and the write role sets below.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status
from ninja.pagination import paginate

from cunzhan.accounts.roles import Perm, Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.api import (
    ERROR_RESPONSES,
    ErrorOut,
    Id,
    IsoDateTime,
    Pagination,
    require,
    resolved_annotations,
)
from cunzhan.core.errors import NotFound, PermissionDenied
from cunzhan.logistics import epcis, schemas, selectors, services
from cunzhan.logistics.models import Parcel
from cunzhan.network.models import Station

router = Router(tags=["logistics"])

READ_ROLES = frozenset(
    {Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.STATION_OPERATOR, Role.DRIVER, Role.AUDITOR}
)
MANIFEST_ROLES = frozenset({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER})
SCAN_ROLES = frozenset(
    {Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.STATION_OPERATOR, Role.DRIVER}
)
PICKUP_ROLES = frozenset({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.STATION_OPERATOR})
# What each role may scan is checked by the service (logistics/scan_rights.py, ADR 0028):
# ``picked_up`` is refused on this path for everyone — a hand-out needs its proof and goes
# through ``POST /stations/{id}/pickup``.


def _user(request: HttpRequest, roles: frozenset[str]) -> Any:
    user = require(request, Perm.VIEW_NETWORK)
    if user.role not in roles:
        raise PermissionDenied("this action is not open to your role")
    return user


def parcel_out(p: Parcel) -> dict[str, Any]:
    return {
        "id": p.uuid,
        "carrier": p.carrier.code,
        "tracking_number": p.tracking_number,
        "direction": p.direction,
        "recipient_name": p.recipient_name,
        "phone_last4": p.phone_last4,
        "village_code": p.village_id,
        "village_name": p.village.name,
        "station_code": p.station.code if p.station_id and p.station else None,
        "weight_g": p.weight_g,
        "size_class": p.size_class,
        "cod_fen": p.cod_fen,
        "state": p.state,
        "state_at": p.state_at,
        "shelf_slot": p.shelf_slot,
        "created_at": p.created_at,
    }


class _Mapped:
    def __init__(self, qs: Any) -> None:
        self.qs = qs

    def all(self) -> Any:
        return self.qs

    def __getitem__(self, key: slice) -> list[dict]:
        return [parcel_out(p) for p in self.qs[key]]


@router.post("/manifests", response={201: schemas.ManifestOut, **ERROR_RESPONSES})
def manifest_post(request: HttpRequest, payload: schemas.ManifestIn):
    """A carrier's manifest: every row announces a parcel, matched to the recipient's
    village station (unmatched ones go to the exceptions queue). Validated as a whole:
    errors name the row (from 1) and the field, nothing is written. Sending the same
    manifest again creates nothing and lists the rows as duplicates."""
    user = _user(request, MANIFEST_ROLES)
    result = services.manifest_intake(
        scope=scope_for_user(user),
        carrier_code=payload.carrier,
        rows=[r.dict() for r in payload.rows],
        actor=user,
    )
    return Status(
        201,
        {
            "carrier": result.carrier,
            "created": len(result.created),
            "duplicates": result.duplicates,
            "unmatched": result.unmatched,
            "parcels": [p.uuid for p in result.created],
        },
    )


_EVENTS_BODY = {
    "requestBody": {
        "required": True,
        "description": (
            "At most 10,000 events, as a JSON array, as NDJSON (one event object per line) "
            "or as a GS1 EPCIS 2.0 JSON-LD document (one scan event per EPC of each "
            "ObjectEvent; see docs/adr/0010-event-ingest.md for the mapping)."
        ),
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": services.MAX_BATCH,
                    "items": schemas.ScanEventIn.model_json_schema(),
                }
            },
            "application/x-ndjson": {
                "schema": {
                    "type": "string",
                    "description": "one ScanEventIn JSON object per line (blank lines ignored)",
                }
            },
            "application/ld+json": {"schema": schemas.EPCIS_DOCUMENT_SCHEMA},
        },
    }
}


@router.post(
    "/events",
    response={200: schemas.EventBatchOut, 409: ErrorOut, 415: ErrorOut, **ERROR_RESPONSES},
    openapi_extra=_EVENTS_BODY,
)
def events_post(request: HttpRequest):
    """A batch of scan events: a JSON array, NDJSON (``Content-Type:
    application/x-ndjson``, one event per line) or a GS1 EPCIS 2.0 document
    (``application/ld+json``, or a JSON object with ``"type": "EPCISDocument"``), at
    most 10,000 events. Validated as a whole (a malformed NDJSON line, an unmappable
    EPCIS event, an unknown parcel: an error naming it, nothing written) and applied
    atomically; answered with a status per event, in order: ``applied``, ``illegal``
    (stored; an exception is opened for a person) or ``duplicate`` (already stored:
    sending a batch again changes nothing)."""
    user = _user(request, SCAN_ROLES)
    body = request.read(services.MAX_BODY_BYTES + 1)
    events = services.event_batch_parse(body=body, content_type=request.content_type or "")
    statuses = services.scan_events_record(scope=scope_for_user(user), events=events, actor=user)
    counts = {k: sum(1 for s in statuses if s["status"] == k) for k in ("applied", "illegal")}
    out = {
        "applied": counts["applied"],
        "illegal": counts["illegal"],
        "duplicate": len(statuses) - counts["applied"] - counts["illegal"],
        "events": statuses,
    }
    # built here, not validated by the response schema: the statuses are plain strings
    # made by the service, and validating 10,000 of them cost a twentieth of a batch
    return HttpResponse(
        json.dumps(out, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )


_EPCIS_RESPONSE = {
    "responses": {
        200: {
            "description": "a GS1 EPCIS 2.0 JSON-LD EPCISDocument",
            "content": {
                "application/ld+json": {
                    "schema": {
                        "type": "object",
                        "required": ["@context", "type", "schemaVersion", "epcisBody"],
                        "properties": {
                            "type": {"type": "string", "enum": ["EPCISDocument"]},
                            "epcisBody": {
                                "type": "object",
                                "required": ["eventList"],
                                "properties": {
                                    "eventList": {"type": "array", "items": {"type": "object"}}
                                },
                            },
                        },
                    }
                }
            },
        }
    }
}


@router.get("/epcis", response={200: None, **ERROR_RESPONSES}, openapi_extra=_EPCIS_RESPONSE)
def epcis_export(
    request: HttpRequest,
    parcel: uuid.UUID | None = None,
    since: IsoDateTime | None = None,
    until: IsoDateTime | None = None,
    village: str = Query("", pattern=schemas.REGION_PREFIX_PATTERN),
    after: int = Query(0, ge=0, le=2**63 - 1),
    limit: int = Query(1000, ge=1, le=epcis.MAX_EXPORT),
):
    """Scan events as a GS1 EPCIS 2.0 JSON-LD ``EPCISDocument`` (one ``ObjectEvent``
    each; ``application/ld+json``), oldest stored first. Filters: ``parcel`` (its id),
    ``since`` (inclusive) and ``until`` (exclusive) on the event time, ``village`` (a
    region code prefix); at most ``limit`` (1-10,000) events after the cursor
    ``after``. When there are more, the ``Link`` header (``rel="next"``) and
    ``GS1-Next-Page-Token`` give the next cursor. The document can be sent back to
    ``POST /logistics/events``."""
    user = _user(request, READ_ROLES)
    doc, nxt = epcis.document_export(
        scope=scope_for_user(user),
        parcel_id=parcel,
        since=since,
        until=until,
        village=village[:12],
        after=max(0, after),
        limit=limit,
    )
    response = HttpResponse(
        json.dumps(doc, ensure_ascii=False), content_type="application/ld+json; charset=utf-8"
    )
    if nxt is not None:
        query = request.GET.copy()
        query["after"] = str(nxt)
        response["Link"] = f'<{request.path}?{query.urlencode()}>; rel="next"'
        response["GS1-Next-Page-Token"] = str(nxt)
    return response


@router.get("/parcels", response={200: list[schemas.ParcelOut], **ERROR_RESPONSES})
@paginate(Pagination)
@resolved_annotations
def parcels_list(
    request: HttpRequest,
    state: Literal["", schemas.ParcelState] = "",
    village: str = Query("", pattern=schemas.REGION_PREFIX_PATTERN),
    station_id: Id | None = None,
    carrier: str = Query("", max_length=20),
    q: str = Query("", max_length=80),
):
    """Parcels in the caller's scope, newest first; filters: ``state``, ``village``
    (region code prefix), ``station_id``, ``carrier`` (code), ``q`` (tracking number
    prefix or the recipient's exact name)."""
    user = _user(request, READ_ROLES)
    qs = selectors.parcel_list(
        scope=scope_for_user(user),
        state=state,
        village=village[:12],
        station_id=station_id,
        carrier=carrier[:20],
        q=q,
    )
    return _Mapped(qs)


@router.get("/parcels/{parcel_id}", response={200: schemas.ParcelDetailOut, **ERROR_RESPONSES})
def parcel_detail(request: HttpRequest, parcel_id: uuid.UUID):
    """One parcel with its events (in the order the state machine applies them) and its
    exceptions."""
    user = _user(request, READ_ROLES)
    p = selectors.parcel_get(scope=scope_for_user(user), parcel_id=parcel_id)
    return {
        **parcel_out(p),
        # the hand-out secret: only for those who hand parcels out
        "pickup_code": p.pickup_code if user.role in PICKUP_ROLES else "",
        "events": [
            {
                "event_id": e.event_id,
                "type": e.type,
                "occurred_at": e.occurred_at,
                "station_code": e.station.code if e.station else None,
                "device": e.device,
                "recorded_at": e.recorded_at,
            }
            for e in selectors.parcel_events(parcel=p)
        ],
        "exceptions": [
            {
                "id": x.pk,
                "problem": x.problem,
                "detail": x.detail,
                "status": x.status,
                "event_id": x.event.event_id if x.event else None,
                "note": x.note,
            }
            for x in selectors.parcel_exceptions(parcel=p)
        ],
    }


@router.post(
    "/stations/{station_id}/pickup",
    response={200: schemas.PickupOut, 429: ErrorOut, **ERROR_RESPONSES},
)
def pickup_post(request: HttpRequest, station_id: Id, payload: schemas.PickupIn):
    """Hand out what waits at the station: by pickup ``code``, or by ``phone_last4``
    plus the recipient's ``name``. Two operators at once: exactly one succeeds. After
    too many failed attempts at the station or against a parcel within the window, 429
    ``pickup_locked`` (``details.retry_at``), even for the right code."""
    user = _user(request, PICKUP_ROLES)
    scope = scope_for_user(user)
    station = Station.objects.filter(pk=station_id).first()
    if station is None:
        raise NotFound()
    parcels = services.parcel_pick_up(
        scope=scope,
        station=station,
        code=payload.code,
        phone_last4=payload.phone_last4,
        name=payload.name,
        actor=user,
        device=payload.device,
    )
    return {"parcels": [parcel_out(p) for p in parcels]}


@router.post(
    "/parcels/{parcel_id}/resend-code", response={200: schemas.ResendOut, **ERROR_RESPONSES}
)
def pickup_code_resend(request: HttpRequest, parcel_id: uuid.UUID):
    """Send the pickup code SMS again (the parcel must be waiting at its station)."""
    user = _user(request, PICKUP_ROLES)
    scope = scope_for_user(user)
    parcel = selectors.parcel_get(scope=scope, parcel_id=parcel_id)
    services.pickup_code_resend(scope=scope, parcel=parcel)
    return {"sent": True}
