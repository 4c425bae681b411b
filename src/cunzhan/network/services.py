"""Writes to the station network: onboarding and the station life cycle.

A station moves through one table of transitions (:data:`TRANSITIONS`)::

    proposed --submit--> under_review --approve--> under_review (application approved)
                                      --reject---> closed       (application rejected)
    under_review (approved) --activate--> active  (creates the operator's account)
    active --suspend--> suspended --reinstate--> active
    proposed | under_review | active | suspended --close--> closed

Rule for duplicates: a region has at most one *live* (not closed) station of each
kind, so one village station per village whether it is applied for, under review,
active or suspended. A closed station frees the village for a new application.
The rule is checked here (with the region row locked) and by a partial unique
constraint in the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cunzhan.accounts.roles import Perm, Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.accounts.services import user_create
from cunzhan.core.audit import audit_record, snapshot
from cunzhan.core.errors import (
    ApplicationError,
    Conflict,
    NotFound,
    PermissionDenied,
    Unprocessable,
)
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import clean_phone, is_ascii_digits, reject_nul
from cunzhan.network import geo
from cunzhan.network.models import (
    STATION_KIND_LEVEL,
    Capability,
    CoordSource,
    Level,
    Region,
    Station,
    StationApplication,
    StationHelper,
    StationKind,
    StationStatus,
)

S = StationStatus
LIVE_STATUSES = (S.PROPOSED, S.UNDER_REVIEW, S.ACTIVE, S.SUSPENDED)

PREMISES_M2_RANGE = (5, 50_000)
DEPOSIT_FEN_MAX = 10_000_000  # 100,000 yuan


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    perm: str


TRANSITIONS: dict[str, Transition] = {
    "submit": Transition(frozenset({S.PROPOSED}), S.UNDER_REVIEW, Perm.APPLY_STATION),
    "approve": Transition(frozenset({S.UNDER_REVIEW}), S.UNDER_REVIEW, Perm.MANAGE_STATIONS),
    "reject": Transition(frozenset({S.UNDER_REVIEW}), S.CLOSED, Perm.MANAGE_STATIONS),
    "activate": Transition(frozenset({S.UNDER_REVIEW}), S.ACTIVE, Perm.MANAGE_STATIONS),
    "suspend": Transition(frozenset({S.ACTIVE}), S.SUSPENDED, Perm.MANAGE_STATIONS),
    "reinstate": Transition(frozenset({S.SUSPENDED}), S.ACTIVE, Perm.MANAGE_STATIONS),
    "close": Transition(frozenset(LIVE_STATUSES), S.CLOSED, Perm.MANAGE_STATIONS),
}


def station_actions_allowed(*, station: Station, user: Any) -> list[str]:
    """The transitions ``user`` may apply to ``station`` now (for buttons in pages)."""
    decision = _decision(station)
    out = []
    for action, t in TRANSITIONS.items():
        if station.status not in t.sources or not user.can(t.perm):
            continue
        if action in ("approve", "reject") and decision != StationApplication.Decision.PENDING:
            continue
        if action == "activate" and decision != StationApplication.Decision.APPROVED:
            continue
        out.append(action)
    return out


def _decision(station: Station) -> str | None:
    try:
        return station.application.decision
    except StationApplication.DoesNotExist:
        return None


def _decision_now(station: Station) -> str | None:
    """The application's decision as committed now (a query, not the cached relation:
    called under the station's lock to decide a transition)."""
    return (
        StationApplication.objects.filter(station_id=station.pk)
        .values_list("decision", flat=True)
        .first()
    )


def _check_actor(actor: Any, perm: str, region_code: str, station_id: int | None = None) -> None:
    """``actor`` None is the system (demo builder, imports): allowed everything."""
    if actor is None:
        return
    scope = scope_for_user(actor)
    inside = scope.contains_code(region_code) and (
        station_id is None or scope.station_ids is None or station_id in scope.station_ids
    )
    if not inside:
        # outside the caller's scope: never tell whether it exists
        raise NotFound(_("没有找到该服务站或地区"), code="not_found")
    if not actor.can(perm):
        raise PermissionDenied(
            _("此操作需要权限 %(perm)s") % {"perm": perm}, details={"perm": perm}
        )


def _illegal(station: Station, action: str, reason: str = "") -> Conflict:
    """The station's current status (or its application's decision) forbids ``action``."""
    target = TRANSITIONS[action].target
    message = _("服务站“%(name)s”不能从“%(frm)s”执行“%(action)s”（目标状态“%(to)s”）") % {
        "name": station.name,
        "frm": StationStatus(station.status).label,
        "action": action,
        "to": StationStatus(target).label,
    }
    if reason:
        message = _("%(message)s：%(reason)s") % {"message": message, "reason": reason}
    return Conflict(
        message,
        code="illegal_transition",
        details={"from": station.status, "to": target, "action": action},
    )


def _locked(station: Station) -> Station:
    return Station.objects.select_for_update().select_related("region").get(pk=station.pk)


def _transition(
    *,
    station: Station,
    action: str,
    actor: Any,
    note: str = "",
    guard: Callable[[Station], str] | None = None,
) -> tuple[Station, dict]:
    """Lock the station and check the transition. ``guard`` sees the LOCKED station (its
    application read after the lock) and returns a reason to refuse, or ''."""
    t = TRANSITIONS[action]
    reject_nul(note=note)
    _check_actor(actor, t.perm, station.region_id, station.pk)
    station = _locked(station)
    if station.status not in t.sources:
        raise _illegal(station, action)
    reason = guard(station) if guard is not None else ""
    if reason:
        raise _illegal(station, action, reason)
    return station, snapshot(station)


def _audit(
    station: Station,
    *,
    action: str,
    before: dict | None,
    actor: Any,
    note: str = "",
    audit_action: str | None = None,
) -> None:
    """Audit a station write: ``action`` is the station's verb (apply, suspend ...),
    recorded as a create, a transition, or ``audit_action`` when given."""
    audit_record(
        action=audit_action or ("create" if before is None else "transition"),
        object_type="network.Station",
        object_id=station.pk,
        object_repr=f"{station.code} {station.name}",
        region_code=station.region_id,
        before=before,
        after=snapshot(station),
        note=(f"{action}: {note}" if note else action),
        actor=actor,
    )


def _move(station: Station, *, action: str, actor: Any, note: str = "") -> Station:
    """Apply a plain transition: check it, set the target status, save, audit."""
    station, before = _transition(station=station, action=action, actor=actor, note=note)
    station.status = TRANSITIONS[action].target
    station.save(update_fields=["status", "updated_at"])
    _audit(station, action=action, before=before, actor=actor, note=note)
    return station


# --- coordinates ------------------------------------------------------------------------------


def _point(region: Region | None) -> geo.Point | None:
    if region is None or region.longitude is None or region.latitude is None:
        return None
    return (region.longitude, region.latitude)


def station_coordinates(*, region: Region) -> tuple[float, float, bool] | None:
    """(longitude, latitude, synthetic) for a station in ``region``.

    A county or township with a real point gets it. Otherwise a deterministic
    synthetic point: a village 1.5-8 km from its township's point (the township's
    own point, or its synthetic point 4-25 km from the county seat when the data
    has none), inside the county outline when one ships with the data. The RNG is
    seeded by the region code, so the same village always gets the same point.
    """
    own = _point(region)
    if own is not None:
        return own[0], own[1], region.coord_source != CoordSource.REAL
    codes = region.ancestor_codes
    ancestors = {r.code: r for r in Region.objects.filter(code__in=codes)}
    county = ancestors.get(region.code[:6]) if region.level > Level.COUNTY else region
    county_pt = _point(county)
    fences = geo.county_fences(settings.DATA_DIR, region.code[:6]) if len(region.code) >= 6 else []
    if region.level == Level.VILLAGE:
        township = ancestors.get(region.code[:9])
        anchor = _point(township) if township is not None else None
        if anchor is None and county_pt is not None:
            anchor = geo.synthetic_point(
                anchor=county_pt,
                seed_key=region.code[:9],
                min_km=geo.TOWNSHIP_FROM_COUNTY_KM[0],
                max_km=geo.TOWNSHIP_FROM_COUNTY_KM[1],
                fences=fences,
            )
        lo, hi = geo.VILLAGE_FROM_TOWNSHIP_KM
    elif region.level == Level.TOWNSHIP:
        anchor = county_pt
        lo, hi = geo.TOWNSHIP_FROM_COUNTY_KM
    else:  # a county without a point of its own
        return None
    if anchor is None:
        return None
    lon, lat = geo.synthetic_point(
        anchor=anchor, seed_key=region.code, min_km=lo, max_km=hi, fences=fences
    )
    return lon, lat, True


# --- onboarding -------------------------------------------------------------------------------


def station_code_next(*, region_code: str) -> str:
    """``ZS-<region code>-NN``: NN counts every station ever opened in the region."""
    prefix = f"ZS-{region_code}-"
    used = [
        int(c[len(prefix) :])
        for c in Station.objects.filter(region_id=region_code).values_list("code", flat=True)
        if c.startswith(prefix) and is_ascii_digits(c[len(prefix) :])
    ]
    return f"{prefix}{(max(used) + 1 if used else 1):02d}"


def _field_error(field: str, message: str, code: str) -> Unprocessable:
    """A value the service refuses, naming its field: 422. A rule about one value alone is
    also in the published schema (ADR 0032); this is its defence, and the answer for rules
    the schema cannot state (a region that must exist, hours that must agree)."""
    return Unprocessable(message, code=code, details={"field": field})


def _clean_open_days(open_days: str | Iterable[int | str]) -> str:
    days = list(str(open_days)) if isinstance(open_days, str) else [str(d) for d in open_days]
    if not days or any(d not in "1234567" or len(d) != 1 for d in days):
        raise _field_error(
            "open_days", _("营业日须为1（周一）到7（周日）的数字，至少一天"), "invalid_open_days"
        )
    return "".join(sorted(set(days)))


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise _field_error("name", _("名称须为1到120个字符"), "invalid_name")
    return name


def _clean_capabilities(capabilities: Iterable[str]) -> list[str]:
    caps = list(dict.fromkeys(capabilities))
    bad = [c for c in caps if c not in Capability.values]
    if bad:
        raise _field_error(
            "capabilities", _("未知的服务项目：%(c)s") % {"c": ", ".join(bad)}, "invalid_capability"
        )
    return caps


def _check_hours(opens_at: dt.time, closes_at: dt.time) -> None:
    if opens_at >= closes_at:
        raise _field_error("closes_at", _("关门时间须晚于开门时间"), "invalid_hours")


@transaction.atomic
def station_apply(
    *,
    region_code: str,
    kind: str,
    name: str,
    address: str = "",
    applicant_name: str,
    applicant_phone: str,
    premises_m2: int,
    committee_recommendation: bool = False,
    recommendation_note: str = "",
    deposit_fen: int = 0,
    capabilities: Iterable[str] = (Capability.PARCELS,),
    opens_at: dt.time = dt.time(8, 0),
    closes_at: dt.time = dt.time(20, 0),
    open_days: str | Iterable[int | str] = "1234567",
    actor: Any = None,
) -> Station:
    """File an onboarding application: a new station (proposed) and its application."""
    reject_nul(
        region_code=region_code,
        kind=kind,
        name=name,
        address=address,
        applicant_name=applicant_name,
        applicant_phone=applicant_phone,
        recommendation_note=recommendation_note,
    )
    region_code = (region_code or "").strip()
    if not is_ascii_digits(region_code) or len(region_code) not in (6, 9, 12):
        raise _field_error(
            "region_code",
            _("地区代码须为6、9或12位数字：%(c)s") % {"c": region_code},
            "unknown_region",
        )
    if kind not in StationKind.values:
        raise _field_error("kind", _("未知的服务站类型：%(k)s") % {"k": kind}, "invalid_kind")
    region = Region.objects.select_for_update().filter(code=region_code).first()
    if region is None:
        raise _field_error(
            "region_code", _("地区代码 %(c)s 不存在") % {"c": region_code}, "unknown_region"
        )
    if actor is not None:
        try:
            _check_actor(actor, Perm.APPLY_STATION, region.code)
        except NotFound as exc:
            raise _field_error(
                "region_code",
                _("地区代码 %(c)s 不在您的管辖范围内") % {"c": region_code},
                "unknown_region",
            ) from exc
    if region.withdrawn_in:
        raise _field_error(
            "region_code",
            _("%(n)s（%(c)s）已撤销，不能新建服务站") % {"n": region.name, "c": region.code},
            "region_withdrawn",
        )
    want = STATION_KIND_LEVEL[StationKind(kind)]
    if region.level != want:
        raise _field_error(
            "region_code",
            _("%(kind)s须设在%(want)s单位，%(n)s是%(have)s")
            % {
                "kind": StationKind(kind).label,
                "want": Level(want).label,
                "n": region.name,
                "have": Level(region.level).label,
            },
            "kind_level_mismatch",
        )
    name = _clean_name(name)
    applicant_name = (applicant_name or "").strip()
    if not applicant_name or len(applicant_name) > 80:
        raise _field_error("applicant_name", _("申请人姓名须为1到80个字符"), "invalid_applicant")
    applicant_phone = clean_phone(applicant_phone, field="applicant_phone")
    lo, hi = PREMISES_M2_RANGE
    if not isinstance(premises_m2, int) or not lo <= premises_m2 <= hi:
        raise _field_error(
            "premises_m2",
            _("场地面积须在%(lo)s到%(hi)s平方米之间") % {"lo": lo, "hi": hi},
            "invalid_premises",
        )
    if not isinstance(deposit_fen, int) or not 0 <= deposit_fen <= DEPOSIT_FEN_MAX:
        raise _field_error(
            "deposit_fen",
            _("保证金须在0到%(max)s元之间") % {"max": DEPOSIT_FEN_MAX // 100},
            "invalid_deposit",
        )
    if kind == StationKind.VILLAGE_STATION and not committee_recommendation:
        raise _field_error(
            "committee_recommendation",
            _("村级服务站须有村委会推荐"),
            "recommendation_required",
        )
    caps = _clean_capabilities(capabilities)
    _check_hours(opens_at, closes_at)
    days = _clean_open_days(open_days)
    live = Station.objects.filter(region=region, kind=kind, status__in=LIVE_STATUSES).first()
    if live is not None:
        raise Conflict(
            _("%(n)s已有%(kind)s %(code)s（%(st)s），同一地区只能有一个")
            % {
                "n": region.name,
                "kind": StationKind(kind).label,
                "code": live.code,
                "st": StationStatus(live.status).label,
            },
            code="duplicate_station",
            details={"field": "region_code", "station_id": live.pk},
        )
    coords = station_coordinates(region=region)
    station = Station(
        code=station_code_next(region_code=region.code),
        name=name,
        kind=kind,
        region=region,
        status=S.PROPOSED,
        address=(address or "").strip()[:200],
        opens_at=opens_at,
        closes_at=closes_at,
        open_days=days,
        capabilities=caps,
        phone=applicant_phone,
    )
    if coords is not None:
        station.longitude, station.latitude, station.coord_synthetic = coords
    try:
        with transaction.atomic():
            station.save()
    except IntegrityError as exc:  # the partial unique constraint, under a race
        raise Conflict(
            _("同一地区只能有一个该类型的服务站"),
            code="duplicate_station",
            details={"field": "region_code"},
        ) from exc
    StationApplication.objects.create(
        station=station,
        applicant_name=applicant_name,
        applicant_phone=applicant_phone,
        premises_m2=premises_m2,
        committee_recommendation=committee_recommendation,
        recommendation_note=(recommendation_note or "").strip()[:300],
        deposit_fen=deposit_fen,
        submitted_by=actor if actor is not None and actor.is_authenticated else None,
    )
    _audit(station, action="apply", before=None, actor=actor)
    return station


# --- life cycle -------------------------------------------------------------------------------


@transaction.atomic
def station_submit_for_review(*, station: Station, actor: Any = None) -> Station:
    return _move(station, action="submit", actor=actor)


@transaction.atomic
def station_review(
    *, station: Station, approve: bool, note: str = "", actor: Any = None
) -> Station:
    """The county's decision. Approve: the application is approved and the station
    waits for activation. Reject: the application is rejected and the station closed."""
    action = "approve" if approve else "reject"
    reject_nul(note=note)
    note = (note or "").strip()[:300]
    if not approve and not note:
        raise Unprocessable(
            _("驳回时须填写审核意见"), code="note_required", details={"field": "note"}
        )

    def already_reviewed(locked: Station) -> str:
        if _decision_now(locked) != StationApplication.Decision.PENDING:
            return str(_("申请已审核过"))
        return ""

    station, before = _transition(
        station=station, action=action, actor=actor, guard=already_reviewed
    )
    app = StationApplication.objects.select_for_update().get(station=station)
    app_before = snapshot(app)
    app.decision = (
        StationApplication.Decision.APPROVED if approve else StationApplication.Decision.REJECTED
    )
    app.review_note = note
    app.reviewed_by = actor if actor is not None and actor.is_authenticated else None
    app.reviewed_at = timezone.now()
    app.save(update_fields=["decision", "review_note", "reviewed_by", "reviewed_at", "updated_at"])
    audit_record(
        action="transition",
        object_type="network.StationApplication",
        object_id=app.pk,
        object_repr=f"{station.code} {station.name}",
        region_code=station.region_id,
        before=app_before,
        after=snapshot(app),
        note=f"{action}: {note}" if note else action,
        actor=actor,
    )
    if not approve:
        station.status = S.CLOSED
        station.save(update_fields=["status", "updated_at"])
        _audit(station, action="reject", before=before, actor=actor, note=note)
    return station


def _username_for(station: Station) -> str:
    return station.code.lower()


@transaction.atomic
def station_activate(
    *,
    station: Station,
    actor: Any = None,
    operator_username: str = "",
    operator_display_name: str = "",
    operator_password_hash: str | None = None,
) -> tuple[Station, Any, str]:
    """Open the station and create its operator's account, scoped to this station only.

    Returns ``(station, operator, one_time_password)``; the password is shown once.
    ``operator_password_hash`` (bulk onboarding, the demo) stores a prepared hash
    instead, and the returned password is then empty.
    """
    reject_nul(operator_username=operator_username, operator_display_name=operator_display_name)

    def not_approved(locked: Station) -> str:
        if _decision_now(locked) != StationApplication.Decision.APPROVED:
            return str(_("申请尚未批准"))
        return ""

    station, before = _transition(
        station=station, action="activate", actor=actor, guard=not_approved
    )
    username = (operator_username or "").strip() or _username_for(station)
    app = StationApplication.objects.filter(station=station).first()
    display = (operator_display_name or "").strip() or (app.applicant_name if app else "")
    try:
        with transaction.atomic():
            operator, password = user_create(
                username=username,
                role=Role.STATION_OPERATOR,
                display_name=display,
                phone=station.phone,
                password_hash=operator_password_hash,
                station_ids=[station.pk],
                actor=actor,
            )
    except ApplicationError as exc:
        exc.details = {
            **(exc.details if isinstance(exc.details, dict) else {}),
            "field": ("operator_username"),
        }
        raise
    station.status = S.ACTIVE
    station.save(update_fields=["status", "updated_at"])
    _audit(station, action="activate", before=before, actor=actor, note=f"operator {username}")
    return station, operator, password


@transaction.atomic
def station_suspend(*, station: Station, note: str = "", actor: Any = None) -> Station:
    return _move(station, action="suspend", actor=actor, note=note)


@transaction.atomic
def station_reinstate(*, station: Station, note: str = "", actor: Any = None) -> Station:
    return _move(station, action="reinstate", actor=actor, note=note)


@transaction.atomic
def station_close(*, station: Station, note: str = "", actor: Any = None) -> Station:
    return _move(station, action="close", actor=actor, note=note)


# --- details ----------------------------------------------------------------------------------

# A point typed in by hand must lie in the county outline, or (where no outline ships)
# this close to the county seat.
MAX_KM_FROM_COUNTY_SEAT = 100.0


def _check_location(station: Station, longitude: float, latitude: float) -> None:
    if not (73.0 <= longitude <= 136.0 and 3.0 <= latitude <= 54.0):
        raise _field_error(
            "longitude", _("坐标不在中国范围内（GCJ-02 经纬度）"), "invalid_location"
        )
    county_code = station.region_id[:6]
    fences = geo.county_fences(settings.DATA_DIR, county_code)
    if fences:
        if not geo.point_in_any(longitude, latitude, fences):
            raise _field_error(
                "longitude", _("坐标不在本县（区）边界内"), "location_outside_county"
            )
        return
    seat = _point(Region.objects.filter(code=county_code).first())
    if seat is not None and geo.haversine_km(seat, (longitude, latitude)) > MAX_KM_FROM_COUNTY_SEAT:
        raise _field_error(
            "longitude",
            _("坐标距县城超过%(km)s公里") % {"km": int(MAX_KM_FROM_COUNTY_SEAT)},
            "location_outside_county",
        )


@transaction.atomic
def station_update(
    *,
    station: Station,
    actor: Any = None,
    name: str | None = None,
    address: str | None = None,
    phone: str | None = None,
    opens_at: dt.time | None = None,
    closes_at: dt.time | None = None,
    open_days: str | Iterable[int | str] | None = None,
    capabilities: Iterable[str] | None = None,
    longitude: float | None = None,
    latitude: float | None = None,
) -> Station:
    """Change a station's details; ``None`` leaves a field as it is.

    Operators edit their own station (hours, days, services, phone, address, a
    surveyed point); renaming is the county's (``manage_stations``). A point given
    here is real (``coord_synthetic`` False) and must lie inside the county.
    """
    reject_nul(name=name, address=address, phone=phone)
    _check_actor(actor, Perm.EDIT_STATION, station.region_id, station.pk)
    if name is not None and actor is not None and not actor.can(Perm.MANAGE_STATIONS):
        raise PermissionDenied(_("只有县级运营经理可以修改服务站名称"), details={"field": "name"})
    station = _locked(station)
    if station.status == S.CLOSED:
        raise Conflict(
            _("服务站“%(name)s”已关闭，不能修改") % {"name": station.name},
            code="station_closed",
        )
    before = snapshot(station)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = _clean_name(name)
    if address is not None:
        changes["address"] = address.strip()[:200]
    if phone is not None:
        changes["phone"] = clean_phone(phone, field="phone") if phone.strip() else ""
    if capabilities is not None:
        changes["capabilities"] = _clean_capabilities(capabilities)
    if open_days is not None:
        changes["open_days"] = _clean_open_days(open_days)
    if opens_at is not None or closes_at is not None:
        new_open = opens_at if opens_at is not None else station.opens_at
        new_close = closes_at if closes_at is not None else station.closes_at
        _check_hours(new_open, new_close)
        changes.update(opens_at=new_open, closes_at=new_close)
    if (longitude is None) != (latitude is None):
        raise _field_error("latitude", _("经度和纬度须同时填写"), "invalid_location")
    if longitude is not None and latitude is not None:
        _check_location(station, longitude, latitude)
        changes.update(longitude=longitude, latitude=latitude, coord_synthetic=False)
    changed = [f for f, v in changes.items() if getattr(station, f) != v]
    if not changed:
        return station
    for f in changed:
        setattr(station, f, changes[f])
    station.save(update_fields=[*changed, "updated_at"])
    _audit(station, action="update", before=before, actor=actor, audit_action="update")
    return station


# --- helpers (淘帮手) ---------------------------------------------------------------------------

HELPER_NAME_MAX = 40


def _check_helper_access(*, scope: RegionScope, station: Station, actor: Any) -> None:
    """The station must be in ``scope`` (else NotFound: never tell whether it exists) and
    ``actor`` must hold ``edit_station`` (a station operator: scoped to their own station)."""
    inside = scope.contains_code(station.region_id) and (
        scope.station_ids is None or station.pk in scope.station_ids
    )
    if not inside:
        raise NotFound(_("没有找到该服务站或地区"), code="not_found")
    if actor is not None and not actor.can(Perm.EDIT_STATION):
        raise PermissionDenied(
            _("此操作需要权限 %(perm)s") % {"perm": Perm.EDIT_STATION},
            details={"perm": Perm.EDIT_STATION},
        )


def _audit_helper(
    helper: StationHelper, *, action: str, note: str, before: dict | None, actor: Any
) -> None:
    audit_record(
        action=action,
        object_type="network.StationHelper",
        object_id=helper.pk,
        object_repr=f"{helper.station.code} {helper.name}",
        region_code=helper.station.region_id,
        before=before,
        after=snapshot(helper),
        note=note,
        actor=actor,
    )


@transaction.atomic
def station_helper_add(
    *,
    scope: RegionScope,
    station: Station,
    name: str,
    phone: str = "",
    started_on: dt.date,
    actor: Any = None,
) -> StationHelper:
    """Record a 淘帮手 working at ``station`` since ``started_on`` (not in the future).

    Only an active station takes on helpers; the phone is optional (a mobile number or a
    landline with its area code, as everywhere)."""
    reject_nul(name=name, phone=phone)
    _check_helper_access(scope=scope, station=station, actor=actor)
    station = _locked(station)
    if station.status != S.ACTIVE:
        raise Conflict(
            _("服务站“%(name)s”当前状态为“%(st)s”，只有运营中的服务站可以登记淘帮手")
            % {"name": station.name, "st": StationStatus(station.status).label},
            code="station_not_active",
            details={"field": "station", "status": station.status},
        )
    name = (name or "").strip()
    if not name:
        raise _field_error("name", _("请填写淘帮手的姓名"), "name_required")
    if len(name) > HELPER_NAME_MAX:
        raise _field_error(
            "name", _("姓名最多%(n)s个字符") % {"n": HELPER_NAME_MAX}, "name_too_long"
        )
    phone = clean_phone(phone, field="phone") if (phone or "").strip() else ""
    if not isinstance(started_on, dt.date):
        raise _field_error("started_on", _("请填写开始日期"), "invalid_started_on")
    if started_on > timezone.localdate():
        raise _field_error(
            "started_on",
            _("开始日期 %(d)s 不能晚于今天") % {"d": started_on.isoformat()},
            "started_on_in_future",
        )
    helper = StationHelper.objects.create(
        station=station, name=name, phone=phone, started_on=started_on
    )
    _audit_helper(helper, action="create", note="helper_add", before=None, actor=actor)
    return helper


@transaction.atomic
def station_helper_end(
    *, scope: RegionScope, helper: StationHelper, ended_on: dt.date, actor: Any = None
) -> StationHelper:
    """Record that a helper stopped working at the station: ``ended_on`` is the first day
    no longer worked (not before the start, not in the future). Ending twice is refused."""
    _check_helper_access(scope=scope, station=helper.station, actor=actor)
    helper = StationHelper.objects.select_for_update().select_related("station").get(pk=helper.pk)
    if helper.ended_on is not None:
        raise Conflict(
            _("%(name)s已于 %(d)s 结束，不能重复结束")
            % {"name": helper.name, "d": helper.ended_on.isoformat()},
            code="helper_already_ended",
            details={"field": "ended_on", "ended_on": helper.ended_on.isoformat()},
        )
    if not isinstance(ended_on, dt.date):
        raise _field_error("ended_on", _("请填写结束日期"), "invalid_ended_on")
    if ended_on < helper.started_on:
        raise _field_error(
            "ended_on",
            _("结束日期 %(end)s 不能早于开始日期 %(start)s")
            % {"end": ended_on.isoformat(), "start": helper.started_on.isoformat()},
            "ended_before_start",
        )
    if ended_on > timezone.localdate():
        raise _field_error(
            "ended_on",
            _("结束日期 %(d)s 不能晚于今天") % {"d": ended_on.isoformat()},
            "ended_on_in_future",
        )
    before = snapshot(helper)
    helper.ended_on = ended_on
    helper.save(update_fields=["ended_on", "updated_at"])
    _audit_helper(helper, action="update", note="helper_end", before=before, actor=actor)
    return helper
