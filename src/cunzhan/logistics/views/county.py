"""Logistics pages: the county centre (home, inbound by carrier, sorting, the exceptions
queue, parcel detail) and ``logistics:home``, the nav target that sends each role to
its own desk. Reads and writes go through :mod:`cunzhan.logistics.desk` (see
docs/architecture.md)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils.translation import gettext as _

from cunzhan.accounts.home import register_panel
from cunzhan.accounts.roles import Perm, Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import RegionScope
from cunzhan.core.views import require_perm
from cunzhan.logistics import desk, selectors, services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Carrier, ExceptionStatus, ParcelException

COUNTY_ROLES: frozenset[str] = frozenset({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.AUDITOR})
# drivers without their own run page (the planning pages) see the county's figures
COUNTY_HOME_ROLES: frozenset[str] = COUNTY_ROLES | {Role.DRIVER}
COUNTY_WRITE_ROLES: frozenset[str] = frozenset({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER})
PARCEL_ROLES: frozenset[str] = frozenset(
    {Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.STATION_OPERATOR, Role.DRIVER, Role.AUDITOR}
)
RESEND_ROLES: frozenset[str] = frozenset(
    {Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.STATION_OPERATOR}
)


def role_of(request: HttpRequest) -> str:
    return str(getattr(request.user, "role", ""))


def url_or_none(name: str, *args: Any, query: str = "") -> str | None:
    """The URL of ``name``, or None when that page does not exist (yet)."""
    try:
        url = reverse(name, args=args)
    except NoReverseMatch:
        return None
    return f"{url}?{query}" if query else url


def state_label(state: str) -> str:
    labels = {
        "": _("无"),
        sm.ANNOUNCED: _("已预报"),
        sm.RECEIVED_AT_COUNTY: _("已到县中心"),
        sm.SORTED: _("已分拣"),
        sm.LOADED: _("已装车"),
        sm.AT_STATION: _("待取件"),
        sm.PICKED_UP: _("已取件"),
        sm.RETURNED: _("已退回承运商"),
        sm.REFUSED: _("拒收"),
        sm.DAMAGED: _("破损"),
        sm.LOST: _("丢失"),
        sm.MISROUTED: _("错分"),
        sm.RETURN_DUE: _("待退回"),
        sm.COLLECTED: _("已收回"),
    }
    return labels.get(state, state)


def _role_in(request: HttpRequest, roles: frozenset[str]) -> None:
    if role_of(request) not in roles:
        raise PermissionDenied("this page is not open to your role")


# --- logistics:home ------------------------------------------------------------------------


@login_required
@require_perm(Perm.VIEW_NETWORK)
def logistics_home(request: HttpRequest) -> HttpResponse:
    """The nav target 物流: each role to its own desk."""
    user: Any = request.user
    scope = scope_for_user(user)
    if user.role == Role.STATION_OPERATOR:
        if scope.station_ids:
            return redirect("logistics:station", pk=scope.station_ids[0])
        raise PermissionDenied("no station assigned")
    if user.role == Role.DRIVER:
        target = url_or_none("logistics:driver")
        if target:
            return redirect(target)
    _role_in(request, COUNTY_HOME_ROLES)
    return redirect("logistics:county")


# --- the county ----------------------------------------------------------------------------


def _county(request: HttpRequest, scope: RegionScope) -> Any:
    """The county chosen by ``?county=`` (or the only one in scope); None: ask."""
    code = (request.GET.get("county") or request.POST.get("county") or "").strip()
    if not code:
        own = [p for p in scope.prefixes if len(p) == 6]
        if not scope.everything and len(own) == 1:
            code = own[0]
    if not code:
        return None
    try:
        return desk.county_get(scope=scope, code=code)
    except NotFound as exc:
        if request.method == "POST":
            raise PermissionDenied(exc.message) from exc
        raise Http404(exc.message) from exc


def _county_links(county: str) -> list[dict[str, str]]:
    q = f"county={county}"
    candidates = [
        ("logistics:inbound", _("到件（按承运商）"), q),
        ("logistics:sorting", _("分拣"), q),
        ("logistics:exceptions", _("异常件"), q),
        ("logistics:returns", _("退回承运商"), q),
        ("logistics:plans", _("配送计划"), q),
        ("logistics:shipments", _("上行寄件"), q),
        ("logistics:fees", _("村站费用"), q),
        ("logistics:manifest-upload", _("上传预报清单"), q),
    ]
    out = []
    for name, label, query in candidates:
        url = url_or_none(name, query=query)
        if url:
            out.append({"url": url, "label": label})
    settings_url = url_or_none("logistics:county-settings", county)  # takes the county code
    if settings_url:
        out.append({"url": settings_url, "label": _("物流设置")})
    return out


def _picker(request: HttpRequest, scope: RegionScope, title: str) -> HttpResponse:
    return render(
        request,
        "logistics/county/picker.html",
        {"title": title, "counties": desk.county_choices(scope=scope), "path": request.path},
    )


@login_required
@require_perm(Perm.VIEW_NETWORK)
def county_home(request: HttpRequest) -> HttpResponse:
    """Today at the county centre: where the parcels are, links to every desk, search."""
    _role_in(request, COUNTY_HOME_ROLES)
    scope = scope_for_user(request.user)
    county = _county(request, scope)
    if county is None:
        return _picker(request, scope, _("县级物流中心"))
    q = (request.GET.get("q") or "").strip()[:40]
    found = None
    if q:
        found = list(
            selectors.parcel_list(scope=scope, village=county.code, q=q).select_related(
                "carrier", "station", "village"
            )[:50]
        )
        for p in found:
            p.state_display = state_label(p.state)  # type: ignore[attr-defined]
    figures = desk.county_figures(scope=scope, county=county.code)
    cq = f"county={county.code}"
    desk_pages = role_of(request) in COUNTY_ROLES

    def link(name: str) -> str | None:
        return url_or_none(name, query=cq) if desk_pages else None

    stats = [
        (_("已预报未到"), figures["announced"], link("logistics:inbound")),
        (_("在县中心待分拣"), figures["at_centre"], link("logistics:sorting")),
        (_("已分拣待装车"), figures["sorted"], link("logistics:sorting")),
        (_("配送途中"), figures["on_runs"], None),
        (_("村站待取件"), figures["waiting"], None),
        (
            _("超期未取（≥%(d)s天）") % {"d": figures["reminder_days"]},
            figures["overdue"],
            None,
        ),
        (_("待退回"), figures["returns"], link("logistics:returns")),
        (_("退回件已回县中心"), figures["collected"], link("logistics:returns")),
        (
            _("待处理异常"),
            figures["exceptions"],
            link("logistics:exceptions"),
        ),
    ]
    today = [
        (_("今日预报"), figures["today"]["announced"]),
        (_("今日到中心"), figures["today"]["received"]),
        (_("今日到村站"), figures["today"]["at_station"]),
        (_("今日取件"), figures["today"]["picked_up"]),
    ]
    return render(
        request,
        "logistics/county/home.html",
        {
            "county": county,
            "stats": stats,
            "today": today,
            "links": _county_links(county.code) if role_of(request) in COUNTY_ROLES else [],
            "q": q,
            "found": found,
            "many_counties": scope.everything or len(desk.county_choices(scope=scope)) > 1,
        },
    )


def _scan_page(
    request: HttpRequest, *, type_: str, template: str, title: str, extra: Any
) -> HttpResponse:
    _role_in(request, COUNTY_ROLES)
    scope = scope_for_user(request.user)
    county = _county(request, scope)
    if county is None:
        return _picker(request, scope, title)
    results = errors = None
    lines = ""
    carrier = (request.POST.get("carrier") or request.GET.get("carrier") or "").strip().upper()
    status = 200
    if request.method == "POST":
        _role_in(request, COUNTY_WRITE_ROLES)
        lines = request.POST.get("lines", "")[:100_000]
        try:
            results = desk.desk_scan(
                scope=scope,
                type_=type_,
                lines=lines,
                carrier=carrier,
                county=county.code,
                actor=request.user,
                device="county-desk",
            )
            for r in results:
                r.extra["state"] = state_label(r.parcel.state if r.parcel else "")
            lines = ""
        except ApplicationError as exc:
            errors = _scan_errors(exc)
            status = 400
    ctx = {
        "county": county,
        "results": results,
        "errors": errors,
        "lines": lines,
        "carrier": carrier,
        "carriers": list(Carrier.objects.order_by("code")),
        "can_scan": role_of(request) in COUNTY_WRITE_ROLES,
        "home": reverse("logistics:county") + f"?county={county.code}",
        **extra(scope, county.code),
    }
    return render(request, template, ctx, status=status)


def _scan_errors(exc: ApplicationError) -> list[str]:
    """What the person must fix, one message per line of the form."""
    if exc.code == "unknown_tracking" and isinstance(exc.details, dict):
        out = []
        for e in exc.details.get("errors", []):
            if e["problem"] == "ambiguous":
                msg = _("第 %(line)s 行：单号 %(tn)s 有多家承运商，请选择承运商")
            else:
                msg = _("第 %(line)s 行：未知单号 %(tn)s（不在本县或未预报）")
            out.append(msg % {"line": e["line"], "tn": e["tracking_number"]})
        out.append(_("整批未记录，请改正后重新提交。"))
        return out
    if exc.code == "unknown_carrier":
        return [_("未知承运商")]
    if exc.code == "invalid_scan":
        return [_("请输入至少一个单号")]
    return [exc.message]


@login_required
@require_perm(Perm.VIEW_NETWORK)
def inbound(request: HttpRequest) -> HttpResponse:
    """Per carrier: announced, received, missing; the receive-scan form."""
    return _scan_page(
        request,
        type_=sm.RECEIVED_AT_COUNTY,
        template="logistics/county/inbound.html",
        title=_("到件（按承运商）"),
        extra=lambda scope, code: {
            "carriers_rows": desk.inbound_by_carrier(scope=scope, county=code)
        },
    )


@login_required
@require_perm(Perm.VIEW_NETWORK)
def sorting(request: HttpRequest) -> HttpResponse:
    """At the centre by township and station (and route); the sort-scan form."""
    return _scan_page(
        request,
        type_=sm.SORTED,
        template="logistics/county/sorting.html",
        title=_("分拣"),
        extra=lambda scope, code: {"sort": desk.sorting_groups(scope=scope, county=code)},
    )


@login_required
@require_perm(Perm.VIEW_NETWORK)
def returns(request: HttpRequest) -> HttpResponse:
    """Returns back at the centre, by carrier; the hand-back scan (``returned``)."""

    def extra(scope: RegionScope, code: str) -> dict[str, Any]:
        back = desk.returns_to_hand_back(scope=scope, county=code)
        for c in back["carriers"]:
            for p in c["parcels"]:
                p.state_display = state_label(p.state)
        return {"back": back}

    return _scan_page(
        request,
        type_=sm.RETURNED,
        template="logistics/county/returns.html",
        title=_("退回承运商"),
        extra=extra,
    )


@login_required
@require_perm(Perm.VIEW_NETWORK)
def exceptions(request: HttpRequest) -> HttpResponse:
    """The open exceptions in scope (filter by county, problem, status, number)."""
    _role_in(request, COUNTY_ROLES)
    scope = scope_for_user(request.user)
    county = _county(request, scope)
    problem = request.GET.get("problem", "")
    status = request.GET.get("status", ExceptionStatus.OPEN)
    q = (request.GET.get("q") or "").strip()[:40]
    try:
        qs = desk.exception_list(
            scope=scope,
            county=county.code if county else "",
            problem=problem if problem in ParcelException.Problem.values else "",
            status=status if status in ExceptionStatus.values else "",
            q=q,
        )
    except ApplicationError as exc:
        raise Http404(exc.message) from exc
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    can_resolve = role_of(request) in COUNTY_WRITE_ROLES
    rows = []
    for x in page:
        choices = []
        if (
            can_resolve
            and x.status == ExceptionStatus.OPEN
            and x.problem == ParcelException.Problem.UNMATCHED
            and x.parcel.state in desk.WAITING_BEFORE_STATION
        ):
            choices = desk.exception_station_choices(scope=scope, parcel=x.parcel)
        rows.append({"x": x, "stations": choices, "state": state_label(x.parcel.state)})
    return render(
        request,
        "logistics/county/exceptions.html",
        {
            "county": county,
            "page": page,
            "rows": rows,
            "problem": problem,
            "status": status,
            "q": q,
            "problems": ParcelException.Problem.choices,
            "statuses": ExceptionStatus.choices,
            "query": params.urlencode(),
            "can_resolve": can_resolve,
            "counties": desk.county_choices(scope=scope),
        },
    )


@login_required
@require_perm(Perm.VIEW_NETWORK)
def exception_resolve(request: HttpRequest, exception_id: int) -> HttpResponse:
    """POST: resolve one exception with a note (and a station for an unmatched parcel)."""
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    _role_in(request, COUNTY_WRITE_ROLES)
    scope = scope_for_user(request.user)
    try:
        x = desk.exception_get(scope=scope, exception_id=exception_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    try:
        desk.exception_resolve_with_station(
            scope=scope,
            exception_id=x.pk,
            note=request.POST.get("note", ""),
            station_code=request.POST.get("station_code", ""),
            actor=request.user,
        )
        messages.success(
            request,
            _("已处理：%(tn)s") % {"tn": f"{x.parcel.carrier.code} {x.parcel.tracking_number}"},
        )
    except ApplicationError as exc:
        msg = {
            "note_required": _("请填写处理说明"),
            "already_resolved": _("该异常已处理过"),
            "invalid_station": _("只能分配到包裹所在乡镇的运营中村级服务站"),
            "invalid_state": _("包裹已到村站或已离开，不能再改村站"),
        }.get(exc.code, exc.message)
        messages.error(request, msg)
    back = request.POST.get("next", "")
    if not back.startswith("/logistics/"):
        back = reverse("logistics:exceptions")
    return redirect(back)


@login_required
@require_perm(Perm.VIEW_NETWORK)
def parcel_detail(request: HttpRequest, parcel_id: uuid.UUID) -> HttpResponse:
    """One parcel: its events as the state machine applies them, its exceptions, and
    the re-send of the pickup code while it waits."""
    _role_in(request, PARCEL_ROLES)
    scope = scope_for_user(request.user)
    try:
        parcel = selectors.parcel_get(scope=scope, parcel_id=parcel_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    can_resend = role_of(request) in RESEND_ROLES and parcel.state == sm.AT_STATION
    if request.method == "POST":
        if request.POST.get("action") != "resend" or not can_resend:
            return HttpResponse(_("不能执行该操作"), status=400)
        try:
            services.pickup_code_resend(scope=scope, parcel=parcel)
            messages.success(request, _("已重新发送取件码短信"))
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("logistics:parcel", parcel_id=parcel.uuid)
    events = selectors.parcel_events(parcel=parcel)
    return render(
        request,
        "logistics/county/parcel.html",
        {
            "parcel": parcel,
            "state": state_label(parcel.state),
            "events": [{"e": e, "label": state_label(e.type)} for e in events],
            "exceptions": list(selectors.parcel_exceptions(parcel=parcel)),
            "can_resend": can_resend,
            "show_code": role_of(request) in RESEND_ROLES,
            "county_url": reverse("logistics:county") + f"?county={parcel.village_id[:6]}"
            if role_of(request) in COUNTY_ROLES
            else None,
            "station_url": reverse("logistics:station", kwargs={"pk": parcel.station_id})
            if parcel.station_id and role_of(request) in RESEND_ROLES
            else None,
        },
    )


urlpatterns: list[URLPattern] = [
    path("", logistics_home, name="home"),
    path("county/", county_home, name="county"),
    path("county/inbound/", inbound, name="inbound"),
    path("county/sorting/", sorting, name="sorting"),
    path("county/returns/", returns, name="returns"),
    path("county/exceptions/", exceptions, name="exceptions"),
    path(
        "county/exceptions/<int:exception_id>/resolve/",
        exception_resolve,
        name="exception-resolve",
    ),
    path("parcels/<uuid:parcel_id>/", parcel_detail, name="parcel"),
]


@register_panel(order=20)
def county_logistics_panel(*, user: Any, scope: RegionScope) -> dict[str, Any] | None:
    """A county manager's parcels today, on the home page."""
    if user.role != Role.COUNTY_MANAGER:
        return None
    counties = [p for p in scope.prefixes if len(p) == 6]
    if len(counties) != 1:
        return None
    f = desk.county_figures(scope=scope, county=counties[0])
    home = reverse("logistics:county") + f"?county={counties[0]}"
    return {
        "title": _("物流 · 今天"),
        "stats": [
            {"label": _("在县中心待分拣"), "value": f["at_centre"]},
            {"label": _("配送途中"), "value": f["on_runs"]},
            {"label": _("村站待取件"), "value": f["waiting"]},
            {"label": _("待处理异常"), "value": f["exceptions"]},
        ],
        "links": [{"url": home, "label": _("县级物流中心")}],
    }
