from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.errors import PermissionDenied as CorePermissionDenied
from cunzhan.core.money import format_fen
from cunzhan.core.rollups import region_counters
from cunzhan.core.validation import is_ascii_digits
from cunzhan.core.views import require_perm
from cunzhan.network import geo
from cunzhan.network.forms import (
    StationActivateForm,
    StationApplyForm,
    StationEditForm,
    StationFilterForm,
    StationHelperAddForm,
    StationHelperEndForm,
    StationNoteForm,
    StationReviewForm,
    open_days_label,
)
from cunzhan.network.models import (
    KIND_FOR_CODE_LENGTH,
    LEVEL_CODE_LENGTH,
    Capability,
    Level,
    Region,
    Station,
    StationKind,
    StationStatus,
)
from cunzhan.network.selectors import (
    region_ancestors,
    region_children,
    region_display_name,
    region_get,
    region_is_ancestor_of_scope,
    region_resolve,
    region_search,
    station_get,
    station_helper_get,
    station_helpers,
    station_list,
    station_map_list,
)
from cunzhan.network.services import (
    TRANSITIONS,
    station_actions_allowed,
    station_activate,
    station_apply,
    station_close,
    station_helper_add,
    station_helper_end,
    station_reinstate,
    station_review,
    station_submit_for_review,
    station_suspend,
    station_update,
)


@login_required
@require_perm(Perm.VIEW_NETWORK)
def region_browser(request: HttpRequest, code: str | None = None) -> HttpResponse:
    """Drill down from province to village, with counts at every level."""
    scope = scope_for_user(request.user)
    region = alias = None
    if code:
        try:
            region = region_get(scope=scope, code=code)
            _, alias = region_resolve(code=code)
        except NotFound as exc:
            raise Http404(exc.message) from exc
    children = list(region_children(scope=scope, code=region.code if region else None))
    counters = [c for c in region_counters() if c.perm is None or request.user.can(c.perm)]  # type: ignore[union-attr]
    child_len = (
        LEVEL_CODE_LENGTH.get(Level(region.level + 1))
        if region and region.level < 5
        else (2 if region is None else None)
    )
    columns = []
    if child_len:
        parent_code = region.code if region else ""
        for c in counters:
            columns.append((c, c.func(scope, parent_code, child_len)))
    rows = [
        {"region": child, "counts": [values.get(child.code, 0) for _c, values in columns]}
        for child in children
    ]
    # Objects attached to the unit itself (a county's centre, a township's depot): the
    # counters key them by the unit's own code; shown as a row so the totals add up.
    own_counts = [values.get(region.code, 0) for _c, values in columns] if region else []
    ctx = {
        "region": region,
        "display_name": region_display_name(region, alias) if region else "",
        "ancestors": region_ancestors(region=region) if region else [],
        "rows": rows,
        "own_counts": own_counts if any(own_counts) else None,
        "columns": [c for c, _v in columns],
        "totals": [sum(v.values()) for _c, v in columns],
        "can_apply": request.user.can(Perm.APPLY_STATION),  # type: ignore[union-attr]
    }
    template = (
        "network/_region_rows.html" if request.headers.get("HX-Request") else "network/regions.html"
    )
    return render(request, template, ctx)


# --- stations ---------------------------------------------------------------------------------


def _service_call(fn: Callable[[], Any]) -> Any:
    """Run a service for a page: scope misses are 404, missing permissions 403."""
    try:
        return fn()
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except CorePermissionDenied as exc:
        raise PermissionDenied(exc.message) from exc


def _station_or_404(request: HttpRequest, pk: int) -> Station:
    return _service_call(lambda: station_get(scope=scope_for_user(request.user), station_id=pk))


@login_required
@require_perm(Perm.VIEW_NETWORK)
def station_list_page(request: HttpRequest) -> HttpResponse:
    """Stations in scope, filtered by region (code prefix), kind and status, 25 a page."""
    scope = scope_for_user(request.user)
    form = StationFilterForm(request.GET or None)
    region_code = kind = status = None
    region = None
    if form.is_valid():
        region_code = form.cleaned_data["region"] or None
        kind = form.cleaned_data["kind"] or None
        status = form.cleaned_data["status"] or None
        if region_code:
            try:
                region = region_get(scope=scope, code=region_code)
            except NotFound:
                form.add_error(
                    "region", _("地区代码 %(c)s 不存在或不在您的管辖范围内") % {"c": region_code}
                )
                region_code = None
    qs = station_list(scope=scope, region_code=region_code, kind=kind, status=status)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    ctx = {
        "form": form,
        "page": page,
        "region": region,
        "query": params.urlencode(),
        "can_apply": request.user.can(Perm.APPLY_STATION),  # type: ignore[union-attr]
    }
    template = (
        "network/_station_rows.html"
        if request.headers.get("HX-Request")
        and request.headers.get("HX-Target") == "station-results"
        else "network/stations.html"
    )
    return render(request, template, ctx)


def _detail_context(request: HttpRequest, station: Station, **extra: Any) -> dict[str, Any]:
    app = getattr(station, "application", None)
    return {
        "station": station,
        "application": app,
        "deposit": format_fen(app.deposit_fen) if app else "",
        "capabilities": [
            Capability(c).label for c in station.capabilities if c in Capability.values
        ],
        "days": open_days_label(station.open_days),
        "actions": station_actions_allowed(station=station, user=request.user),
        "can_edit": station.status != StationStatus.CLOSED and request.user.can(Perm.EDIT_STATION),  # type: ignore[union-attr]
        "ancestors": region_ancestors(region=station.region),
        "review_form": extra.pop("review_form", None) or StationReviewForm(),
        "activate_form": extra.pop("activate_form", None) or StationActivateForm(),
        "note_form": StationNoteForm(),
        **_helpers_context(request, station, extra),
        **extra,
    }


def _helpers_context(request: HttpRequest, station: Station, extra: dict[str, Any]) -> dict:
    """The 淘帮手 section: the helpers (active first), the add form and the end buttons
    (for whoever may edit the station, while it is active)."""
    today = timezone.localdate()
    helpers = list(station_helpers(scope=scope_for_user(request.user), station=station))
    active = 0
    for h in helpers:
        h.is_active = h.active_on(today)  # type: ignore[attr-defined]
        active += h.is_active  # type: ignore[attr-defined]
    can_edit = request.user.can(Perm.EDIT_STATION)  # type: ignore[union-attr]
    return {
        "helpers": helpers,
        "helpers_active": active,
        "can_add_helper": can_edit and station.status == StationStatus.ACTIVE,
        "can_end_helper": can_edit,
        "helper_form": extra.pop("helper_form", None)
        or StationHelperAddForm(initial={"started_on": today}),
        "helper_end_error": extra.pop("helper_end_error", None),
        "today": today,
    }


@login_required
@require_perm(Perm.VIEW_NETWORK)
def station_detail_page(request: HttpRequest, pk: int) -> HttpResponse:
    station = _station_or_404(request, pk)
    return render(request, "network/station_detail.html", _detail_context(request, station))


@login_required
@require_perm(Perm.EDIT_STATION)
def station_edit_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a station's details (its operator, or the county)."""
    station = _station_or_404(request, pk)
    can_rename = request.user.can(Perm.MANAGE_STATIONS)  # type: ignore[union-attr]
    if request.method == "POST":
        form = StationEditForm(request.POST, can_rename=can_rename, initial={"name": station.name})
        if form.is_valid():
            try:
                station = _service_call(
                    lambda: station_update(
                        station=station, actor=request.user, **form.service_kwargs()
                    )
                )
            except ApplicationError as exc:
                if isinstance(exc, CorePermissionDenied):
                    raise PermissionDenied(exc.message) from exc
                form.add_service_error(exc)
            else:
                messages.success(request, _("服务站信息已保存"))
                return redirect("network:station", pk=station.pk)
        status = 400
    else:
        form = StationEditForm(
            can_rename=can_rename,
            initial={
                "name": station.name,
                "address": station.address,
                "phone": station.phone,
                "capabilities": station.capabilities,
                "opens_at": station.opens_at,
                "closes_at": station.closes_at,
                "open_days": list(station.open_days),
            },
        )
        status = 200
    return render(
        request, "network/station_edit.html", {"form": form, "station": station}, status=status
    )


ACTION_DONE = {
    "submit": gettext_lazy("已提交审核"),
    "approve": gettext_lazy("申请已批准，可以开通"),
    "reject": gettext_lazy("申请已驳回，服务站已关闭"),
    "suspend": gettext_lazy("服务站已暂停"),
    "reinstate": gettext_lazy("服务站已恢复运营"),
    "close": gettext_lazy("服务站已关闭"),
}


@login_required
@require_POST
def station_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Apply one transition. Activation answers with the operator's one-time password
    in the page itself (never stored, never shown again)."""
    if action not in TRANSITIONS:
        raise Http404(action)
    user = request.user
    station = _station_or_404(request, pk)
    note = (request.POST.get("note") or "").strip()[:300]
    try:
        if action == "activate":
            form = StationActivateForm(request.POST)
            if not form.is_valid():
                ctx = _detail_context(request, station, activate_form=form)
                return render(request, "network/station_detail.html", ctx, status=400)
            station, operator, password = _service_call(
                lambda: station_activate(
                    station=station,
                    actor=user,
                    operator_username=form.cleaned_data["operator_username"],
                    operator_display_name=form.cleaned_data["operator_display_name"],
                )
            )
            station = _station_or_404(request, pk)
            ctx = _detail_context(
                request,
                station,
                credentials={"username": operator.username, "password": password},
            )
            response = render(request, "network/station_detail.html", ctx)
            response["Cache-Control"] = "no-store"
            return response
        services_by_action: dict[str, Callable[[], Any]] = {
            "submit": lambda: station_submit_for_review(station=station, actor=user),
            "approve": lambda: station_review(station=station, approve=True, note=note, actor=user),
            "reject": lambda: station_review(station=station, approve=False, note=note, actor=user),
            "suspend": lambda: station_suspend(station=station, note=note, actor=user),
            "reinstate": lambda: station_reinstate(station=station, note=note, actor=user),
            "close": lambda: station_close(station=station, note=note, actor=user),
        }
        _service_call(services_by_action[action])
    except ApplicationError as exc:
        if isinstance(exc, NotFound | CorePermissionDenied):
            raise
        if action == "activate":
            form = StationActivateForm(request.POST)
            form.is_valid()
            form.add_error(
                "operator_username" if exc.details.get("field") == "operator_username" else None,  # type: ignore[union-attr]
                exc.message,
            )
            ctx = _detail_context(request, _station_or_404(request, pk), activate_form=form)
            return render(request, "network/station_detail.html", ctx, status=400)
        if action in ("approve", "reject"):
            review_form = StationReviewForm(request.POST)
            review_form.is_valid()
            review_form.add_error("note" if exc.code == "note_required" else None, exc.message)
            ctx = _detail_context(request, _station_or_404(request, pk), review_form=review_form)
            return render(request, "network/station_detail.html", ctx, status=400)
        messages.error(request, exc.message)
        return redirect("network:station", pk=pk)
    messages.success(request, ACTION_DONE[action])
    return redirect("network:station", pk=pk)


@login_required
@require_POST
@require_perm(Perm.EDIT_STATION)
def station_helper_add_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a helper (淘帮手) from the station page; errors are shown in its form."""
    station = _station_or_404(request, pk)
    form = StationHelperAddForm(request.POST)
    if form.is_valid():
        try:
            _service_call(
                lambda: station_helper_add(
                    scope=scope_for_user(request.user),
                    station=station,
                    name=form.cleaned_data["name"],
                    phone=form.cleaned_data["phone"],
                    started_on=form.cleaned_data["started_on"],
                    actor=request.user,
                )
            )
        except ApplicationError as exc:
            if isinstance(exc, NotFound | CorePermissionDenied):
                raise
            form.add_service_error(exc)
        else:
            messages.success(request, _("淘帮手已登记"))
            return redirect("network:station", pk=pk)
    ctx = _detail_context(request, station, helper_form=form)
    return render(request, "network/station_detail.html", ctx, status=400)


@login_required
@require_POST
@require_perm(Perm.EDIT_STATION)
def station_helper_end_page(request: HttpRequest, pk: int, helper_id: int) -> HttpResponse:
    """End a helper's work at the station (the date defaults to today in the form)."""
    station = _station_or_404(request, pk)
    scope = scope_for_user(request.user)
    helper = _service_call(
        lambda: station_helper_get(scope=scope, station=station, helper_id=helper_id)
    )
    form = StationHelperEndForm(request.POST)
    if form.is_valid():
        try:
            _service_call(
                lambda: station_helper_end(
                    scope=scope,
                    helper=helper,
                    ended_on=form.cleaned_data["ended_on"],
                    actor=request.user,
                )
            )
        except ApplicationError as exc:
            if isinstance(exc, NotFound | CorePermissionDenied):
                raise
            error = exc.message
        else:
            messages.success(request, _("%(name)s的淘帮手工作已结束") % {"name": helper.name})
            return redirect("network:station", pk=pk)
    else:
        error = "; ".join(str(e) for errs in form.errors.values() for e in errs)
    ctx = _detail_context(
        request, station, helper_end_error={"helper_id": helper.pk, "message": error}
    )
    return render(request, "network/station_detail.html", ctx, status=400)


@login_required
@require_perm(Perm.APPLY_STATION)
def station_apply_page(request: HttpRequest) -> HttpResponse:
    """The onboarding form: region (searchable), kind, premises, recommendation, deposit."""
    if request.method == "POST":
        form = StationApplyForm(request.POST)
        if form.is_valid():
            try:
                station = _service_call(
                    lambda: station_apply(**form.service_kwargs(), actor=request.user)
                )
            except ApplicationError as exc:
                if isinstance(exc, CorePermissionDenied):
                    raise PermissionDenied(exc.message) from exc
                form.add_service_error(exc)
            else:
                messages.success(
                    request, _("申请已创建：%(code)s。请核对后提交审核。") % {"code": station.code}
                )
                return redirect("network:station", pk=station.pk)
        status = 400
    else:
        # Most applications are for village stations; a region given in the link
        # (the region browser's "apply here") chooses the kind that fits its level.
        initial: dict[str, str] = {"kind": StationKind.VILLAGE_STATION}
        code = request.GET.get("region", "")
        if is_ascii_digits(code):
            initial["region_code"] = code
            initial["kind"] = KIND_FOR_CODE_LENGTH.get(len(code), StationKind.VILLAGE_STATION)
        form = StationApplyForm(initial=initial)
        status = 200
    return render(request, "network/station_apply.html", {"form": form}, status=status)


@login_required
@require_perm(Perm.VIEW_NETWORK)
def region_search_options(request: HttpRequest) -> HttpResponse:
    """htmx: ``<option>``s of regions in scope matching ``q`` (name or code prefix)."""
    text = (request.GET.get("q") or request.GET.get("region_code") or "").strip()[:40]
    regions = []
    if text and "\x00" not in text:
        scope = scope_for_user(request.user)
        regions = list(region_search(scope=scope, text=text, limit=20))
    return render(request, "network/_region_options.html", {"regions": regions})


# --- the map ----------------------------------------------------------------------------------

KIND_STYLE = {
    StationKind.COUNTY_CENTRE: ("#c8102e", 7.0),
    StationKind.TOWNSHIP_DEPOT: ("#0b57d0", 5.0),
    StationKind.VILLAGE_STATION: ("#1a7f37", 3.5),
}


def _default_map_code(scope: Any) -> str | None:
    if not scope.everything and scope.prefixes:
        code = scope.prefixes[0]
        return code[:6] if len(code) > 6 else code
    first = next(iter(sorted(geo.fence_index(settings.DATA_DIR))), None)
    if first is None:
        return None
    try:
        region, _alias = region_resolve(code=first[:4])
    except NotFound:
        return None
    return region.code


@login_required
@require_perm(Perm.VIEW_NETWORK)
def station_map(request: HttpRequest) -> HttpResponse:
    """County outlines (GeoJSON shipped with the data) and stations, as an inline SVG."""
    scope = scope_for_user(request.user)
    code = (request.GET.get("region") or "").strip()[:40] or _default_map_code(scope)
    ctx: dict[str, Any] = {"region": None, "svg": None, "kinds": [], "typed": code or ""}
    if code and not is_ascii_digits(code):
        # a name (水城): one unit in scope resolves; several are offered; none is said so
        named = [] if "\x00" in code else list(region_search(scope=scope, text=code, limit=50))
        exact = [r for r in named if r.name == code] or [
            r for r in named if r.name.startswith(code) and len(r.name) - len(code) <= 2
        ]
        named = exact or named
        if len(named) == 1:
            code = named[0].code
        else:
            ctx.update(region_choices=named[:20], region_missing=not named)
            code = None
    if code:
        try:
            region = region_get(scope=scope, code=code)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        ctx.update(map_context(scope=scope, region=region))
    ctx["kinds"] = [
        {"label": StationKind(k).label, "colour": c, "r": r} for k, (c, r) in KIND_STYLE.items()
    ]
    return render(request, "network/map.html", ctx)


def map_context(*, scope: Any, region: Region) -> dict[str, Any]:
    """Outlines and station dots for ``region`` projected to an 800-px-wide viewBox."""
    index = geo.fence_index(settings.DATA_DIR)
    if region.level >= Level.COUNTY:
        counties = [region.code[:6]]
    else:
        # outlines of the counties the caller may see (an ancestor's map must not draw,
        # and name, the sibling counties outside the caller's scope)
        counties = [
            c
            for c in index
            if len(c) == 6
            and c.startswith(region.code)
            and c[4:] != "00"
            and (scope.contains_code(c) or region_is_ancestor_of_scope(scope=scope, code=c))
        ]
    fence_codes = sorted({f for c in counties for f in index.get(c, ())})
    outlines: list[dict[str, Any]] = []
    for fcode in fence_codes:
        geometry = geo.load_fence(settings.DATA_DIR, fcode)
        try:
            unit, alias = region_resolve(code=fcode)
            label = region_display_name(unit, alias)
        except NotFound:
            label = fcode
        outlines.append({"code": fcode, "geometry": geometry, "label": label})
    stations = list(station_map_list(scope=scope, region_code=region.code)[:5000])
    boxes = [b for b in [geo.bbox([o["geometry"] for o in outlines])] if b is not None]
    if stations:
        xs = [float(s.longitude or 0) for s in stations]
        ys = [float(s.latitude or 0) for s in stations]
        boxes.append((min(xs), min(ys), max(xs), max(ys)))
    if not boxes:
        return {"region": region, "svg": None, "station_count": 0}
    box = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    if box[2] - box[0] < 0.02 or box[3] - box[1] < 0.02:  # one point: show ~5 km around it
        box = (box[0] - 0.05, box[1] - 0.05, box[2] + 0.05, box[3] + 0.05)
    proj = geo.Projection.fit(box, width=800, pad=12)
    shapes = []
    for o in outlines:
        b = geo.bbox([o["geometry"]])
        assert b is not None
        cx, cy = proj.xy((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
        shapes.append(
            {"d": geo.svg_path(o["geometry"], proj), "label": o["label"], "x": cx, "y": cy}
        )
    dots: list[dict[str, Any]] = []
    for s in stations:
        x, y = proj.xy(s.longitude, s.latitude)  # type: ignore[arg-type]
        colour, r = KIND_STYLE.get(StationKind(s.kind), ("#555", 3.0))
        dots.append(
            {
                "x": x,
                "y": y,
                "r": r,
                "colour": colour,
                "synthetic": s.coord_synthetic,
                "name": s.name,
                "status": s.get_status_display(),
                "pk": s.pk,
            }
        )
    dots.sort(key=lambda d: -d["r"])  # small dots drawn last, on top
    return {
        "region": region,
        "svg": {"view_box": proj.view_box, "outlines": shapes, "dots": dots},
        "station_count": len(dots),
        "synthetic_count": sum(1 for d in dots if d["synthetic"]),
    }
