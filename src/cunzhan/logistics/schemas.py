"""API schemas of the parcel core."""

from __future__ import annotations

import datetime as dt
import uuid

from ninja import Field, Schema
from pydantic import BaseModel


class ManifestRowIn(Schema):
    tracking_number: str = Field(..., max_length=60)
    recipient_name: str = Field(..., max_length=200)
    phone: str = Field(..., max_length=40)
    village_code: str = Field(..., max_length=20)
    weight_g: int
    size_class: str = Field("S", max_length=4)
    cod_fen: int = 0


class ManifestIn(Schema):
    carrier: str = Field(..., max_length=20)
    rows: list[ManifestRowIn] = Field(..., max_length=10_000)


class ManifestOut(Schema):
    carrier: str
    created: int
    duplicates: list[str]
    unmatched: list[str]
    parcels: list[uuid.UUID]


class ScanEventIn(Schema):
    event_id: str = Field(..., max_length=64)
    carrier: str = Field(..., max_length=20)
    tracking_number: str = Field(..., max_length=60)
    type: str = Field(..., max_length=30)
    occurred_at: dt.datetime
    station_code: str = Field("", max_length=30)
    device: str = Field("", max_length=60)


EPCIS_DOCUMENT_SCHEMA = {
    "type": "object",
    "description": (
        "A GS1 EPCIS 2.0 JSON-LD EPCISDocument (@context "
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld) whose "
        "epcisBody.eventList holds ObjectEvents: epcList of urn:cunzhan:parcel:<carrier>:"
        "<tracking number>, bizStep and disposition from CBV 2.0, eventTime, "
        "readPoint.id urn:cunzhan:station:<code>, eventID"
    ),
    "required": ["type", "epcisBody"],
    "properties": {
        "@context": {},
        "type": {"type": "string", "enum": ["EPCISDocument", "EPCISQueryDocument"]},
        "schemaVersion": {"type": "string"},
        "epcisBody": {
            "type": "object",
            "properties": {"eventList": {"type": "array", "maxItems": 10_000}},
        },
    },
}


# A plain pydantic model, not a ninja ``Schema``: a batch answers 10,000 of these, and
# Schema's per-object root validator (for ORM objects) cost a tenth of a batch's time.
class EventStatusOut(BaseModel):
    event_id: str
    status: str


class EventBatchOut(Schema):
    applied: int
    illegal: int
    duplicate: int
    events: list[EventStatusOut]


class ParcelOut(Schema):
    id: uuid.UUID
    carrier: str
    tracking_number: str
    direction: str
    recipient_name: str
    phone_last4: str
    village_code: str
    village_name: str
    station_code: str | None
    weight_g: int
    size_class: str
    cod_fen: int
    state: str
    state_at: dt.datetime | None
    shelf_slot: str
    created_at: dt.datetime


class EventOut(Schema):
    event_id: str
    type: str
    occurred_at: dt.datetime
    station_code: str | None
    device: str
    recorded_at: dt.datetime


class ExceptionOut(Schema):
    id: int
    problem: str
    detail: str
    status: str
    event_id: str | None
    note: str


class ParcelDetailOut(ParcelOut):
    pickup_code: str
    events: list[EventOut]
    exceptions: list[ExceptionOut]


class PickupIn(Schema):
    code: str = Field("", max_length=10)
    phone_last4: str = Field("", max_length=10)
    name: str = Field("", max_length=80)
    device: str = Field("", max_length=60)


class PickupOut(Schema):
    parcels: list[ParcelOut]


class ResendOut(Schema):
    sent: bool
