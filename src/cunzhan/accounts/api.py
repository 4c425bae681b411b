from __future__ import annotations

from django.contrib.auth import authenticate
from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate

from cunzhan.accounts import schemas
from cunzhan.accounts.roles import ROLE_PERMS, Perm
from cunzhan.accounts.selectors import scope_for_user, user_list
from cunzhan.accounts.services import api_token_create
from cunzhan.core.api import ERROR_RESPONSES, Pagination, require
from cunzhan.core.errors import ApplicationError

router = Router(tags=["accounts"])


@router.post("/token", auth=None, response={201: schemas.TokenOut, **ERROR_RESPONSES})
def token_create(request: HttpRequest, data: schemas.TokenIn):
    """Exchange a username and password for an API token (shown once)."""
    user = authenticate(request, username=data.username, password=data.password)
    if user is None:
        raise ApplicationError("wrong username or password", code="bad_credentials", status=401)
    token, key = api_token_create(user=user, name=data.name[:80] or "api")  # type: ignore[arg-type]
    return Status(201, {"token": key, "prefix": token.prefix})


@router.get("/me", response={200: schemas.MeOut, **ERROR_RESPONSES})
def me(request: HttpRequest):
    user = request.auth  # type: ignore[attr-defined]
    scope = scope_for_user(user)
    return {
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "permissions": sorted(ROLE_PERMS.get(user.role, ())),
        "national": scope.everything,
        "region_codes": list(scope.prefixes),
        "station_ids": list(scope.station_ids) if scope.station_ids is not None else None,
    }


@router.get("/users", response={200: list[schemas.UserOut], **ERROR_RESPONSES})
@paginate(Pagination)
def users(request: HttpRequest):
    user = require(request, Perm.MANAGE_USERS)
    return user_list(scope=scope_for_user(user))
