from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from cunzhan.accounts.models import ApiToken, Assignment, User
from cunzhan.accounts.roles import Role, manageable_roles
from cunzhan.core.errors import NotFound
from cunzhan.core.scope import RegionScope, prefix_q
from cunzhan.core.validation import is_ascii_digits


def scope_for_user(user: Any) -> RegionScope:
    """The region scope of ``user``: national for network admins, else their assignments.

    A station assignment adds the station's region (its village) and restricts
    station-level objects to the assigned stations.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return RegionScope.nothing()
    cached = getattr(user, "_cunzhan_scope", None)
    if cached is not None:
        return cached
    if user.role == Role.NETWORK_ADMIN:
        scope = RegionScope.national()
    else:
        codes: list[str] = []
        station_ids: list[int] = []
        for a in Assignment.objects.filter(user=user).select_related("station"):
            if a.region_id:
                codes.append(a.region_id)
            elif a.station is not None:
                codes.append(a.station.region_id)
                station_ids.append(a.station.pk)
        base = RegionScope.for_regions(codes)
        scope = RegionScope(
            prefixes=base.prefixes,
            station_ids=tuple(station_ids) if station_ids and not _has_region(user) else None,
            label=user.username,
        )
    user._cunzhan_scope = scope
    return scope


def _has_region(user: User) -> bool:
    return Assignment.objects.filter(user=user, region__isnull=False).exists()


def _inside_q(scope: RegionScope) -> Any:
    """Assignments that lie inside ``scope``: a region in its subtrees, or a station there
    (and among its stations, when the scope is narrowed to stations)."""
    region_part = Q(region_id__isnull=False) & scope.q("region_id")
    station_part = (
        Q(station_id__isnull=False) & scope.q("station__region_id") & scope.station_q("station_id")
    )
    return region_part | station_part


def user_list(
    *,
    scope: RegionScope,
    roles: frozenset[str] | None = None,
    role: str = "",
    region: str = "",
    active: bool | None = None,
    q: str = "",
) -> QuerySet[User]:
    """Users whose every assignment lies inside ``scope`` (national scope: everyone).

    A user without assignments (a network admin) is only visible in the national scope,
    and so is a user with even one assignment outside: managing that user would reach
    beyond the caller's own scope. ``roles`` limits to the roles the caller may manage;
    ``region`` keeps users with an assignment in that subtree.
    """
    qs = User.objects.all()
    if not scope.everything:
        inside = Assignment.objects.filter(_inside_q(scope))
        outside_users = Assignment.objects.exclude(pk__in=inside.values("pk")).values("user_id")
        qs = qs.filter(pk__in=inside.values("user_id")).exclude(pk__in=outside_users)
    if roles is not None:
        qs = qs.filter(role__in=sorted(roles))
    if role:
        qs = qs.filter(role=role) if role in Role.values else qs.none()
    if region:
        if not is_ascii_digits(region):
            return qs.none()
        in_region = Assignment.objects.filter(
            prefix_q("region_id", region) | prefix_q("station__region_id", region)
        )
        qs = qs.filter(pk__in=in_region.values("user_id"))
    if active is not None:
        qs = qs.filter(is_active=active)
    if q and "\x00" in q:
        return qs.none()
    if q:
        qs = qs.filter(
            Q(username__icontains=q) | Q(display_name__icontains=q) | Q(phone__startswith=q)
        )
    return qs.prefetch_related("assignments__region", "assignments__station").order_by("username")


def user_manageable_list(*, actor: Any, **filters: Any) -> QuerySet[User]:
    """The users ``actor`` may manage: roles it may grant, wholly inside its scope."""
    return user_list(scope=scope_for_user(actor), roles=manageable_roles(actor), **filters)


def user_is_manageable(*, actor: Any, user: User) -> bool:
    return user_manageable_list(actor=actor).filter(pk=user.pk).exists()


def _valid_id(value: Any) -> bool:
    return isinstance(value, int) and 0 < value < 2**62


def user_get(*, actor: Any, user_id: int) -> User:
    """A user ``actor`` may manage; NotFound otherwise (out of scope looks like missing)."""
    if not _valid_id(user_id):
        raise NotFound()
    user = user_manageable_list(actor=actor).filter(pk=user_id).first()
    if user is None:
        raise NotFound()
    return user


def api_token_list(*, user: Any) -> QuerySet[ApiToken]:
    """``user``'s own tokens, newest first (revoked ones included, marked)."""
    return ApiToken.objects.filter(user_id=user.pk).order_by("-created_at")


def api_token_get(*, actor: Any, token_id: int) -> ApiToken:
    """One of ``actor``'s own tokens, or any token for a network admin; else NotFound."""
    if not _valid_id(token_id):
        raise NotFound()
    qs = ApiToken.objects.select_related("user")
    if not (actor.is_active and actor.role == Role.NETWORK_ADMIN):
        qs = qs.filter(user_id=actor.pk)
    token = qs.filter(pk=token_id).first()
    if token is None:
        raise NotFound()
    return token


def user_by_token(key: str) -> User | None:
    token = (
        ApiToken.objects.filter(key_hash=ApiToken.hash_key(key), revoked_at__isnull=True)
        .select_related("user")
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def assignment_list(*, user: User) -> QuerySet[Assignment]:
    return Assignment.objects.filter(user=user).select_related("region", "station")


def station_operators(*, station_ids: list[int]) -> dict[int, User]:
    """The first active station operator assigned to each of ``station_ids`` (internal:
    the simulators record a station's work in its operator's name)."""
    out: dict[int, User] = {}
    for a in (
        Assignment.objects.filter(
            station_id__in=list(station_ids),
            user__role=Role.STATION_OPERATOR,
            user__is_active=True,
        )
        .select_related("user")
        .order_by("pk")
    ):
        if a.station_id is not None:
            out.setdefault(a.station_id, a.user)
    return out
