from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Literal

from ninja import Field, Schema

from cunzhan.accounts.roles import Role

if TYPE_CHECKING:
    RoleName = str
else:
    # the published enum is the model's choices (ADR 0032)
    RoleName = Literal[tuple(Role.values)]


class AssignmentOut(Schema):
    region_code: str | None
    station_id: int | None


StationId = Annotated[int, Field(ge=1, le=2**62)]
RegionCode = Annotated[str, Field(min_length=2, max_length=12, pattern=r"^[0-9]+$")]
# digits, an optional leading + and dashes (what user_update accepts), or empty
Phone = Annotated[str, Field(max_length=20, pattern=r"^(\+?[0-9][0-9-]*)?$")]


class UserAssignmentOut(Schema):
    region_code: str | None = Field(None, alias="region_id")
    region_name: str | None = None
    station_id: int | None
    station_name: str | None = None

    @staticmethod
    def resolve_region_name(obj) -> str | None:  # type: ignore[no-untyped-def]
        return obj.region.name if obj.region_id else None

    @staticmethod
    def resolve_station_name(obj) -> str | None:  # type: ignore[no-untyped-def]
        return obj.station.name if obj.station_id else None


class MeOut(Schema):
    username: str
    display_name: str
    role: str
    permissions: list[str]
    national: bool
    region_codes: list[str]
    station_ids: list[int] | None


class TokenIn(Schema):
    username: str
    password: str
    name: str = "api"


class TokenOut(Schema):
    token: str
    prefix: str


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    phone: str
    role: str
    is_active: bool
    last_login: dt.datetime | None
    assignments: list[UserAssignmentOut]

    @staticmethod
    def resolve_assignments(obj) -> list:  # type: ignore[no-untyped-def]
        return list(obj.assignments.all())


class UserCreateIn(Schema):
    username: str = Field(..., min_length=1, max_length=150, pattern=r"^[\w.@+-]+$")
    role: RoleName
    display_name: str = Field("", max_length=80)
    phone: Phone = ""
    region_codes: list[RegionCode] = Field(default_factory=list, max_length=100)
    station_ids: list[StationId] = Field(default_factory=list, max_length=100)


class UserCreateOut(Schema):
    user: UserOut
    password: str


class UserUpdateIn(Schema):
    display_name: str | None = Field(None, max_length=80)
    phone: Phone | None = None
    role: RoleName | None = None
    region_codes: list[RegionCode] | None = Field(None, max_length=100)
    station_ids: list[StationId] | None = Field(None, max_length=100)


class PasswordResetOut(Schema):
    password: str


class ApiTokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
