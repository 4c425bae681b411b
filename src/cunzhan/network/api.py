from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.api import ERROR_RESPONSES, require
from cunzhan.network import schemas
from cunzhan.network.models import Level, Region, RegionAlias
from cunzhan.network.selectors import (
    region_ancestors,
    region_children,
    region_descendant_counts,
    region_display_name,
    region_get,
    region_resolve,
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
