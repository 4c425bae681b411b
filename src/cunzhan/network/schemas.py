from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from django.core.exceptions import ObjectDoesNotExist
from ninja import Field, Schema
from pydantic import BeforeValidator, WithJsonSchema

from cunzhan.core.validation import PHONE_RE
from cunzhan.network.models import Capability, StationKind, StationStatus

# Rules about one value are published in the schema (ADR 0032): the enums are the
# models' choices, and the patterns are the services' checks.
CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"


def _clock_text(value: Any) -> Any:
    """Only the published text form of a clock time: no number of seconds, no zone."""
    if not isinstance(value, str) or not re.fullmatch(CLOCK, value):
        raise ValueError("a local time HH:MM (00:00 to 23:59)")
    return value


def _date_text(value: Any) -> Any:
    """A date is published as YYYY-MM-DD text; pydantic alone would take a number too."""
    if not isinstance(value, str):
        raise ValueError("a date YYYY-MM-DD (text)")
    return value


if TYPE_CHECKING:
    Day = dt.date
    KindName = str
    StatusName = str
    CapabilityName = str
    ClockTime = dt.time
else:
    Day = Annotated[dt.date, BeforeValidator(_date_text)]
    KindName = Literal[tuple(StationKind.values)]
    StatusName = Literal[tuple(StationStatus.values)]
    CapabilityName = Literal[tuple(Capability.values)]
    # "HH:MM" (or "HH:MM:SS"), local time without a zone: a station's opening hours
    ClockTime = Annotated[
        dt.time,
        BeforeValidator(_clock_text),
        WithJsonSchema({"type": "string", "pattern": CLOCK}),
    ]

# text that is not blank (the services strip it)
NOT_BLANK = r"\S"
# a mainland mobile or a landline with its area code (core.validation.PHONE_RE)
PHONE = PHONE_RE.pattern
OPTIONAL_PHONE = "^(" + PHONE.removeprefix("^").removesuffix("$") + ")?$"
# the region code of a county, township or village
STATION_REGION = r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$"
# 1 (Monday) to 7 (Sunday), each day once at most
OPEN_DAYS = r"^[1-7]{1,7}$"


class RegionOut(Schema):
    code: str
    name: str
    display_name: str
    level: int
    kind: str
    parent: str | None
    longitude: float | None
    latitude: float | None
    coord_source: str
    is_poverty_county: bool
    poverty_exit_year: int | None
    withdrawn: bool


class AliasOut(Schema):
    code: str
    name: str
    valid_from: int | None
    valid_until: int | None


class RegionDetailOut(RegionOut):
    descendant_counts: dict[str, int]
    aliases: list[AliasOut]
    ancestors: list[RegionOut]
    resolved_from: str | None


# --- stations ---------------------------------------------------------------------------------


class StationOut(Schema):
    id: int
    uuid: str
    code: str
    name: str
    kind: str
    status: str
    region_code: str
    region_name: str
    address: str
    longitude: float | None
    latitude: float | None
    coord_synthetic: bool
    opens_at: str
    closes_at: str
    open_days: str
    capabilities: list[str]
    phone: str

    @staticmethod
    def resolve_uuid(obj: Any) -> str:
        return str(obj.uuid)

    @staticmethod
    def resolve_region_code(obj: Any) -> str:
        return obj.region_id

    @staticmethod
    def resolve_region_name(obj: Any) -> str:
        return obj.region.name

    @staticmethod
    def resolve_opens_at(obj: Any) -> str:
        return obj.opens_at.strftime("%H:%M")

    @staticmethod
    def resolve_closes_at(obj: Any) -> str:
        return obj.closes_at.strftime("%H:%M")


class StationApplicationOut(Schema):
    applicant_name: str
    applicant_phone: str
    premises_m2: int
    committee_recommendation: bool
    recommendation_note: str
    deposit_fen: int
    decision: str
    review_note: str
    reviewed_at: dt.datetime | None
    created_at: dt.datetime


class StationDetailOut(StationOut):
    application: StationApplicationOut | None
    allowed_actions: list[str]

    @staticmethod
    def resolve_application(obj: Any) -> Any:
        try:
            return obj.application
        except ObjectDoesNotExist:
            return None


class StationApplyIn(Schema):
    region_code: str = Field(..., pattern=STATION_REGION)
    kind: KindName
    name: str = Field(..., min_length=1, max_length=120, pattern=NOT_BLANK)
    address: str = Field("", max_length=200)
    applicant_name: str = Field(..., min_length=1, max_length=80, pattern=NOT_BLANK)
    applicant_phone: str = Field(..., max_length=20, pattern=PHONE)
    premises_m2: int = Field(..., ge=5, le=50_000)
    committee_recommendation: bool = False
    recommendation_note: str = Field("", max_length=300)
    deposit_fen: int = Field(0, ge=0, le=10_000_000)
    capabilities: list[CapabilityName] = Field(default_factory=lambda: ["parcels"], max_length=10)
    opens_at: ClockTime = Field(dt.time(8, 0), description="HH:MM, local time")
    closes_at: ClockTime = Field(dt.time(20, 0), description="HH:MM, local time; after opens_at")
    open_days: str = Field("1234567", pattern=OPEN_DAYS)


class StationApplyOut(StationDetailOut):
    pass


class StationSubmitIn(Schema):
    pass


class StationSubmitOut(StationDetailOut):
    pass


class StationReviewIn(Schema):
    approve: bool
    note: str = Field("", max_length=300)


class StationReviewOut(StationDetailOut):
    pass


class StationActivateIn(Schema):
    operator_username: str = Field("", max_length=150)
    operator_display_name: str = Field("", max_length=80)


class StationActivateOut(Schema):
    station: StationDetailOut
    operator_username: str
    one_time_password: str


class StationNoteIn(Schema):
    note: str = Field("", max_length=300)


class StationSuspendIn(StationNoteIn):
    pass


class StationSuspendOut(StationDetailOut):
    pass


class StationReinstateIn(StationNoteIn):
    pass


class StationReinstateOut(StationDetailOut):
    pass


class StationCloseIn(StationNoteIn):
    pass


class StationCloseOut(StationDetailOut):
    pass


class StationUpdateIn(Schema):
    """Only the fields sent are changed. A point is GCJ-02 and makes coordinates real."""

    name: str | None = Field(None, min_length=1, max_length=120, pattern=NOT_BLANK)
    address: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=20, pattern=OPTIONAL_PHONE)
    opens_at: ClockTime | None = Field(None, description="HH:MM, local time")
    closes_at: ClockTime | None = Field(None, description="HH:MM, local time")
    open_days: str | None = Field(None, pattern=OPEN_DAYS)
    capabilities: list[CapabilityName] | None = Field(None, max_length=10)
    longitude: float | None = Field(None, ge=-180, le=180)
    latitude: float | None = Field(None, ge=-90, le=90)


class StationUpdateOut(StationDetailOut):
    pass


# --- helpers (淘帮手) ---------------------------------------------------------------------------


class StationHelperOut(Schema):
    id: int
    name: str
    phone: str
    started_on: dt.date
    ended_on: dt.date | None
    active: bool


class StationHelpersOut(Schema):
    station_id: int
    station_code: str
    station_name: str
    helpers: list[StationHelperOut]


class StationHelperAddIn(Schema):
    name: str = Field(..., min_length=1, max_length=40, pattern=NOT_BLANK)
    phone: str = Field("", max_length=20, pattern=OPTIONAL_PHONE)
    started_on: Day = Field(..., description="Not after today.")


class StationHelperEndIn(Schema):
    ended_on: Day | None = Field(
        None, description="Today when omitted; not before the start, not after today."
    )
