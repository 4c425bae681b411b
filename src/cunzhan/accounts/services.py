from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.hashers import identify_hasher
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cunzhan.accounts.models import ApiToken, Assignment, User
from cunzhan.accounts.roles import Role, manageable_roles
from cunzhan.accounts.selectors import scope_for_user, user_is_manageable
from cunzhan.core.audit import audit_record, snapshot
from cunzhan.core.errors import (
    ApplicationError,
    Conflict,
    NotFound,
    PermissionDenied,
    Unprocessable,
)
from cunzhan.core.validation import is_ascii_digits


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

    A generated password is a one-time password: the user must change it at their first
    login, and it opens that one session only. A given ``password`` (a system caller:
    commands, tests) must pass the password validators (``password_check``).
    Usernames are unique without regard to case.

    ``password_hash`` (an encoded Django hash, e.g. from ``make_password``) is stored
    as is and the returned password is empty: bulk onboarding (the demo network)
    hashes one initial password once instead of paying the hasher's cost per user.

    With an ``actor`` (a person, not the system) the rule of ADR 0006 applies: the role
    must be one the actor may grant (:func:`~cunzhan.accounts.roles.manageable_roles`)
    and every assigned region or station must lie inside the actor's own scope.
    """
    if role not in Role.values:
        raise ApplicationError(f"unknown role {role!r}", code="invalid_role")
    if not username or len(username) > 150:
        raise ApplicationError(
            _("用户名须为 1–150 个字符"), code="invalid_username", details={"field": "username"}
        )
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(
            _("用户名“%(u)s”已被使用") % {"u": username},
            code="username_taken",
            details={"field": "username"},
        )
    region_codes = list(region_codes)
    station_ids = list(station_ids)
    if role != Role.NETWORK_ADMIN and not region_codes and not station_ids:
        raise Unprocessable(
            _("除网络管理员外，用户至少需要分配一个地区或服务站"),
            code="assignment_required",
            details={"field": "region_codes"},
        )
    if _is_person(actor):
        _check_grant(actor=actor, role=role, region_codes=region_codes, station_ids=station_ids)
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
    elif password:
        password_check(password=password, user=user)
        user.set_password(password)
    else:
        password = _one_time_password(user)
        user.set_password(password)
        user.password_change_required = True
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


def _is_person(actor: Any) -> bool:
    return actor is not None and bool(getattr(actor, "is_authenticated", False))


def _check_grant(*, actor: Any, role: str, region_codes: list[str], station_ids: list[int]) -> None:
    """The actor may grant ``role`` and every region and station lies inside its scope.

    Checked before existence, so a code outside the scope is refused the same way
    whether or not it exists (nothing is revealed about other counties)."""
    if role not in manageable_roles(actor):
        raise PermissionDenied(
            _("您不能授予“%(role)s”角色") % {"role": Role(role).label},
            code="role_not_allowed",
            details={"field": "role"},
        )
    scope = scope_for_user(actor)
    if scope.everything:
        return
    bad_regions = [c for c in region_codes if not scope.contains_code(str(c))]
    station_model = Assignment._meta.get_field("station").related_model
    rows = dict(
        station_model._default_manager.filter(pk__in=station_ids).values_list("pk", "region_id")  # type: ignore[union-attr]
    )
    bad_stations = [
        sid
        for sid in station_ids
        if sid not in rows
        or not scope.contains_code(rows[sid])
        or (scope.station_ids is not None and sid not in scope.station_ids)
    ]
    if bad_regions or bad_stations:
        raise Unprocessable(
            _("只能分配您管辖范围内的地区和服务站"),
            code="assignment_out_of_scope",
            details={"field": "region_codes", "regions": bad_regions, "stations": bad_stations},
        )


def _check_manageable(*, actor: Any, user: User) -> None:
    """NotFound unless ``actor`` may manage ``user`` (out of scope looks like missing)."""
    if not user_is_manageable(actor=actor, user=user):
        raise NotFound()


def _lock(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


def _user_region(user: User) -> str:
    a = Assignment.objects.filter(user=user).select_related("station").first()
    if a is None:
        return ""
    return a.region_id or (a.station.region_id if a.station is not None else "")


def _assignment_state(user: User) -> dict[str, list]:
    rows = list(Assignment.objects.filter(user=user).values_list("region_id", "station_id"))
    return {
        "regions": sorted(r for r, _s in rows if r),
        "stations": sorted(s for _r, s in rows if s),
    }


@transaction.atomic
def user_update(
    *,
    actor: Any,
    user: User,
    display_name: str | None = None,
    phone: str | None = None,
    role: str | None = None,
) -> User:
    """Change a managed user's name, phone or role (a role the actor may grant).

    Nobody changes their own role (an admin cannot demote themselves by accident and
    nobody promotes themselves); a role other than network admin needs an assignment.
    """
    _check_manageable(actor=actor, user=user)
    user = _lock(user)
    before = snapshot(user, exclude=("password",))
    fields: list[str] = []
    if display_name is not None:
        display_name = display_name.strip()
        if len(display_name) > 80:
            raise ApplicationError(
                _("姓名最多 80 个字符"), code="invalid", details={"field": "display_name"}
            )
        user.display_name = display_name
        fields.append("display_name")
    if phone is not None:
        phone = phone.strip()
        if len(phone) > 20 or (
            phone and not is_ascii_digits(phone.replace("-", "").replace("+", ""))
        ):
            raise ApplicationError(
                _("手机号码格式不正确"), code="invalid_phone", details={"field": "phone"}
            )
        user.phone = phone
        fields.append("phone")
    if role is not None and role != user.role:
        if role not in Role.values:
            raise ApplicationError(_("未知角色"), code="invalid_role", details={"field": "role"})
        if user.pk == getattr(actor, "pk", None):
            raise Unprocessable(_("不能修改自己的角色"), code="own_role", details={"field": "role"})
        if role not in manageable_roles(actor):
            raise PermissionDenied(
                _("您不能授予“%(role)s”角色") % {"role": Role(role).label},
                code="role_not_allowed",
                details={"field": "role"},
            )
        if role != Role.NETWORK_ADMIN and not Assignment.objects.filter(user=user).exists():
            raise Unprocessable(
                _("除网络管理员外，用户至少需要分配一个地区或服务站"),
                code="assignment_required",
                details={"field": "region_codes"},
            )
        user.role = role
        fields.append("role")
    if not fields:
        return user
    user.save(update_fields=[*fields, "updated_at"])
    audit_record(
        action="update",
        object_type="accounts.User",
        object_id=user.pk,
        object_repr=user.username,
        region_code=_user_region(user),
        before=before,
        after=snapshot(user, exclude=("password",)),
        actor=actor,
    )
    return user


@transaction.atomic
def user_assignments_set(
    *,
    actor: Any,
    user: User,
    region_codes: Iterable[str] = (),
    station_ids: Iterable[int] = (),
) -> User:
    """Replace a managed user's regions and stations, each inside the actor's scope.

    At least one is required unless the user is a network admin."""
    _check_manageable(actor=actor, user=user)
    user = _lock(user)
    region_codes = list(dict.fromkeys(str(c).strip() for c in region_codes if str(c).strip()))
    station_ids = list(dict.fromkeys(int(s) for s in station_ids))
    if user.role != Role.NETWORK_ADMIN and not region_codes and not station_ids:
        raise Unprocessable(
            _("除网络管理员外，用户至少需要分配一个地区或服务站"),
            code="assignment_required",
            details={"field": "region_codes"},
        )
    _check_grant(actor=actor, role=user.role, region_codes=region_codes, station_ids=station_ids)
    _check_assignment_targets(region_codes, station_ids)
    before = _assignment_state(user)
    Assignment.objects.filter(user=user).exclude(region_id__in=region_codes).exclude(
        station_id__in=station_ids
    ).delete()
    have = _assignment_state(user)
    for code in region_codes:
        if code not in have["regions"]:
            Assignment.objects.create(user=user, region_id=code)
    for sid in station_ids:
        if sid not in have["stations"]:
            Assignment.objects.create(user=user, station_id=sid)
    after = _assignment_state(user)
    User.objects.filter(pk=user.pk).update(updated_at=timezone.now())
    if hasattr(user, "_cunzhan_scope"):
        del user._cunzhan_scope
    if before != after:
        audit_record(
            action="update",
            object_type="accounts.User",
            object_id=user.pk,
            object_repr=user.username,
            region_code=_user_region(user),
            before=before,
            after=after,
            note="assignments",
            actor=actor,
        )
    return user


def _set_active(*, actor: Any, user: User, active: bool) -> User:
    _check_manageable(actor=actor, user=user)
    if not active and user.pk == getattr(actor, "pk", None):
        raise Unprocessable(_("不能停用自己的账号"), code="self_deactivate")
    user = _lock(user)
    if user.is_active == active:
        raise Conflict(
            _("该账号已启用") if active else _("该账号已停用"),
            code="already_active" if active else "already_inactive",
        )
    user.is_active = active
    user.save(update_fields=["is_active", "updated_at"])
    audit_record(
        action="reactivate" if active else "deactivate",
        object_type="accounts.User",
        object_id=user.pk,
        object_repr=user.username,
        region_code=_user_region(user),
        before={"is_active": not active},
        after={"is_active": active},
        actor=actor,
    )
    return user


@transaction.atomic
def user_deactivate(*, actor: Any, user: User) -> User:
    """A deactivated user can no longer log in, and their sessions and API tokens stop
    working (Django's backend and ``user_by_token`` refuse inactive users). Nobody
    deactivates themselves, so an admin always remains."""
    return _set_active(actor=actor, user=user, active=False)


@transaction.atomic
def user_reactivate(*, actor: Any, user: User) -> User:
    return _set_active(actor=actor, user=user, active=True)


@transaction.atomic
def user_password_reset(*, actor: Any, user: User) -> str:
    """A new one-time password for a managed user, returned once (never stored in clear
    or audited). Until the user has chosen a new password at their next login, their
    API tokens are refused (``password_change_required``); deactivate to cut them off
    for good. One's own password is changed on the password page, never reset: a
    reset would shut the actor's own tokens out until they log in again."""
    if user.pk == actor.pk:
        raise Unprocessable(_("不能重置自己的密码，请在“修改密码”页面修改"), code="own_password")
    _check_manageable(actor=actor, user=user)
    user = _lock(user)
    password = _one_time_password(user)
    user.set_password(password)
    user.password_change_required = True
    user.one_time_password_used_at = None
    user.save(
        update_fields=[
            "password",
            "password_change_required",
            "one_time_password_used_at",
            "updated_at",
        ]
    )
    audit_record(
        action="password_reset",
        object_type="accounts.User",
        object_id=user.pk,
        object_repr=user.username,
        region_code=_user_region(user),
        actor=actor,
    )
    return password


@transaction.atomic
def user_password_set(*, user: User, password: str) -> User:
    """``user`` changes their own password (the form has checked the old one).

    The new password passes the validators and differs from the current one, so a
    one-time password cannot be kept; setting it ends the one-time password's hold."""
    user = _lock(user)
    password_check(password=password, user=user, field="new_password1")
    if user.check_password(password):
        raise ApplicationError(
            _("新密码不能与当前密码相同"),
            code="password_reused",
            details={"field": "new_password1"},
        )
    user.set_password(password)
    user.password_change_required = False
    user.one_time_password_used_at = None
    user.save(
        update_fields=[
            "password",
            "password_change_required",
            "one_time_password_used_at",
            "updated_at",
        ]
    )
    audit_record(
        action="password_change",
        object_type="accounts.User",
        object_id=user.pk,
        object_repr=user.username,
        actor=user,
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
        raise Unprocessable(
            _("分配的地区或服务站不存在"),
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


@transaction.atomic
def api_token_revoke(*, actor: Any, token: ApiToken) -> ApiToken:
    """Revoke one of the actor's own tokens, or any token for a network admin."""
    is_admin = bool(actor.is_active and actor.role == Role.NETWORK_ADMIN)
    if token.user_id != actor.pk and not is_admin:
        raise NotFound()
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        raise Conflict(_("该令牌已被撤销"), code="token_revoked")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at", "updated_at"])
    audit_record(
        action="revoke",
        object_type="accounts.ApiToken",
        object_id=token.pk,
        object_repr=f"{token.prefix} ({token.user.username})",
        actor=actor,
    )
    return token


# --- passwords and logins ---------------------------------------------------------------------


def password_check(*, password: str, user: User | None = None, field: str = "password") -> None:
    """ApplicationError ``weak_password`` unless ``password`` passes every validator in
    ``AUTH_PASSWORD_VALIDATORS`` (length, common passwords, all digits, likeness to the
    user's name); ``details.errors`` lists each reason."""
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError(
            " ".join(exc.messages),
            code="weak_password",
            details={"field": field, "errors": list(exc.messages)},
        ) from exc


def _one_time_password(user: User) -> str:
    """A random password to hand over once; it passes the validators like any other."""
    while True:
        password = secrets.token_urlsafe(9)
        try:
            password_check(password=password, user=user)
        except ApplicationError:  # pragma: no cover - all digits or too like the name
            continue
        return password


def login_check(*, user: User, channel: str) -> None:
    """May ``user`` (whose password was right) start a session or get an API token?

    A one-time password gives no API token (``password_change_required``); on the login
    page it opens one session only, in which the user must choose a password
    (``one_time_password_used`` for a second login with it)."""
    if not user.password_change_required:
        return
    if channel == "api":
        raise password_change_required_error()
    if user.one_time_password_used_at is not None:
        login_failure_record(
            username=user.username, channel=channel, reason="one_time_password_used"
        )
        raise ApplicationError(
            _("这个一次性密码已经用过一次。请联系您的管理员重新设置密码。"),
            code="one_time_password_used",
            status=403,
        )


def password_change_required_error() -> ApplicationError:
    return ApplicationError(
        _("请先在网页上登录并修改一次性密码，然后才能使用 API。"),
        code="password_change_required",
        details={"change_url": "/account/password/"},
        status=403,
    )


@transaction.atomic
def login_record(*, user: User) -> User:
    """A successful login on the login page: audited; a one-time password is now used."""
    if user.password_change_required and user.one_time_password_used_at is None:
        user.one_time_password_used_at = timezone.now()
        user.save(update_fields=["one_time_password_used_at", "updated_at"])
    audit_record(
        action="login",
        object_type="accounts.User",
        object_id=user.pk,
        object_repr=user.username,
        actor=user,
    )
    return user


@transaction.atomic
def login_failure_record(
    *,
    username: str,
    channel: str,
    ip_address: str | None = None,
    locked_out: bool = False,
    reason: str = "bad_credentials",
) -> None:
    """Audit a failed login: the username tried, the channel (``page`` or ``api``) and the
    client address, never the password. Under the user's region when the name exists,
    so their managers see it."""
    username = username[:150]
    user = User.objects.filter(username__iexact=username.strip()).first() if username else None
    audit_record(
        action="login_failed",
        object_type="accounts.User",
        object_id=user.pk if user is not None else "",
        object_repr=username,
        region_code=_user_region(user) if user is not None else "",
        after={
            "username": username,
            "channel": channel,
            "reason": reason,
            "locked_out": locked_out,
        },
        actor=None,
        ip_address=ip_address,
    )
