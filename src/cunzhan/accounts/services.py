from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.hashers import identify_hasher
from django.db import transaction
from django.utils.translation import gettext as _

from cunzhan.accounts.models import ApiToken, Assignment, User
from cunzhan.accounts.roles import Role
from cunzhan.core.audit import audit_record, snapshot
from cunzhan.core.errors import ApplicationError


@transaction.atomic
def user_create(
    *,
    username: str,
    role: str,
    password: str | None = None,
    password_hash: str | None = None,
    display_name: str = "",
    phone: str = "",
    region_codes: Iterable[str] = (),
    station_ids: Iterable[int] = (),
    actor: Any = None,
) -> tuple[User, str]:
    """Create a user with a role and assignments. Returns the user and the password
    (generated when not given, to be handed over once).

    ``password_hash`` (an encoded Django hash, e.g. from ``make_password``) is stored
    as is and the returned password is empty: bulk onboarding (the demo network)
    hashes one initial password once instead of paying the hasher's cost per user.
    """
    if role not in Role.values:
        raise ApplicationError(f"unknown role {role!r}", code="invalid_role")
    if not username or len(username) > 150:
        raise ApplicationError(
            _("用户名须为 1–150 个字符"), code="invalid_username", details={"field": "username"}
        )
    if User.objects.filter(username=username).exists():
        raise ApplicationError(
            _("用户名“%(u)s”已被使用") % {"u": username},
            code="username_taken",
            details={"field": "username"},
        )
    region_codes = list(region_codes)
    station_ids = list(station_ids)
    if role != Role.NETWORK_ADMIN and not region_codes and not station_ids:
        raise ApplicationError(
            "a user other than a network admin needs a region or a station",
            code="assignment_required",
        )
    _check_assignment_targets(region_codes, station_ids)
    user = User(username=username, role=role, display_name=display_name, phone=phone)
    if password_hash:
        try:
            identify_hasher(password_hash)
        except ValueError as exc:
            raise ApplicationError(
                "unknown password hash format", code="invalid_password_hash"
            ) from exc
        user.password = password_hash
        password = ""
    else:
        password = password or secrets.token_urlsafe(9)
        user.set_password(password)
    user.save()
    for code in region_codes:
        Assignment.objects.create(user=user, region_id=code)
    for sid in station_ids:
        Assignment.objects.create(user=user, station_id=sid)
    audit_record(
        action="create",
        object_type="accounts.User",
        object_id=user.pk,
        object_repr=username,
        region_code=region_codes[0] if region_codes else "",
        after={
            **snapshot(user, exclude=("password",)),
            "regions": region_codes,
            "stations": station_ids,
        },
        actor=actor,
    )
    return user, password


def user_ensure(
    *,
    username: str,
    role: str,
    password: str,
    display_name: str = "",
    region_codes: Iterable[str] = (),
    station_ids: Iterable[int] = (),
) -> User:
    """Idempotent: the user if it exists (password reset to ``password``), else a new one."""
    existing = User.objects.filter(username=username).first()
    if existing is not None:
        existing.set_password(password)
        existing.save(update_fields=["password"])
        return existing
    user, _password = user_create(
        username=username,
        role=role,
        password=password,
        display_name=display_name,
        region_codes=region_codes,
        station_ids=station_ids,
    )
    return user


def _check_assignment_targets(region_codes: list[str], station_ids: list[int]) -> None:
    """Every assigned region and station must exist (checked before any write: SQLite
    only checks foreign keys at commit)."""
    region_model = Assignment._meta.get_field("region").related_model
    station_model = Assignment._meta.get_field("station").related_model
    found = set(
        region_model._default_manager.filter(pk__in=region_codes).values_list("pk", flat=True)  # type: ignore[union-attr]
    )
    missing = [c for c in region_codes if c not in found]
    found_st = set(
        station_model._default_manager.filter(pk__in=station_ids).values_list("pk", flat=True)  # type: ignore[union-attr]
    )
    missing_st = [s for s in station_ids if s not in found_st]
    if missing or missing_st:
        raise ApplicationError(
            "unknown region or station in assignment",
            code="invalid_assignment",
            details={"regions": missing, "stations": missing_st},
        )


@transaction.atomic
def api_token_create(*, user: User, name: str = "api") -> tuple[ApiToken, str]:
    """A new API token; the key is returned once and only its hash is stored."""
    key = "cz_" + secrets.token_urlsafe(30)
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=ApiToken.hash_key(key), prefix=key[:8]
    )
    audit_record(
        action="create",
        object_type="accounts.ApiToken",
        object_id=token.pk,
        object_repr=token.prefix,
        actor=user,
    )
    return token, key
