"""Logistics pages: the village station operator's phone pages. The station home
(counts), receive the run (one tap for all, or a scan per parcel), the shelves, hand
out by pickup code (station home → 取件 → six digits → 确认: the parcel and its shelf
slot) or by phone last 4 + name, and what has waited too long (re-send the code, send
it back). Writes go through :mod:`cunzhan.logistics.desk` / ``services`` (see
docs/architecture.md)."""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _

from cunzhan.accounts.home import register_panel
from cunzhan.accounts.roles import Perm, Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import ascii_digits
from cunzhan.core.views import require_perm
from cunzhan.logistics import desk, services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.views.county import role_of, url_or_none
from cunzhan.network.models import Station
from cunzhan.network.selectors import station_get

STATION_ROLES: frozenset[str] = frozenset(
    {Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.STATION_OPERATOR, Role.AUDITOR}
)
STATION_WRITE_ROLES: frozenset[str] = frozenset(
    {Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.STATION_OPERATOR}
)


def _station(request: HttpRequest, pk: int, *, write: bool = False) -> tuple[Any, Station]:
    roles = STATION_WRITE_ROLES if write else STATION_ROLES
    if role_of(request) not in roles:
        raise PermissionDenied("this page is not open to your role")
    scope = scope_for_user(request.user)
    try:
        station = station_get(scope=scope, station_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if scope.station_ids is not None and station.pk not in scope.station_ids:
        raise Http404("station not found")
    return scope, station


def _ctx(request: HttpRequest, station: Station, **extra: Any) -> dict[str, Any]:
    return {
        "station": station,
        "can_write": role_of(request) in STATION_WRITE_ROLES,
        "home": reverse("logistics:station", kwargs={"pk": station.pk}),
        **extra,
    }


@login_required
@require_perm(Perm.VIEW_NETWORK)
def station_home(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    scope, station = _station(request, pk)
    figures = desk.station_figures(scope=scope, station=station)
    return render(
        request,
        "logistics/station/home.html",
        _ctx(
            request,
            station,
            figures=figures,
            book_url=url_or_none("logistics:shipment-book", station.pk),
        ),
    )


def _received_here(scope: RegionScope, station: Station) -> Any:
    """This station's parcels already received (``at_station`` here): confirming them
    again would be an illegal event."""
    return desk.station_waiting(scope=scope, station=station)


def _uuids(values: set[str]) -> list[str]:
    return [v for v in values if _is_uuid(v)]


def _without_received(scope: RegionScope, station: Station, text: str) -> tuple[str, list[str]]:
    """The scanned lines without those naming a parcel already received here (the
    driver's drop came first): the lines left and those parcels' tracking numbers."""

    def last(line: str) -> str:
        parts = [p for p in re.split(r"[\s,;，；:]+", line.strip()) if p]
        return parts[-1] if parts else ""

    tokens = {last(line) for line in text.splitlines()} - {""}
    here = set(
        _received_here(scope, station)
        .filter(tracking_number__in=tokens)
        .values_list("tracking_number", flat=True)
    )
    if not here:
        return text, []
    kept = [line for line in text.splitlines() if last(line) not in here]
    return "\n".join(kept), sorted(here)


@login_required
@require_perm(Perm.VIEW_NETWORK)
def station_receive(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's parcels for this station: confirm arrival of all with one tap, or scan
    them one by one. Each arrival assigns a pickup code and a shelf slot and sends the
    SMS."""
    scope, station = _station(request, pk, write=request.method == "POST")
    results = errors = None
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "all":
            wanted = set(request.POST.getlist("parcel"))
            loaded = [
                p
                for p in desk.station_to_receive(scope=scope, station=station)
                if str(p.uuid) in wanted
            ]
            already = list(
                _received_here(scope, station)
                .filter(uuid__in=_uuids(wanted))
                .values_list("tracking_number", flat=True)
            )
            lines = "\n".join(f"{p.carrier.code} {p.tracking_number}" for p in loaded)
        else:
            lines, already = _without_received(
                scope, station, request.POST.get("lines", "")[:20_000]
            )
        if already:
            messages.info(
                request,
                _("已在本站，无需再确认：%(tns)s") % {"tns": "、".join(sorted(already)[:20])},
            )
            if not lines.strip():
                parcels = list(desk.station_to_receive(scope=scope, station=station))
                return render(
                    request,
                    "logistics/station/receive.html",
                    _ctx(request, station, parcels=parcels, results=None, errors=None),
                )
        try:
            if not lines.strip():
                raise ApplicationError("nothing to confirm", code="invalid_scan")
            results = desk.desk_scan(
                scope=scope,
                type_=sm.AT_STATION,
                lines=lines,
                station=station,
                actor=request.user,
                device="station",
            )
        except ApplicationError as exc:
            status = 400
            if exc.code == "unknown_tracking" and isinstance(exc.details, dict):
                errors = [
                    _("单号 %(tn)s 不在本站的到货清单里") % {"tn": e["tracking_number"]}
                    for e in exc.details.get("errors", [])
                ]
                errors.append(_("没有记录任何包裹，请核对后重试。"))
            elif exc.code == "invalid_scan":
                errors = [_("没有要确认的包裹")]
            else:
                errors = [exc.message]
    parcels = list(desk.station_to_receive(scope=scope, station=station))
    return render(
        request,
        "logistics/station/receive.html",
        _ctx(request, station, parcels=parcels, results=results, errors=errors),
        status=status,
    )


@login_required
@require_perm(Perm.VIEW_NETWORK)
def station_shelves(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET"})
    scope, station = _station(request, pk)
    parcels = list(desk.station_waiting(scope=scope, station=station))
    return render(
        request, "logistics/station/shelves.html", _ctx(request, station, parcels=parcels)
    )


@login_required
@require_perm(Perm.VIEW_NETWORK)
def station_handout(request: HttpRequest, pk: int) -> HttpResponse:
    """Hand out by pickup code (6 digits) or by phone last 4 + name. A match is handed
    out at once (recorded ``picked_up``) and shown with its shelf slot."""
    scope, station = _station(request, pk, write=request.method == "POST")
    handed: list[Any] = []
    error = ""
    status = 200
    mode = request.GET.get("by") or request.POST.get("by") or "code"
    if request.method == "POST":
        code = ascii_digits(request.POST.get("code", ""))[:6]
        last4 = ascii_digits(request.POST.get("phone_last4", ""))[:4]
        name = request.POST.get("name", "").strip()[:80]
        if mode == "phone":
            code = ""
        else:
            last4 = name = ""
        try:
            if mode == "code" and len(code) != 6:
                raise ApplicationError("", code="bad_code_format")
            handed = services.parcel_pick_up(
                scope=scope,
                station=station,
                code=code,
                phone_last4=last4,
                name=name,
                actor=request.user,
                device="station-page",
            )
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except ApplicationError as exc:
            status = 400
            if exc.code == "pickup_locked":  # too many failures: the service's message
                status = 429
                error = exc.message
            elif exc.code == "no_match" and mode == "code":
                error = _("取件码 %(code)s 不对：本站没有这个取件码的包裹，请核对短信") % {
                    "code": code
                }
            elif exc.code == "no_match":
                error = _("本站没有手机尾号 %(last4)s、姓名 %(name)s 的待取包裹") % {
                    "last4": last4,
                    "name": name,
                }
            elif mode == "code":
                error = _("取件码是 6 位数字")
            else:
                error = _("请输入手机尾号 4 位数字和收件人姓名")
    return render(
        request,
        "logistics/station/handout.html",
        _ctx(request, station, handed=handed, error=error, mode=mode),
        status=status,
    )


@login_required
@require_perm(Perm.VIEW_NETWORK)
def station_aging(request: HttpRequest, pk: int) -> HttpResponse:
    """Waiting at least the county's reminder days, oldest first: re-send the SMS, or
    send the parcel back (``return_due``)."""
    scope, station = _station(request, pk, write=request.method == "POST")
    if request.method == "POST":
        action = request.POST.get("action", "")
        parcel = (
            desk.station_waiting(scope=scope, station=station)
            .filter(uuid__in=[request.POST.get("parcel", "")][:1])
            .first()
            if _is_uuid(request.POST.get("parcel", ""))
            else None
        )
        if parcel is None or action not in {"resend", "return"}:
            return HttpResponse(_("该包裹不在本站待取件"), status=400)
        try:
            if action == "resend":
                services.pickup_code_resend(scope=scope, parcel=parcel)
                messages.success(
                    request, _("已给 %(name)s 重发取件码短信") % {"name": parcel.recipient_name}
                )
            else:
                desk.parcel_return_due(
                    scope=scope, station=station, parcel_id=parcel.uuid, actor=request.user
                )
                messages.success(
                    request,
                    _("%(tn)s 已标记为待退回，下一趟车收回") % {"tn": parcel.tracking_number},
                )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("logistics:station-aging", pk=station.pk)
    parcels, days = desk.station_aging(scope=scope, station=station)
    return render(
        request,
        "logistics/station/aging.html",
        _ctx(request, station, parcels=list(parcels), days=days),
    )


def _is_uuid(text: str) -> bool:
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


urlpatterns: list[URLPattern] = [
    path("stations/<int:pk>/", station_home, name="station"),
    path("stations/<int:pk>/receive/", station_receive, name="station-receive"),
    path("stations/<int:pk>/shelves/", station_shelves, name="station-shelves"),
    path("stations/<int:pk>/handout/", station_handout, name="station-handout"),
    path("stations/<int:pk>/aging/", station_aging, name="station-aging"),
]


@register_panel(order=20)
def station_logistics_panel(*, user: Any, scope: RegionScope) -> dict[str, Any] | None:
    """The operator's parcels: what arrives, what waits; 取件 one tap away."""
    if user.role != Role.STATION_OPERATOR or not scope.station_ids:
        return None
    station = Station.objects.filter(pk=scope.station_ids[0]).first()
    if station is None:
        return None
    f = desk.station_figures(scope=scope, station=station)
    return {
        "title": _("包裹 · %(name)s") % {"name": station.name},
        "stats": [
            {"label": _("到货确认"), "value": f["to_receive"]},
            {"label": _("货架待取"), "value": f["waiting"]},
            {"label": _("超期未取"), "value": f["aging"]},
            {"label": _("今日已取"), "value": f["picked_today"]},
        ],
        "links": [
            {"url": reverse("logistics:station-handout", args=[station.pk]), "label": _("取件")},
            {"url": reverse("logistics:station", args=[station.pk]), "label": _("我的村站")},
        ],
    }
