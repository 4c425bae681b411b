from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from ninja import Field, Schema


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
    region_code: str = Field(..., min_length=6, max_length=12, pattern=r"^[0-9]+$")
    kind: str = Field(..., max_length=20)
    name: str = Field(..., min_length=1, max_length=120)
    address: str = Field("", max_length=200)
    applicant_name: str = Field(..., min_length=1, max_length=80)
    applicant_phone: str = Field(..., max_length=20)
    premises_m2: int = Field(..., ge=0, le=10_000_000)
    committee_recommendation: bool = False
    recommendation_note: str = Field("", max_length=300)
    deposit_fen: int = Field(0, ge=0, le=10**12)
    capabilities: list[str] = Field(default_factory=lambda: ["parcels"], max_length=10)
    opens_at: dt.time = dt.time(8, 0)
    closes_at: dt.time = dt.time(20, 0)
    open_days: str = Field("1234567", min_length=1, max_length=7)


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

    name: str | None = Field(None, min_length=1, max_length=120)
    address: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=20)
    opens_at: dt.time | None = None
    closes_at: dt.time | None = None
    open_days: str | None = Field(None, min_length=1, max_length=7)
    capabilities: list[str] | None = Field(None, max_length=10)
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
    # lengths and formats are checked by the service (errors naming the field)
    name: str = Field(..., max_length=200)
    phone: str = Field("", max_length=40)
    started_on: dt.date


class StationHelperEndIn(Schema):
    ended_on: dt.date | None = Field(None, description="Today when omitted.")
