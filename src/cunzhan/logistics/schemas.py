"""API schemas of the parcel core."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import BaseModel

from cunzhan.core.api import IsoDateTime, JsonNumber

# The values the published schema allows (tests/logistics/test_api_schema.py checks them
# against the state machine and the models' choices).
ParcelState = Literal[
    "announced",
    "received_at_county",
    "sorted",
    "loaded",
    "at_station",
    "picked_up",
    "returned",
    "refused",
    "damaged",
    "lost",
    "return_due",
    "collected",
]
ScanType = Literal[
    "announced",
    "received_at_county",
    "sorted",
    "loaded",
    "at_station",
    "picked_up",
    "returned",
    "refused",
    "damaged",
    "lost",
    "misrouted",
    "return_due",
    "collected",
]
SizeClassIn = Literal["S", "M", "L", "XL", "s", "m", "l", "xl"]
# a carrier's code (the carriers are stored data: an unknown one is 422 unknown_carrier)
CARRIER_PATTERN = r"^[A-Za-z0-9]{2,20}$"
TRACKING_PATTERN = r"^[A-Za-z0-9-]{4,40}$"
EVENT_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
# a region code prefix as a filter ("" no filter)
REGION_PREFIX_PATTERN = r"^[0-9]{0,12}$"
# text that is more than white space
TEXT_PATTERN = r"\S"


class ManifestRowIn(Schema):
    tracking_number: str = Field(..., pattern=TRACKING_PATTERN)
    recipient_name: str = Field(..., min_length=1, max_length=80, pattern=TEXT_PATTERN)
    phone: str = Field(
        ..., pattern=r"^\+?[0-9][0-9 -]{6,39}$", description="7-15 digits (spaces, '-' ignored)"
    )
    village_code: str = Field(..., pattern=r"^[0-9]{12}$", description="a village's 12 digits")
    weight_g: Annotated[int, JsonNumber] = Field(..., ge=1, le=100_000_000)
    size_class: SizeClassIn = "S"
    cod_fen: Annotated[int, JsonNumber] = Field(0, ge=0, le=10**10)


class ManifestIn(Schema):
    carrier: str = Field(..., pattern=CARRIER_PATTERN)
    rows: list[ManifestRowIn] = Field(..., min_length=1, max_length=10_000)


class ManifestOut(Schema):
    carrier: str
    created: int
    duplicates: list[str]
    unmatched: list[str]
    parcels: list[uuid.UUID]


class ScanEventIn(Schema):
    event_id: str = Field(..., pattern=EVENT_ID_PATTERN)
    carrier: str = Field(..., pattern=CARRIER_PATTERN)
    tracking_number: str = Field(..., pattern=TRACKING_PATTERN)
    type: ScanType
    occurred_at: IsoDateTime = Field(
        ..., description="with a time zone; from 2000 to two days from now"
    )
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
            "properties": {
                "eventList": {"type": "array", "maxItems": 10_000, "items": {"type": "object"}}
            },
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


class ParcelExceptionOut(Schema):
    id: int
    problem: str
    detail: str
    status: str
    event_id: str | None
    note: str


class ParcelDetailOut(ParcelOut):
    pickup_code: str
    events: list[EventOut]
    exceptions: list[ParcelExceptionOut]


class PickupIn(Schema):
    """The pickup ``code``, or ``phone_last4`` and ``name`` together (else 422)."""

    code: str = Field("", pattern=r"^([0-9]{6})?$", description="the 6-digit pickup code")
    phone_last4: str = Field("", pattern=r"^([0-9]{4})?$")
    name: str = Field("", max_length=80)
    device: str = Field("", max_length=60)


class PickupOut(Schema):
    parcels: list[ParcelOut]


class ResendOut(Schema):
    sent: bool
