from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from cunzhan.accounts.models import ApiToken, Assignment, User
from cunzhan.accounts.roles import Role
from cunzhan.core.scope import RegionScope


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


def user_list(*, scope: RegionScope) -> QuerySet[User]:
    """Users whose every assignment lies inside ``scope`` (admins: everyone)."""
    qs = User.objects.all()
    if scope.everything:
        return qs
    inside = Assignment.objects.filter(scope.q("region_id") | scope.q("station__region_id"))
    return qs.filter(assignments__in=inside).distinct()


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
