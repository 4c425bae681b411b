"""API of the up-and-down slice under /api/v1/logistics: CSV manifests, upward
shipments, station fees, aging and the county's logistics settings
(docs/adr/0012-returns-fees-shipments.md). Scoped like the parcel API: outside the
caller's scope, 404."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, File, Form, Path, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from cunzhan.accounts.roles import Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.api import (
    ERROR_RESPONSES,
    HHMM_PATTERN,
    Id,
    JsonNumber,
    Pagination,
    resolved_annotations,
)
from cunzhan.core.errors import NotFound
from cunzhan.logistics import aging, county_settings, fees, manifest_csv, schemas, shipments
from cunzhan.logistics import selectors as parcel_selectors
from cunzhan.logistics.api import MANIFEST_ROLES, READ_ROLES, _user
from cunzhan.logistics.models import Shipment
from cunzhan.network.models import Region, Station

router = Router(tags=["logistics"])

BOOK_ROLES = frozenset({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.STATION_OPERATOR})
COUNTY_ROLES = frozenset({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER})
COLLECT_ROLES = frozenset({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.DRIVER})
FEE_ROLES = frozenset(
    {Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.STATION_OPERATOR, Role.AUDITOR}
)


# a county in a URL: its 6 digits
CountyPath = Path(..., pattern=r"^[0-9]{6}$", description="a county's 6 digits")


class ShipmentIn(Schema):
    """The station must be in operation (409 ``station_inactive``)."""

    station_id: Annotated[int, JsonNumber] = Field(..., ge=1, le=2**63 - 1)
    producer_name: str = Field(..., min_length=1, max_length=80, pattern=schemas.TEXT_PATTERN)
    producer_phone: str = Field(
        "", pattern=r"^(\+?[0-9][0-9 -]{6,39})?$", description="7-15 digits (spaces, '-' ignored)"
    )
    contents: str = Field(..., min_length=1, max_length=200, pattern=schemas.TEXT_PATTERN)
    pieces: Annotated[int, JsonNumber] = Field(..., ge=1, le=shipments.MAX_PIECES)
    weight_g: Annotated[int, JsonNumber] = Field(..., ge=1, le=shipments.MAX_WEIGHT_G)
    destination: str = Field(..., min_length=1, max_length=200, pattern=schemas.TEXT_PATTERN)
    outbound_carrier: str = Field("", pattern=r"^([A-Za-z0-9]{2,20})?$")


class HandOverIn(Schema):
    carrier: str = Field(..., pattern=schemas.CARRIER_PATTERN)
    tracking_number: str = Field(..., pattern=schemas.TRACKING_PATTERN)


class ShipmentOut(Schema):
    id: uuid.UUID
    station_id: int
    station_code: str
    producer_name: str
    contents: str
    pieces: int
    weight_g: int
    destination: str
    outbound_carrier: str | None
    outbound_tracking: str
    state: str
    created_at: dt.datetime
    collected_at: dt.datetime | None
    at_county_at: dt.datetime | None
    handed_over_at: dt.datetime | None


class FeeRowOut(Schema):
    station_id: int
    station_code: str
    station_name: str
    month: str
    down_count: int
    down_fen: int
    up_count: int
    up_fen: int
    owed_fen: int
    posted_fen: int
    total_fen: int


class AgingOut(Schema):
    counties: list[str]
    reminders_sent: int
    returns_due: int
    fees_down: int
    fees_up: int
    fees_fen: int


class SettingsOut(Schema):
    county_code: str
    county_name: str
    cutoff: str
    reminder_days: int
    return_days: int
    fee_down_fen: int
    fee_up_fen: int
    circuity_pct: int
    speed_kmh: int
    saved: bool


class SettingsIn(Schema):
    """``return_days`` must stay above ``reminder_days`` (else 422)."""

    cutoff: str | None = Field(None, pattern=HHMM_PATTERN, description="HH:MM")
    reminder_days: Annotated[int | None, JsonNumber] = Field(None, ge=1, le=60)
    return_days: Annotated[int | None, JsonNumber] = Field(None, ge=2, le=90)
    fee_down_fen: Annotated[int | None, JsonNumber] = Field(None, ge=0, le=100_000)
    fee_up_fen: Annotated[int | None, JsonNumber] = Field(None, ge=0, le=100_000)
    circuity_pct: Annotated[int | None, JsonNumber] = Field(None, ge=100, le=300)
    speed_kmh: Annotated[int | None, JsonNumber] = Field(None, ge=5, le=120)


class CsvManifestOut(schemas.ManifestOut):
    encoding: str
    rows: int


def shipment_out(s: Shipment) -> dict[str, Any]:
    return {
        "id": s.uuid,
        "station_id": s.station_id,
        "station_code": s.station.code,
        "producer_name": s.producer_name,
        "contents": s.contents,
        "pieces": s.pieces,
        "weight_g": s.weight_g,
        "destination": s.destination,
        "outbound_carrier": s.outbound_carrier.code if s.outbound_carrier else None,
        "outbound_tracking": s.outbound_tracking,
        "state": s.state,
        "created_at": s.created_at,
        "collected_at": s.collected_at,
        "at_county_at": s.at_county_at,
        "handed_over_at": s.handed_over_at,
    }


class _Mapped:
    def __init__(self, qs: Any) -> None:
        self.qs = qs

    def all(self) -> Any:
        return self.qs

    def __getitem__(self, key: slice) -> list[dict]:
        return [shipment_out(s) for s in self.qs[key]]


@router.post("/manifests/csv", response={201: CsvManifestOut, **ERROR_RESPONSES})
def manifest_csv_post(
    request: HttpRequest,
    carrier: str = Form(..., pattern=schemas.CARRIER_PATTERN),
    file: UploadedFile = File(...),  # noqa: B008
):
    """A carrier's manifest as a CSV file (multipart: ``file`` and ``carrier``). UTF-8
    with or without BOM, or GB18030; headers in English or Chinese (see
    ``logistics/manifest_csv.py``). Validated as a whole: errors name the CSV line and
    column, nothing is written."""
    user = _user(request, MANIFEST_ROLES)
    data = file.read(manifest_csv.MAX_BYTES + 1)
    parsed_rows = manifest_csv.parse(data)
    result = manifest_csv.manifest_csv_intake(
        scope=scope_for_user(user), carrier_code=carrier[:20], data=data, actor=user
    )
    return Status(
        201,
        {
            "carrier": result.carrier,
            "created": len(result.created),
            "duplicates": result.duplicates,
            "unmatched": result.unmatched,
            "parcels": [p.uuid for p in result.created],
            "encoding": parsed_rows.encoding,
            "rows": len(parsed_rows.rows),
        },
    )


@router.get("/shipments", response={200: list[ShipmentOut], **ERROR_RESPONSES})
@paginate(Pagination)
@resolved_annotations
def shipments_list(
    request: HttpRequest,
    state: Literal["", "booked", "collected", "at_county", "handed_over", "cancelled"] = "",
    station_id: Id | None = None,
):
    """Upward shipments in the caller's scope, newest first; filters ``state`` and
    ``station_id``."""
    user = _user(request, READ_ROLES)
    qs = shipments.shipment_list(
        scope=scope_for_user(user), state=state[:20], station_id=station_id
    )
    return _Mapped(qs)


@router.post("/shipments", response={201: ShipmentOut, **ERROR_RESPONSES})
def shipment_book(request: HttpRequest, payload: ShipmentIn):
    """Book an upward shipment at a station for a producer (station operators: their
    own station). The next run that visits the station collects it."""
    user = _user(request, BOOK_ROLES)
    station = Station.objects.filter(pk=payload.station_id).first()
    if station is None:
        raise NotFound()
    s = shipments.shipment_book(
        scope=scope_for_user(user),
        station=station,
        producer_name=payload.producer_name,
        producer_phone=payload.producer_phone,
        contents=payload.contents,
        pieces=payload.pieces,
        weight_g=payload.weight_g,
        destination=payload.destination,
        outbound_carrier=payload.outbound_carrier,
        actor=user,
    )
    return Status(201, shipment_out(s))


@router.get("/shipments/{shipment_id}", response={200: ShipmentOut, **ERROR_RESPONSES})
def shipment_detail(request: HttpRequest, shipment_id: uuid.UUID):
    user = _user(request, READ_ROLES)
    return shipment_out(shipments.shipment_get(scope=scope_for_user(user), shipment_id=shipment_id))


@router.post("/shipments/{shipment_id}/cancel", response={200: ShipmentOut, **ERROR_RESPONSES})
def shipment_cancel(request: HttpRequest, shipment_id: uuid.UUID):
    """Cancel a booking no run has collected yet (409 ``wrong_state`` otherwise)."""
    user = _user(request, BOOK_ROLES)
    scope = scope_for_user(user)
    s = shipments.shipment_get(scope=scope, shipment_id=shipment_id)
    return shipment_out(shipments.shipment_cancel(scope=scope, shipment=s, actor=user))


@router.post("/shipments/{shipment_id}/collect", response={200: ShipmentOut, **ERROR_RESPONSES})
def shipment_collect(request: HttpRequest, shipment_id: uuid.UUID):
    """A run picked the booked shipment up at its station."""
    user = _user(request, COLLECT_ROLES)
    scope = scope_for_user(user)
    s = shipments.shipment_get(scope=scope, shipment_id=shipment_id)
    return shipment_out(shipments.shipment_collect(scope=scope, shipment=s, actor=user))


@router.post("/shipments/{shipment_id}/scan-in", response={200: ShipmentOut, **ERROR_RESPONSES})
def shipment_scan_in(request: HttpRequest, shipment_id: uuid.UUID):
    """The county centre scans the shipment in (from collected, or booked when the
    run's pickup scan is missing)."""
    user = _user(request, COUNTY_ROLES)
    scope = scope_for_user(user)
    s = shipments.shipment_get(scope=scope, shipment_id=shipment_id)
    return shipment_out(shipments.shipment_scan_in(scope=scope, shipment=s, actor=user))


@router.post("/shipments/{shipment_id}/hand-over", response={200: ShipmentOut, **ERROR_RESPONSES})
def shipment_hand_over(request: HttpRequest, shipment_id: uuid.UUID, payload: HandOverIn):
    """Hand the shipment to the outbound carrier under its tracking number (unique per
    carrier: 409 ``duplicate_tracking``)."""
    user = _user(request, COUNTY_ROLES)
    scope = scope_for_user(user)
    s = shipments.shipment_get(scope=scope, shipment_id=shipment_id)
    return shipment_out(
        shipments.shipment_hand_over(
            scope=scope,
            shipment=s,
            carrier=payload.carrier,
            tracking_number=payload.tracking_number,
            actor=user,
        )
    )


@router.get("/fees", response={200: list[FeeRowOut], **ERROR_RESPONSES})
def fees_list(
    request: HttpRequest,
    station_id: Id | None = None,
    month: str = Query("", pattern=r"^([0-9]{4}-(0[1-9]|1[0-2]))?$", description="YYYY-MM"),
):
    """Station fees per station and month (``month`` YYYY-MM): counts and fen, down
    and up, owed and posted. Station operators see their own stations."""
    user = _user(request, FEE_ROLES)
    return fees.fee_summary(scope=scope_for_user(user), station_id=station_id, month=month[:7])


@router.post("/aging/{county_code}/run", response={200: AgingOut, **ERROR_RESPONSES})
def aging_run(request: HttpRequest, county_code: str = CountyPath):
    """Run aging now for the county: one reminder SMS per parcel waiting the reminder
    days, ``return_due`` for those waiting the return days, then the fee sweep."""
    user = _user(request, COUNTY_ROLES)
    scope = scope_for_user(user)
    county = county_settings.county_get(scope=scope, county_code=county_code[:12])
    return aging.aging_run(scope=scope, county_code=county.code, actor=user).as_dict()


def settings_out(county: Region) -> dict[str, Any]:
    s = parcel_selectors.county_settings(county_code=county.code)
    cutoff = s.cutoff if isinstance(s.cutoff, dt.time) else dt.time.fromisoformat(str(s.cutoff))
    return {
        "county_code": county.code,
        "county_name": county.name,
        "cutoff": cutoff.strftime("%H:%M"),
        "reminder_days": s.reminder_days,
        "return_days": s.return_days,
        "fee_down_fen": s.fee_down_fen,
        "fee_up_fen": s.fee_up_fen,
        "circuity_pct": s.circuity_pct,
        "speed_kmh": s.speed_kmh,
        "saved": not s._state.adding,
    }


@router.get("/settings/{county_code}", response={200: SettingsOut, **ERROR_RESPONSES})
def settings_get(request: HttpRequest, county_code: str = CountyPath):
    """The county's logistics settings (the defaults until it saves its own)."""
    user = _user(request, READ_ROLES)
    county = county_settings.county_get(scope=scope_for_user(user), county_code=county_code[:12])
    return settings_out(county)


@router.put("/settings/{county_code}", response={200: SettingsOut, **ERROR_RESPONSES})
def settings_put(request: HttpRequest, payload: SettingsIn, county_code: str = CountyPath):
    """Change some settings (fields left out stay as they are): the county's manager or
    a network admin. Validated as a whole (return days > reminder days ...); audited."""
    user = _user(request, COUNTY_ROLES)
    values = {k: v for k, v in payload.dict().items() if v is not None}
    scope = scope_for_user(user)
    county = county_settings.county_get(scope=scope, county_code=county_code[:12])
    county_settings.county_settings_update(
        scope=scope, county_code=county.code, actor=user, **values
    )
    return settings_out(county)
