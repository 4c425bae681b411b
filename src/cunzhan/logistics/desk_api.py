"""The exceptions queue under /api/v1/logistics: list the exceptions in scope, resolve
one with a note (an unmatched parcel: optionally with the station it goes to).

Readers: network admins, county managers, auditors; resolvers: network admins and
county managers. Outside the caller's scope: 404.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.pagination import paginate

from cunzhan.accounts.roles import Perm, Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.api import ERROR_RESPONSES, Id, Pagination, require, resolved_annotations
from cunzhan.core.errors import PermissionDenied
from cunzhan.logistics import desk
from cunzhan.logistics.models import ParcelException

router = Router(tags=["logistics"])

EXCEPTION_READ_ROLES = frozenset({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.AUDITOR})
EXCEPTION_RESOLVE_ROLES = frozenset({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER})


class ExceptionOut(Schema):
    id: int
    problem: str
    detail: str
    status: str
    created_at: dt.datetime
    resolved_at: dt.datetime | None
    note: str
    event_id: str | None
    parcel_id: uuid.UUID
    carrier: str
    tracking_number: str
    recipient_name: str
    village_code: str
    village_name: str
    parcel_state: str
    station_code: str | None


class ExceptionResolveIn(Schema):
    note: str = Field(..., min_length=1, max_length=300, pattern=r"\S")
    station_code: str = Field(
        "", max_length=30, description="only for an unmatched parcel (else 422)"
    )


def _user(request: HttpRequest, roles: frozenset[str]) -> Any:
    user = require(request, Perm.VIEW_NETWORK)
    if user.role not in roles:
        raise PermissionDenied("this action is not open to your role")
    return user


def exception_out(x: ParcelException) -> dict[str, Any]:
    p = x.parcel
    return {
        "id": x.pk,
        "problem": x.problem,
        "detail": x.detail,
        "status": x.status,
        "created_at": x.created_at,
        "resolved_at": x.resolved_at,
        "note": x.note,
        "event_id": x.event.event_id if x.event_id and x.event else None,
        "parcel_id": p.uuid,
        "carrier": p.carrier.code,
        "tracking_number": p.tracking_number,
        "recipient_name": p.recipient_name,
        "village_code": p.village_id,
        "village_name": p.village.name,
        "parcel_state": p.state,
        "station_code": p.station.code if p.station_id and p.station else None,
    }


class _Mapped:
    def __init__(self, qs: Any) -> None:
        self.qs = qs

    def all(self) -> Any:
        return self.qs

    def __getitem__(self, key: slice) -> list[dict]:
        return [exception_out(x) for x in self.qs[key]]


@router.get("/exceptions", response={200: list[ExceptionOut], **ERROR_RESPONSES})
@paginate(Pagination)
@resolved_annotations
def exceptions_list(
    request: HttpRequest,
    status: Literal["", "open", "resolved"] = "open",
    problem: Literal["", "unmatched", "illegal_transition"] = "",
    county: str = Query("", pattern=r"^[0-9]{0,12}$", description="a region code prefix"),
    q: str = Query("", max_length=40),
):
    """Exceptions in the caller's scope, newest first: ``status`` (``open`` by default,
    ``resolved``, or empty for both), ``problem`` (``unmatched``,
    ``illegal_transition``), ``county`` (a region code prefix, e.g. a county's 6
    digits), ``q`` (tracking number prefix)."""
    user = _user(request, EXCEPTION_READ_ROLES)
    qs = desk.exception_list(
        scope=scope_for_user(user),
        status=status[:20],
        problem=problem[:30],
        county=county[:12],
        q=q[:40],
    )
    return _Mapped(qs)


@router.post("/exceptions/{exception_id}/resolve", response={200: ExceptionOut, **ERROR_RESPONSES})
def exception_resolve(request: HttpRequest, exception_id: Id, payload: ExceptionResolveIn):
    """Resolve an open exception with a ``note``. For an unmatched parcel,
    ``station_code`` gives it an active village station of its village or of another
    village of its township (before it reaches a station). Audited."""
    user = _user(request, EXCEPTION_RESOLVE_ROLES)
    scope = scope_for_user(user)
    x = desk.exception_resolve_with_station(
        scope=scope,
        exception_id=exception_id,
        note=payload.note,
        station_code=payload.station_code,
        actor=user,
    )
    return exception_out(desk.exception_get(scope=scope, exception_id=x.pk))
