"""Accounts API: tokens, the caller, the users a manager may manage.

No ``from __future__ import annotations`` here: ninja resolves the annotations of a
``@paginate`` view in the pagination module, where ``RoleName`` is not defined."""

from django.contrib.auth import authenticate, user_logged_in
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Status
from ninja.pagination import paginate

from cunzhan.accounts import schemas
from cunzhan.accounts.lockout import lockout_message
from cunzhan.accounts.models import User
from cunzhan.accounts.roles import ROLE_PERMS, Perm
from cunzhan.accounts.schemas import RoleName
from cunzhan.accounts.selectors import (
    api_token_get,
    api_token_list,
    scope_for_user,
    user_get,
    user_manageable_list,
)
from cunzhan.accounts.services import (
    api_token_create,
    api_token_revoke,
    login_check,
    user_assignments_set,
    user_create,
    user_deactivate,
    user_password_reset,
    user_reactivate,
    user_update,
)
from cunzhan.core.api import ERROR_RESPONSES, ErrorOut, Pagination, require
from cunzhan.core.errors import ApplicationError

router = Router(tags=["accounts"])


@router.post(
    "/token", auth=None, response={201: schemas.TokenOut, **ERROR_RESPONSES, 429: ErrorOut}
)
def token_create(request: HttpRequest, data: schemas.TokenIn):
    """Exchange a username (any case) and password for an API token (shown once).

    After too many failures for one username from one address (settings
    ``CUNZHAN_LOGIN_FAILURE_LIMIT``), that pair is refused for a cool-off
    (``CUNZHAN_LOGIN_COOLOFF_MINUTES``): 429 ``locked_out``, ``details.retry_after_seconds``.
    A user holding a one-time password gets 403 ``password_change_required`` until they
    have chosen their own password on the web page."""
    user = authenticate(request, username=data.username, password=data.password)
    if user is None:
        if getattr(request, "axes_locked_out", False):
            raise ApplicationError(lockout_message(), code="locked_out", status=429)
        raise ApplicationError(_("用户名或密码不正确"), code="bad_credentials", status=401)
    login_check(user=user, channel="api")  # type: ignore[arg-type]
    # a login like the page's: last_login is set and axes resets this pair's failure count
    user_logged_in.send(sender=user.__class__, request=request, user=user)
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
def users(
    request: HttpRequest,
    role: RoleName | None = None,
    region: str | None = None,
    active: bool | None = None,
    q: str | None = None,
):
    """Users the caller may manage: everyone for network admins; station operators and
    drivers wholly inside their county for county managers."""
    user = require(request, Perm.MANAGE_USERS)
    return user_manageable_list(
        actor=user,
        role=(role or "")[:30],
        region=(region or "").strip()[:12],
        active=active,
        q=(q or "").strip()[:80],
    )


def _managed(request: HttpRequest, user_id: int) -> tuple[User, User]:
    actor = require(request, Perm.MANAGE_USERS)
    return actor, user_get(actor=actor, user_id=user_id)


@router.post("/users", response={201: schemas.UserCreateOut, **ERROR_RESPONSES})
def users_create(request: HttpRequest, data: schemas.UserCreateIn):
    """Create a user with a role the caller may grant, assigned inside the caller's scope.
    The initial password is returned once."""
    actor = require(request, Perm.MANAGE_USERS)
    user, password = user_create(
        username=data.username,
        role=data.role,
        display_name=data.display_name,
        phone=data.phone,
        region_codes=data.region_codes,
        station_ids=data.station_ids,
        actor=actor,
    )
    return Status(201, {"user": user_get(actor=actor, user_id=user.pk), "password": password})


@router.get("/users/{user_id}", response={200: schemas.UserOut, **ERROR_RESPONSES})
def users_get(request: HttpRequest, user_id: int):
    _actor, user = _managed(request, user_id)
    return user


@router.patch("/users/{user_id}", response={200: schemas.UserOut, **ERROR_RESPONSES})
def users_update(request: HttpRequest, user_id: int, data: schemas.UserUpdateIn):
    """Change name, phone, role and (when given) the assignments, all or nothing."""
    actor, user = _managed(request, user_id)
    with transaction.atomic():
        if data.region_codes is not None or data.station_ids is not None:
            user = user_assignments_set(
                actor=actor,
                user=user,
                region_codes=data.region_codes or [],
                station_ids=data.station_ids or [],
            )
        user_update(
            actor=actor,
            user=user,
            display_name=data.display_name,
            phone=data.phone,
            role=data.role,
        )
    return user_get(actor=actor, user_id=user_id)


@router.post("/users/{user_id}/deactivate", response={200: schemas.UserOut, **ERROR_RESPONSES})
def users_deactivate(request: HttpRequest, user_id: int):
    """The user can no longer log in or use API tokens."""
    actor, user = _managed(request, user_id)
    user_deactivate(actor=actor, user=user)
    return user_get(actor=actor, user_id=user_id)


@router.post("/users/{user_id}/reactivate", response={200: schemas.UserOut, **ERROR_RESPONSES})
def users_reactivate(request: HttpRequest, user_id: int):
    actor, user = _managed(request, user_id)
    user_reactivate(actor=actor, user=user)
    return user_get(actor=actor, user_id=user_id)


@router.post(
    "/users/{user_id}/reset-password", response={200: schemas.PasswordResetOut, **ERROR_RESPONSES}
)
def users_reset_password(request: HttpRequest, user_id: int):
    """A new one-time password, returned once."""
    actor, user = _managed(request, user_id)
    return {"password": user_password_reset(actor=actor, user=user)}


@router.get("/tokens", response={200: list[schemas.ApiTokenOut], **ERROR_RESPONSES})
@paginate(Pagination)
def tokens(request: HttpRequest):
    """The caller's own API tokens (keys are never shown again)."""
    return api_token_list(user=request.auth)  # type: ignore[attr-defined]


@router.delete("/tokens/{token_id}", response={200: schemas.ApiTokenOut, **ERROR_RESPONSES})
def tokens_revoke(request: HttpRequest, token_id: int):
    """Revoke one of the caller's tokens (network admins: any token)."""
    actor = request.auth  # type: ignore[attr-defined]
    token = api_token_get(actor=actor, token_id=token_id)
    return api_token_revoke(actor=actor, token=token)
