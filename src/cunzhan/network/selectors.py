"""Reads of the region tree and the station network. Every selector takes a scope."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import Substr
from django.utils.translation import gettext as _

from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import RegionScope, prefix_q
from cunzhan.core.validation import is_ascii_digits
from cunzhan.network.models import (
    Region,
    RegionAlias,
    Station,
    StationApplication,
    StationHelper,
    StationKind,
    StationStatus,
)


def region_resolve(*, code: str) -> tuple[Region, RegionAlias | None]:
    """The unit for ``code``: itself, or the unit a former (alias) code resolves to."""
    code = (code or "").strip()
    if not is_ascii_digits(code) or len(code) not in (2, 4, 6, 9, 12):
        raise NotFound(
            f"{code!r} is not a region code (2, 4, 6, 9 or 12 digits)", code="unknown_region"
        )
    region = Region.objects.filter(code=code).select_related("parent").first()
    if region is not None:
        return region, None
    alias = (
        RegionAlias.objects.filter(code=code)
        .select_related("region", "region__parent")
        .order_by("-valid_until", "id")
        .first()
    )
    if alias is None:
        raise NotFound(f"unknown region code {code!r}", code="unknown_region")
    return alias.region, alias


def region_get(*, scope: RegionScope, code: str) -> Region:
    """A region inside ``scope``, or one of its ancestors (needed to drill down to it).

    Raises NotFound otherwise, without telling whether the code exists.
    """
    region, _alias = region_resolve(code=code)
    if scope.contains_code(region.code) or region_is_ancestor_of_scope(
        scope=scope, code=region.code
    ):
        return region
    raise NotFound(f"unknown region code {code!r}", code="unknown_region")


def region_is_ancestor_of_scope(*, scope: RegionScope, code: str) -> bool:
    return any(p.startswith(code) and p != code for p in scope.prefixes)


def region_children(*, scope: RegionScope, code: str | None) -> QuerySet[Region]:
    """Children of ``code`` (provinces when None) that are in or above the scope."""
    qs = Region.objects.filter(parent_id=code) if code else Region.objects.filter(level=1)
    if scope.everything:
        return qs
    visible = scope.q("code")
    for p in scope.prefixes:
        ancestors = [p[:n] for n in (2, 4, 6, 9) if n < len(p)]
        if ancestors:
            visible |= Q(code__in=ancestors)
    return qs.filter(visible)


def region_ancestors(*, region: Region) -> list[Region]:
    return list(Region.objects.filter(code__in=region.ancestor_codes).order_by("level"))


def region_descendant_counts(*, code: str) -> dict[int, int]:
    """Number of units below ``code`` at each level (withdrawn units not counted)."""
    rows = (
        Region.objects.filter(prefix_q("code", code), withdrawn_in="")
        .exclude(code=code)
        .values("level")
        .annotate(n=Count("code"))
    )
    return {r["level"]: r["n"] for r in rows}


def region_search(*, scope: RegionScope, text: str, limit: int = 20) -> QuerySet[Region]:
    qs = Region.objects.filter(scope.q("code"))
    text = text.strip()
    if is_ascii_digits(text):
        return qs.filter(prefix_q("code", text)).order_by("level", "code")[:limit]
    return qs.filter(name__contains=text).order_by("level", "code")[:limit]


def region_display_name(region: Region, alias: RegionAlias | None = None) -> str:
    """水城区（原水城县） when reached through a former name."""
    if alias is not None and alias.name and alias.name != region.name:
        return _("%(name)s（原%(old)s）") % {"name": region.name, "old": alias.name}
    return region.name


def station_list(
    *,
    scope: RegionScope,
    region_code: str | None = None,
    kind: str | None = None,
    status: str | None = None,
) -> QuerySet[Station]:
    qs = Station.objects.filter(scope.q("region_id"), scope.station_q("pk")).select_related(
        "region"
    )
    if region_code:
        qs = qs.filter(prefix_q("region_id", region_code))
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs


def station_get(*, scope: RegionScope, station_id: int | str) -> Station:
    qs = station_list(scope=scope).select_related("application")
    key = str(station_id)
    station = None
    if is_ascii_digits(key) and len(key) < 18:
        station = qs.filter(pk=int(key)).first()
    else:
        try:
            station = qs.filter(uuid=uuid.UUID(key)).first()
        except ValueError:
            station = None
    if station is None:
        raise NotFound("station not found", code="station_not_found")
    return station


def station_filters_clean(
    *, region_code: str | None, kind: str | None, status: str | None
) -> tuple[str | None, str | None, str | None]:
    """Validate list filters: a region code of digits, a known kind and status."""
    region_code = (region_code or "").strip() or None
    if region_code is not None and (not is_ascii_digits(region_code) or len(region_code) > 12):
        raise ApplicationError(
            f"region filter must be a region code (digits), got {region_code!r}",
            code="invalid_filter",
            details={"field": "region"},
        )
    kind = kind or None
    if kind is not None and kind not in StationKind.values:
        raise ApplicationError(
            f"unknown station kind {kind!r}",
            code="invalid_filter",
            details={"field": "kind", "allowed": list(StationKind.values)},
        )
    status = status or None
    if status is not None and status not in StationStatus.values:
        raise ApplicationError(
            f"unknown station status {status!r}",
            code="invalid_filter",
            details={"field": "status", "allowed": list(StationStatus.values)},
        )
    return region_code, kind, status


def station_status_counts(*, scope: RegionScope, region_code: str | None = None) -> dict[str, int]:
    """Stations in scope by status: ``{status: n}`` (every status present, zeros included)."""
    rows = (
        station_list(scope=scope, region_code=region_code)
        .order_by()
        .values("status")
        .annotate(n=Count("id"))
    )
    counts = dict.fromkeys(StationStatus.values, 0)
    counts.update({r["status"]: r["n"] for r in rows})
    return counts


def station_kind_counts(
    *, scope: RegionScope, status: str | None = StationStatus.ACTIVE
) -> dict[str, int]:
    rows = (
        station_list(scope=scope, status=status).order_by().values("kind").annotate(n=Count("id"))
    )
    return {r["kind"]: r["n"] for r in rows}


def station_review_queue(*, scope: RegionScope) -> QuerySet[Station]:
    """Stations under review whose application waits for a decision, oldest first."""
    return (
        station_list(scope=scope, status=StationStatus.UNDER_REVIEW)
        .filter(application__decision=StationApplication.Decision.PENDING)
        .order_by("updated_at", "id")
    )


def station_counts_by_child(scope: RegionScope, parent_code: str, child_len: int) -> dict[str, int]:
    """Live (not closed) stations below each child of ``parent_code`` (rollup counter)."""
    qs = Station.objects.filter(scope.q("region_id"), scope.station_q("pk")).exclude(
        status=StationStatus.CLOSED
    )
    if parent_code:
        qs = qs.filter(prefix_q("region_id", parent_code))
    rows = (
        qs.order_by()
        .annotate(child=Substr("region_id", 1, child_len))
        .values("child")
        .annotate(n=Count("id"))
    )
    return {r["child"]: r["n"] for r in rows}


def station_map_list(*, scope: RegionScope, region_code: str) -> QuerySet[Station]:
    """Live stations with coordinates below ``region_code``, for the map."""
    return (
        station_list(scope=scope, region_code=region_code)
        .exclude(status=StationStatus.CLOSED)
        .filter(longitude__isnull=False, latitude__isnull=False)
        .only(
            "id",
            "code",
            "name",
            "kind",
            "status",
            "longitude",
            "latitude",
            "coord_synthetic",
            "region_id",
            "region__name",
        )
    )


def station_helpers(
    *, scope: RegionScope, station: Station, active_on: dt.date | None = None
) -> QuerySet[StationHelper]:
    """The helpers (淘帮手) of ``station``, active and ended, oldest first; with
    ``active_on``, only those working that day (started on or before it, not yet ended).
    A station outside ``scope`` has none (NotFound)."""
    inside = scope.contains_code(station.region_id) and (
        scope.station_ids is None or station.pk in scope.station_ids
    )
    if not inside:
        raise NotFound("station not found", code="station_not_found")
    qs = StationHelper.objects.filter(station=station).order_by(
        F("ended_on").desc(nulls_first=True), "started_on", "id"
    )
    if active_on is not None:
        qs = qs.filter(started_on__lte=active_on).filter(
            Q(ended_on__isnull=True) | Q(ended_on__gt=active_on)
        )
    return qs


def station_helper_get(*, scope: RegionScope, station: Station, helper_id: int) -> StationHelper:
    helper = (
        station_helpers(scope=scope, station=station)
        .select_related("station")
        .filter(pk=helper_id)
        .first()
    )
    if helper is None:
        raise NotFound("helper not found", code="helper_not_found")
    return helper
