"""Network API: the region tree, stations and their life cycle, helpers.

No ``from __future__ import annotations`` here: ninja resolves the annotations of a
``@paginate`` view in the pagination module, where this module's names are not defined."""

import datetime as dt
from typing import Annotated

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Status
from ninja.pagination import paginate

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.api import ERROR_RESPONSES, Pagination, require
from cunzhan.network import schemas, services
from cunzhan.network.models import Level, Region, RegionAlias, Station, StationHelper
from cunzhan.network.schemas import KindName, StatusName
from cunzhan.network.selectors import (
    region_ancestors,
    region_children,
    region_descendant_counts,
    region_display_name,
    region_get,
    region_resolve,
    station_filters_clean,
    station_get,
    station_helper_get,
    station_helpers,
    station_list,
)

router = Router(tags=["network"])

LEVEL_KEYS = {int(v): k.lower() for k, v in Level.__members__.items()}


def region_out(region: Region, alias: RegionAlias | None = None) -> dict:
    return {
        "code": region.code,
        "name": region.name,
        "display_name": region_display_name(region, alias),
        "level": region.level,
        "kind": region.kind,
        "parent": region.parent_id,
        "longitude": region.longitude,
        "latitude": region.latitude,
        "coord_source": region.coord_source,
        "is_poverty_county": region.is_poverty_county,
        "poverty_exit_year": region.poverty_exit_year,
        "withdrawn": bool(region.withdrawn_in),
    }


def region_detail(region: Region, alias: RegionAlias | None = None) -> dict:
    counts = region_descendant_counts(code=region.code)
    return {
        **region_out(region, alias),
        "descendant_counts": {LEVEL_KEYS[lvl]: n for lvl, n in sorted(counts.items())},
        "aliases": [
            {
                "code": a.code,
                "name": a.name,
                "valid_from": a.valid_from,
                "valid_until": a.valid_until,
            }
            for a in region.aliases.all()
        ],
        "ancestors": [region_out(r) for r in region_ancestors(region=region)],
        "resolved_from": alias.code if alias is not None else None,
    }


@router.get("/regions", response={200: list[schemas.RegionOut], **ERROR_RESPONSES})
def regions_children(request: HttpRequest, parent: str | None = None):
    """Children of ``parent`` (provinces when omitted) visible to the caller."""
    user = require(request, Perm.VIEW_NETWORK)
    scope = scope_for_user(user)
    if parent:
        region_get(scope=scope, code=parent)
    return [region_out(r) for r in region_children(scope=scope, code=parent)]


@router.get("/regions/{code}", response={200: schemas.RegionDetailOut, **ERROR_RESPONSES})
def regions_get(request: HttpRequest, code: str):
    """One unit; a former code resolves to the unit that replaced it."""
    user = require(request, Perm.VIEW_NETWORK)
    scope = scope_for_user(user)
    region = region_get(scope=scope, code=code)
    _, alias = region_resolve(code=code)
    return region_detail(region, alias)


# --- stations ---------------------------------------------------------------------------------


def station_detail(station: Station, user: object) -> Station:
    """The station, annotated with the actions the caller may take now."""
    station.allowed_actions = services.station_actions_allowed(  # type: ignore[attr-defined]
        station=station, user=user
    )
    return station


def _station(request: HttpRequest, station_id: int, perm: str) -> tuple[object, Station]:
    user = require(request, perm)
    return user, station_get(scope=scope_for_user(user), station_id=station_id)


@router.get("/stations", response={200: list[schemas.StationOut], **ERROR_RESPONSES})
@paginate(Pagination)
def stations_list(
    request: HttpRequest,
    region: Annotated[str | None, Query(pattern=r"^[0-9]{1,12}$")] = None,
    kind: KindName | None = None,
    status: StatusName | None = None,
):
    """Stations in the caller's scope; filter by region (code prefix), kind and status."""
    user = require(request, Perm.VIEW_NETWORK)
    region_code, kind, status = station_filters_clean(region_code=region, kind=kind, status=status)
    return station_list(
        scope=scope_for_user(user), region_code=region_code, kind=kind, status=status
    )


@router.post("/stations/applications", response={201: schemas.StationApplyOut, **ERROR_RESPONSES})
def stations_apply(request: HttpRequest, data: schemas.StationApplyIn):
    """File an onboarding application; the station starts as ``proposed``."""
    user = require(request, Perm.APPLY_STATION)
    station = services.station_apply(**data.dict(), actor=user)
    station = station_get(scope=scope_for_user(user), station_id=station.pk)
    return Status(201, station_detail(station, user))


@router.get("/stations/{station_id}", response={200: schemas.StationDetailOut, **ERROR_RESPONSES})
def stations_get(request: HttpRequest, station_id: int):
    user, station = _station(request, station_id, Perm.VIEW_NETWORK)
    return station_detail(station, user)


@router.patch("/stations/{station_id}", response={200: schemas.StationUpdateOut, **ERROR_RESPONSES})
def stations_update(request: HttpRequest, station_id: int, data: schemas.StationUpdateIn):
    """Change details: hours, open days, services, phone, address, a surveyed point;
    the name (county managers only)."""
    user, station = _station(request, station_id, Perm.EDIT_STATION)
    station = services.station_update(station=station, actor=user, **data.dict(exclude_unset=True))
    return station_detail(station, user)


@router.post(
    "/stations/{station_id}/submit", response={200: schemas.StationSubmitOut, **ERROR_RESPONSES}
)
def stations_submit(request: HttpRequest, station_id: int, data: schemas.StationSubmitIn):
    """proposed -> under_review."""
    user, station = _station(request, station_id, Perm.APPLY_STATION)
    station = services.station_submit_for_review(station=station, actor=user)
    return station_detail(station, user)


@router.post(
    "/stations/{station_id}/review", response={200: schemas.StationReviewOut, **ERROR_RESPONSES}
)
def stations_review(request: HttpRequest, station_id: int, data: schemas.StationReviewIn):
    """The county's decision: approve (then activate) or reject (the station closes)."""
    user, station = _station(request, station_id, Perm.MANAGE_STATIONS)
    station = services.station_review(
        station=station, approve=data.approve, note=data.note, actor=user
    )
    return station_detail(station, user)


@router.post(
    "/stations/{station_id}/activate",
    response={200: schemas.StationActivateOut, **ERROR_RESPONSES},
)
def stations_activate(request: HttpRequest, station_id: int, data: schemas.StationActivateIn):
    """Open an approved station and create its operator's account. The password is
    returned here once and never again."""
    user, station = _station(request, station_id, Perm.MANAGE_STATIONS)
    station, operator, password = services.station_activate(
        station=station,
        actor=user,
        operator_username=data.operator_username,
        operator_display_name=data.operator_display_name,
    )
    return {
        "station": station_detail(station, user),
        "operator_username": operator.username,
        "one_time_password": password,
    }


@router.post(
    "/stations/{station_id}/suspend", response={200: schemas.StationSuspendOut, **ERROR_RESPONSES}
)
def stations_suspend(request: HttpRequest, station_id: int, data: schemas.StationSuspendIn):
    """active -> suspended."""
    user, station = _station(request, station_id, Perm.MANAGE_STATIONS)
    station = services.station_suspend(station=station, note=data.note, actor=user)
    return station_detail(station, user)


@router.post(
    "/stations/{station_id}/reinstate",
    response={200: schemas.StationReinstateOut, **ERROR_RESPONSES},
)
def stations_reinstate(request: HttpRequest, station_id: int, data: schemas.StationReinstateIn):
    """suspended -> active."""
    user, station = _station(request, station_id, Perm.MANAGE_STATIONS)
    station = services.station_reinstate(station=station, note=data.note, actor=user)
    return station_detail(station, user)


@router.post(
    "/stations/{station_id}/close", response={200: schemas.StationCloseOut, **ERROR_RESPONSES}
)
def stations_close(request: HttpRequest, station_id: int, data: schemas.StationCloseIn):
    """Any live status -> closed (final)."""
    user, station = _station(request, station_id, Perm.MANAGE_STATIONS)
    station = services.station_close(station=station, note=data.note, actor=user)
    return station_detail(station, user)


# --- helpers (淘帮手) ---------------------------------------------------------------------------


def helper_out(helper: StationHelper, today: dt.date) -> dict:
    return {
        "id": helper.pk,
        "name": helper.name,
        "phone": helper.phone,
        "started_on": helper.started_on,
        "ended_on": helper.ended_on,
        "active": helper.active_on(today),
    }


@router.get(
    "/stations/{station_id}/helpers", response={200: schemas.StationHelpersOut, **ERROR_RESPONSES}
)
def stations_helpers_list(request: HttpRequest, station_id: int):
    """The station's helpers (淘帮手), active first, then those who ended."""
    user, station = _station(request, station_id, Perm.VIEW_NETWORK)
    today = timezone.localdate()
    helpers = station_helpers(scope=scope_for_user(user), station=station)
    return {
        "station_id": station.pk,
        "station_code": station.code,
        "station_name": station.name,
        "helpers": [helper_out(h, today) for h in helpers],
    }


@router.post(
    "/stations/{station_id}/helpers", response={201: schemas.StationHelperOut, **ERROR_RESPONSES}
)
def stations_helpers_add(request: HttpRequest, station_id: int, data: schemas.StationHelperAddIn):
    """Record a helper working at an active station (its operator, or the county)."""
    user, station = _station(request, station_id, Perm.EDIT_STATION)
    helper = services.station_helper_add(
        scope=scope_for_user(user),
        station=station,
        name=data.name,
        phone=data.phone,
        started_on=data.started_on,
        actor=user,
    )
    return Status(201, helper_out(helper, timezone.localdate()))


@router.post(
    "/stations/{station_id}/helpers/{helper_id}/end",
    response={200: schemas.StationHelperOut, **ERROR_RESPONSES},
)
def stations_helpers_end(
    request: HttpRequest, station_id: int, helper_id: int, data: schemas.StationHelperEndIn
):
    """Record that a helper stopped (``ended_on``: the first day no longer worked)."""
    user, station = _station(request, station_id, Perm.EDIT_STATION)
    scope = scope_for_user(user)
    helper = station_helper_get(scope=scope, station=station, helper_id=helper_id)
    today = timezone.localdate()
    helper = services.station_helper_end(
        scope=scope, helper=helper, ended_on=data.ended_on or today, actor=user
    )
    return helper_out(helper, today)
