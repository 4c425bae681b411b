"""Logistics pages: the daily plan (list + build, detail, printable route sheet, SVG map),
vehicles, the driver's phone page and a run's planned vs actual.

Thin views: the services (plans.py, runs.py) do the work; ApplicationError shows as a
message, NotFound as 404."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cunzhan.accounts.roles import Perm, Role
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.errors import PermissionDenied as AppPermissionDenied
from cunzhan.core.validation import is_ascii_digits
from cunzhan.core.views import require_perm, user_scope
from cunzhan.logistics import plans, runs
from cunzhan.logistics.plan_models import DailyPlan, PlanRoute
from cunzhan.network import geo
from cunzhan.network.models import Level, Region

READ_ROLES = frozenset[str]({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.DRIVER, Role.AUDITOR})
MANAGE_ROLES = frozenset[str]({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER})
DRIVE_ROLES = frozenset[str]({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.DRIVER})
PAGE_TIME_LIMIT_S = 10.0
STEPS = ("arrive", "drop", "pickup")


def roles(allowed: frozenset[str]) -> Callable[[Callable[..., HttpResponse]], Any]:
    """login + VIEW_NETWORK + one of ``allowed``; NotFound -> 404."""

    def deco(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @require_perm(Perm.VIEW_NETWORK)
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if getattr(request.user, "role", "") not in allowed:
                raise DjangoPermissionDenied("role")
            try:
                return view(request, *args, **kwargs)
            except NotFound as exc:
                raise Http404(exc.message) from exc
            except AppPermissionDenied as exc:
                raise DjangoPermissionDenied(exc.message) from exc

        return wrapper

    return deco


def _counties(scope: Any) -> list[Region]:
    qs = Region.objects.filter(level=Level.COUNTY, withdrawn_in="")
    if not scope.everything:
        qs = qs.filter(scope.q("code"))
    return list(qs.order_by("code")[:300])


def _today() -> dt.date:
    return timezone.localdate()


def _km(metres: int) -> str:
    return f"{metres / 1000:.1f}"


# --- plans --------------------------------------------------------------------------------


@roles(READ_ROLES)
def plan_list(request: HttpRequest) -> HttpResponse:
    scope = user_scope(request)
    counties = _counties(scope)
    form = {"county": counties[0].code if len(counties) == 1 else "", "date": str(_today())}
    error = ""
    status = 200
    if request.method == "POST":
        if request.user.role not in MANAGE_ROLES:  # type: ignore[union-attr]
            raise DjangoPermissionDenied("role")
        form = {"county": request.POST.get("county", ""), "date": request.POST.get("date", "")}
        try:
            day = dt.date.fromisoformat(form["date"])
        except ValueError:
            error, status = _("日期格式应为 2026-11-03"), 400
        else:
            try:
                plan = plans.plan_build(
                    scope=scope,
                    county_code=form["county"],
                    day=day,
                    time_limit=PAGE_TIME_LIMIT_S,
                    actor=request.user,
                )
            except ApplicationError as exc:
                error, status = exc.message, 400
            else:
                messages.success(request, _("计划已生成。"))
                return redirect("logistics:plan", plan_id=plan.pk)
    plan_rows = list(plans.plan_list(scope=scope).order_by("-date", "county_id")[:100])
    return render(
        request,
        "logistics/plan/plans.html",
        {
            "plans": plan_rows,
            "counties": counties,
            "form": form,
            "error": error,
            "can_build": request.user.role in MANAGE_ROLES,  # type: ignore[union-attr]
        },
        status=status,
    )


def _plan_context(request: HttpRequest, plan_id: int) -> dict[str, Any]:
    plan = plans.plan_get(scope=user_scope(request), plan_id=plan_id)
    routes = plans.plan_routes(plan=plan)
    rows = []
    for r in routes:
        stops = list(r.stops.all())
        rows.append(
            {
                "route": r,
                "run": plans.route_run(r),
                "stops": stops,
                "km": _km(r.metres),
                "hours": f"{r.seconds / 3600:.1f}",
                "drop_pieces": sum(s.drop_pieces for s in stops),
                "drop_kg": f"{sum(s.drop_g for s in stops) / 1000:.1f}",
                "pickup_pieces": sum(s.pickup_pieces for s in stops),
                "pickup_kg": f"{sum(s.pickup_g for s in stops) / 1000:.1f}",
                "colour": plans.ROUTE_COLOURS[(r.position - 1) % len(plans.ROUTE_COLOURS)],
            }
        )
    return {
        "plan": plan,
        "routes": rows,
        "total_km": _km(plan.total_metres),
        "total_yuan": f"{plan.total_cost_fen / 100:.2f}",
        "can_build": request.user.role in MANAGE_ROLES,  # type: ignore[union-attr]
    }


@roles(READ_ROLES)
def plan_detail(request: HttpRequest, plan_id: int) -> HttpResponse:
    ctx = _plan_context(request, plan_id)
    ctx["svg"] = plan_svg(ctx["plan"], ctx["routes"], width=640)
    return render(request, "logistics/plan/plan.html", ctx)


@roles(READ_ROLES)
def plan_sheet(request: HttpRequest, plan_id: int) -> HttpResponse:
    """The printable route sheets: one page per route."""
    return render(request, "logistics/plan/sheet.html", _plan_context(request, plan_id))


@roles(READ_ROLES)
def plan_map(request: HttpRequest, plan_id: int) -> HttpResponse:
    ctx = _plan_context(request, plan_id)
    ctx["svg"] = plan_svg(ctx["plan"], ctx["routes"], width=900)
    return render(request, "logistics/plan/map.html", ctx)


def plan_svg(plan: DailyPlan, routes: list[dict[str, Any]], *, width: int) -> dict[str, Any] | None:
    """The county outline (shipped data), the depot, the stops and the routes coloured
    per vehicle — server-side SVG, no tile server."""
    fences = geo.county_fences(settings.DATA_DIR, plan.county_id)
    points: list[tuple[float, float]] = []
    for row in routes:
        depot = row["route"].vehicle.depot
        if depot.longitude is not None and depot.latitude is not None:
            points.append((depot.longitude, depot.latitude))
        points += [
            (s.station.longitude, s.station.latitude)
            for s in row["stops"]
            if s.station.longitude is not None and s.station.latitude is not None
        ]
    box = geo.bbox(fences) if fences else None
    if box is None:
        if not points:
            return None
        lons = [p[0] for p in points]
        lats = [p[1] for p in points]
        box = (min(lons) - 0.01, min(lats) - 0.01, max(lons) + 0.01, max(lats) + 0.01)
    proj = geo.Projection.fit(box, width=width, pad=12, max_height=width * 1.4)
    outline = " ".join(geo.svg_path(f, proj) for f in fences)
    lines = []
    dots = []
    depots = {}
    for row in routes:
        r = row["route"]
        depot = r.vehicle.depot
        if depot.longitude is None or depot.latitude is None:
            continue
        d_xy = proj.xy(depot.longitude, depot.latitude)
        depots[depot.pk] = {"x": d_xy[0], "y": d_xy[1], "name": depot.name}
        pts = [d_xy]
        for s in row["stops"]:
            if s.station.longitude is None or s.station.latitude is None:
                continue
            xy = proj.xy(s.station.longitude, s.station.latitude)
            pts.append(xy)
            dots.append(
                {
                    "x": xy[0],
                    "y": xy[1],
                    "colour": row["colour"],
                    "label": f"{r.position}.{s.position} {s.station.name}",
                }
            )
        pts.append(d_xy)
        lines.append(
            {
                "points": " ".join(f"{x:g},{y:g}" for x, y in pts),
                "colour": row["colour"],
                "label": f"{r.vehicle.name}",
            }
        )
    return {
        "view_box": proj.view_box,
        "outline": outline,
        "lines": lines,
        "dots": dots,
        "depots": list(depots.values()),
    }


# --- vehicles -----------------------------------------------------------------------------


def _vehicle_form(post: Any) -> dict[str, Any]:
    def num(key: str) -> Any:
        raw = (post.get(key) or "").strip()
        try:
            return int(raw)
        except ValueError:
            return raw  # the service names the field

    return {
        "name": post.get("name", ""),
        "plate": post.get("plate", ""),
        "capacity_kg": num("capacity_kg"),
        "capacity_pieces": num("capacity_pieces"),
        "shift_start": post.get("shift_start", ""),
        "shift_end": post.get("shift_end", ""),
        "fixed_cost_fen": num("fixed_cost_fen") if post.get("fixed_cost_fen") else 0,
        "cost_per_km_fen": num("cost_per_km_fen") if post.get("cost_per_km_fen") else 150,
        "driver_id": num("driver_id") if post.get("driver_id") else None,
        "active": post.get("active") == "on",
    }


def _drivers(scope: Any) -> list[Any]:
    from cunzhan.accounts.models import User

    qs = User.objects.filter(role=Role.DRIVER, is_active=True)
    if not scope.everything:
        qs = qs.filter(scope.q("assignments__region_id")).distinct()
    return list(qs.order_by("username")[:200])


@roles(READ_ROLES)
def vehicle_list(request: HttpRequest) -> HttpResponse:
    scope = user_scope(request)
    counties = _counties(scope)
    error = ""
    status = 200
    form: dict[str, Any] = {
        "county": counties[0].code if len(counties) == 1 else "",
        "capacity_kg": 1000,
        "capacity_pieces": 150,
        "shift_start": "07:30",
        "shift_end": "18:30",
        "cost_per_km_fen": 150,
        "fixed_cost_fen": 8000,
        "active": True,
    }
    if request.method == "POST":
        if request.user.role not in MANAGE_ROLES:  # type: ignore[union-attr]
            raise DjangoPermissionDenied("role")
        form = {**_vehicle_form(request.POST), "county": request.POST.get("county", "")}
        try:
            plans.vehicle_create(
                scope=scope,
                county_code=form["county"],
                **{k: v for k, v in form.items() if k != "county"},
            )
        except ApplicationError as exc:
            error, status = exc.message, 400
        else:
            messages.success(request, _("车辆已添加。"))
            return redirect("logistics:vehicles")
    return render(
        request,
        "logistics/plan/vehicles.html",
        {
            "vehicles": list(plans.vehicles_in_scope(scope=scope)[:500]),
            "counties": counties,
            "drivers": _drivers(scope),
            "form": form,
            "error": error,
            "can_manage": request.user.role in MANAGE_ROLES,  # type: ignore[union-attr]
        },
        status=status,
    )


@roles(MANAGE_ROLES)
def vehicle_edit(request: HttpRequest, vehicle_id: int) -> HttpResponse:
    scope = user_scope(request)
    v = plans.vehicle_get(scope=scope, vehicle_id=vehicle_id)
    error = ""
    status = 200
    form: dict[str, Any] = {
        k: getattr(v, k)
        for k in (
            "name",
            "plate",
            "capacity_kg",
            "capacity_pieces",
            "fixed_cost_fen",
            "cost_per_km_fen",
            "driver_id",
            "active",
        )
    }
    form["shift_start"] = v.shift_start.strftime("%H:%M")
    form["shift_end"] = v.shift_end.strftime("%H:%M")
    if request.method == "POST":
        form = _vehicle_form(request.POST)
        try:
            plans.vehicle_update(scope=scope, vehicle=v, **form)
        except ApplicationError as exc:
            error, status = exc.message, 400
        else:
            messages.success(request, _("车辆已保存。"))
            return redirect("logistics:vehicles")
    return render(
        request,
        "logistics/plan/vehicle_edit.html",
        {"vehicle": v, "form": form, "error": error, "drivers": _drivers(scope)},
        status=status,
    )


# --- the driver ---------------------------------------------------------------------------


@roles(DRIVE_ROLES)
def driver_today(request: HttpRequest) -> HttpResponse:
    """The driver's phone page: today's route, stops in order, big buttons."""
    scope = user_scope(request)
    today = _today()
    routes = runs.driver_routes(scope=scope, user=request.user, day=today)
    chosen: PlanRoute | None = None
    wanted = request.GET.get("route", "")
    if is_ascii_digits(wanted):
        chosen = next((r for r in routes if r.pk == int(wanted)), None)
    elif len(routes) == 1:
        chosen = routes[0]
    ctx: dict[str, Any] = {"routes": routes, "route": chosen, "today": today}
    if chosen is not None:
        report = runs.run_report(route=chosen)
        ctx["report"] = report
        done = sum(1 for s in report["stops"] if _stop_done(s))
        ctx["done"] = done
        ctx["progress"] = round(100 * done / len(report["stops"])) if report["stops"] else 100
    return render(request, "logistics/plan/driver.html", ctx)


def _stop_done(s: dict[str, Any]) -> bool:
    stop = s["stop"]
    return bool(
        stop.arrived_at
        and s["drops_done"] >= s["drops_planned"]
        and (stop.pickup_pieces == 0 or s["pickups_done"] >= 1 or stop.picked_shipments)
    )


def _flash(request: HttpRequest, exc: ApplicationError) -> None:
    """A refused driver action is shown as a message on the page it came from; a
    permission refusal stays a 403."""
    if isinstance(exc, AppPermissionDenied):
        raise exc
    messages.error(request, exc.message)


def _tracking_numbers(request: HttpRequest) -> list[str] | None:
    """The scanned numbers of the form, or None: the whole stop or load."""
    return request.POST.get("tracking_numbers", "").split() or None


def _back(request: HttpRequest, route: PlanRoute) -> HttpResponse:
    nxt = request.POST.get("next", "")
    if nxt == "run" and hasattr(route, "run"):
        return redirect("logistics:run", run_id=route.run.pk)
    return redirect(reverse("logistics:driver") + f"?route={route.pk}")


@roles(DRIVE_ROLES)
@require_POST
def route_start(request: HttpRequest, route_id: int) -> HttpResponse:
    scope = user_scope(request)
    route = runs.route_get(scope=scope, route_id=route_id)
    try:
        runs.run_start(
            scope=scope,
            route=route,
            actor=request.user,
            odometer_km=request.POST.get("odometer_km") or None,
        )
    except ApplicationError as exc:
        _flash(request, exc)
    return redirect(reverse("logistics:driver") + f"?route={route.pk}")


@roles(DRIVE_ROLES)
@require_POST
def run_load(request: HttpRequest, run_id: int) -> HttpResponse:
    scope = user_scope(request)
    run = runs.run_get(scope=scope, run_id=run_id)
    tns = _tracking_numbers(request)
    try:
        result = runs.run_load(scope=scope, run=run, actor=request.user, tracking_numbers=tns)
    except ApplicationError as exc:
        _flash(request, exc)
    else:
        messages.success(request, _("已装车 %(n)d 件。") % {"n": result.applied})
    return _back(request, run.route)


@roles(DRIVE_ROLES)
@require_POST
def run_step(request: HttpRequest, run_id: int, stop_id: int, step: str) -> HttpResponse:
    if step not in STEPS:
        raise Http404("step")
    scope = user_scope(request)
    run = runs.run_get(scope=scope, run_id=run_id)
    stop = runs.stop_get(run=run, stop_id=stop_id)
    try:
        if step == "arrive":
            runs.run_arrive(scope=scope, run=run, stop=stop, actor=request.user)
            messages.success(request, _("已到达 %(s)s。") % {"s": stop.station.name})
        elif step == "drop":
            tns = _tracking_numbers(request)
            result = runs.run_drop(
                scope=scope, run=run, stop=stop, actor=request.user, tracking_numbers=tns
            )
            messages.success(request, _("已卸货 %(n)d 件。") % {"n": result.applied})
        else:
            picked = runs.run_pickup(scope=scope, run=run, stop=stop, actor=request.user)
            messages.success(
                request,
                _("已揽收 %(s)d 票上行件、%(r)d 件退件。")
                % {"s": picked["shipments"], "r": picked["returns"]},
            )
    except ApplicationError as exc:
        _flash(request, exc)
    return _back(request, run.route)


@roles(DRIVE_ROLES)
@require_POST
def run_finish(request: HttpRequest, run_id: int) -> HttpResponse:
    scope = user_scope(request)
    run = runs.run_get(scope=scope, run_id=run_id)
    try:
        runs.run_finish(
            scope=scope,
            run=run,
            actor=request.user,
            odometer_km=request.POST.get("odometer_km") or None,
        )
    except ApplicationError as exc:
        _flash(request, exc)
        return _back(request, run.route)
    messages.success(request, _("本趟运输已结束。"))
    return redirect("logistics:run", run_id=run.pk)


@roles(READ_ROLES)
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = runs.run_get(scope=user_scope(request), run_id=run_id)
    return render(
        request,
        "logistics/plan/run.html",
        {"run": run, "report": runs.run_report(route=run.route)},
    )


urlpatterns: list[URLPattern] = [
    path("plans/", plan_list, name="plans"),
    path("plans/<int:plan_id>/", plan_detail, name="plan"),
    path("plans/<int:plan_id>/sheet/", plan_sheet, name="plan-sheet"),
    path("plans/<int:plan_id>/map/", plan_map, name="plan-map"),
    path("vehicles/", vehicle_list, name="vehicles"),
    path("vehicles/<int:vehicle_id>/", vehicle_edit, name="vehicle"),
    path("driver/", driver_today, name="driver"),
    path("routes/<int:route_id>/start/", route_start, name="route-start"),
    path("runs/<int:run_id>/", run_detail, name="run"),
    path("runs/<int:run_id>/load/", run_load, name="run-load"),
    path("runs/<int:run_id>/stops/<int:stop_id>/<str:step>/", run_step, name="run-step"),
    path("runs/<int:run_id>/finish/", run_finish, name="run-finish"),
]
