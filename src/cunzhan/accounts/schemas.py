from __future__ import annotations

from ninja import Schema


class AssignmentOut(Schema):
    region_code: str | None
    station_id: int | None


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
    role: str
    is_active: bool
