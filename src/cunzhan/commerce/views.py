"""Commerce pages. Station operator (phone): producers, record a lot, grade it from
sample measurements, pack and ship it, see lots. County manager (desktop): products and
grade standards, price tiers, the county's lots. Thin: the rules live in
``services.py``, ``grading.py`` and ``selectors.py``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cunzhan.accounts.home import register_panel
from cunzhan.accounts.roles import Perm, Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.commerce import codes, grading, selectors, services
from cunzhan.commerce.forms import LotForm, MemberForm, PriceForm, ProducerForm
from cunzhan.commerce.models import Lot, LotGrading, LotStatus
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.errors import PermissionDenied as CorePermissionDenied
from cunzhan.core.money import format_fen
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import is_ascii_digits
from cunzhan.core.views import require_perm
from cunzhan.network.models import Level, Region, Station, StationKind, StationStatus
from cunzhan.registry.selectors import household_get

MAX_SAMPLE_ROWS = 30
DEFAULT_SAMPLE_ROWS = 5


def _call(fn: Callable[[], Any]) -> Any:
    """Run a selector or service for a page: scope misses are 404, refusals 403."""
    try:
        return fn()
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except CorePermissionDenied as exc:
        raise PermissionDenied(exc.message) from exc


def _can(request: HttpRequest, perm: str) -> bool:
    return bool(request.user.can(perm))  # type: ignore[union-attr]


def _stations(scope: RegionScope) -> list[Station]:
    qs = Station.objects.filter(
        scope.q("region_id"),
        kind=StationKind.VILLAGE_STATION,
        status=StationStatus.ACTIVE,
    )
    if not scope.everything and scope.station_ids is not None:
        qs = qs.filter(pk__in=list(scope.station_ids))
    return list(qs.order_by("code")[:500])


def _lot(request: HttpRequest, lot_id: uuid.UUID) -> Lot:
    scope = scope_for_user(request.user)
    return _call(lambda: selectors.lot_get(scope=scope, lot_id=lot_id))


# --- producers -------------------------------------------------------------------------------


@login_required
@require_perm(Perm.VIEW_COMMERCE)
def producer_list_page(request: HttpRequest) -> HttpResponse:
    scope = scope_for_user(request.user)
    station_id = request.GET.get("station", "")
    sid = int(station_id) if is_ascii_digits(station_id) and len(station_id) < 10 else None
    qs = selectors.producer_list(scope=scope, station_id=sid)
    return render(
        request,
        "commerce/producers.html",
        {
            "producers": list(qs[:300]),
            "total": qs.count(),
            "stations": _stations(scope),
            "station_id": sid,
            "can_edit": _can(request, Perm.EDIT_PRODUCERS),
        },
    )


@login_required
@require_perm(Perm.EDIT_PRODUCERS)
def producer_create_page(request: HttpRequest) -> HttpResponse:
    """Register a producer at one of the caller's stations (phone page)."""
    scope = scope_for_user(request.user)
    stations = _stations(scope)
    choices = [(s.pk, f"{s.name} {s.code}") for s in stations]
    status = 200
    if request.method == "POST":
        form = ProducerForm(request.POST, stations=choices)
        if form.is_valid():
            d = form.cleaned_data
            station = next(s for s in stations if s.pk == d["station"])
            try:
                household = (
                    _call(lambda: household_get(scope=scope, household_id=d["household"]))
                    if d["household"]
                    else None
                )
                p = services.producer_register(
                    scope=scope,
                    station=station,
                    kind=d["kind"],
                    name=d["name"],
                    phone=d["phone"],
                    household=household,
                    credit_code=d["credit_code"],
                    members=form.member_rows() if d["kind"] == "cooperative" else [],
                    actor=request.user,
                )
            except Http404:
                form.add_error("household", _("找不到该农户"))
            except ApplicationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("已登记生产者：%(n)s") % {"n": p.name})
                return redirect("commerce:producer", producer_id=p.uuid)
        status = 400
    else:
        form = ProducerForm(
            stations=choices, initial={"station": choices[0][0] if choices else None}
        )
    return render(
        request, "commerce/producer_form.html", {"form": form, "stations": stations}, status=status
    )


@login_required
@require_perm(Perm.VIEW_COMMERCE)
def producer_page(request: HttpRequest, producer_id: uuid.UUID) -> HttpResponse:
    """A producer, its members (a cooperative) and its lots; add a member (POST)."""
    scope = scope_for_user(request.user)
    p = _call(lambda: selectors.producer_get(scope=scope, producer_id=producer_id))
    form = MemberForm()
    status = 200
    if request.method == "POST":
        if not _can(request, Perm.EDIT_PRODUCERS):
            raise PermissionDenied("edit_producers")
        form = MemberForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                services.producer_member_add(
                    scope=scope,
                    cooperative=p,
                    name=d["name"],
                    phone=d["phone"],
                    household=str(d["household"] or ""),
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("已添加成员"))
                return redirect("commerce:producer", producer_id=p.uuid)
        status = 400
    return render(
        request,
        "commerce/producer.html",
        {
            "p": p,
            "members": selectors.producer_members(producer=p),
            "lots": selectors.lot_list(scope=scope, producer_id=p.uuid)[:50],
            "form": form,
            "can_edit": _can(request, Perm.EDIT_PRODUCERS),
            "can_view_register": _can(request, Perm.VIEW_REGISTRY),
        },
        status=status,
    )


# --- lots ----------------------------------------------------------------------------------


@login_required
@require_perm(Perm.VIEW_COMMERCE)
def lot_list_page(request: HttpRequest) -> HttpResponse:
    """Lots in scope (an operator's station, a county manager's county), newest first."""
    scope = scope_for_user(request.user)
    station = request.GET.get("station", "")
    sid = int(station) if is_ascii_digits(station) and len(station) < 10 else None
    status = request.GET.get("status", "")[:12]
    product = request.GET.get("product", "")[:40]
    if status not in LotStatus.values:
        status = ""
    qs = selectors.lot_list(scope=scope, station_id=sid, status=status, product=product)
    return render(
        request,
        "commerce/lots.html",
        {
            "lots": list(qs.select_related("shipment")[:300]),
            "total": qs.count(),
            "stations": _stations(scope),
            "station_id": sid,
            "status": status,
            "statuses": LotStatus.choices,
            "product": product,
            "products": selectors.product_list(),
            "can_edit": _can(request, Perm.EDIT_PRODUCERS),
        },
    )


@login_required
@require_perm(Perm.EDIT_PRODUCERS)
def lot_create_page(request: HttpRequest) -> HttpResponse:
    """Record a harvested lot for a producer of the caller's stations (phone page)."""
    scope = scope_for_user(request.user)
    producers = list(
        selectors.producer_list(scope=scope).filter(active=True, station__status="active")[:500]
    )
    producer_choices = [(str(p.uuid), f"{p.name} · {p.station.name}") for p in producers]
    products = list(selectors.product_list())
    product_choices = [(p.code, p.name) for p in products]
    status = 200
    kw: dict[str, Any] = {"producers": producer_choices, "products": product_choices}
    if request.method == "POST":
        form = LotForm(request.POST, **kw)
        if form.is_valid():
            d = form.cleaned_data
            producer = next(p for p in producers if str(p.uuid) == d["producer"])
            product = next(p for p in products if p.code == d["product"])
            try:
                lot = services.lot_record(
                    scope=scope,
                    producer=producer,
                    product=product,
                    harvest_date=d["harvest_date"],
                    quantity=d["quantity"],
                    unit=d["unit"],
                    note=d["note"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(
                    request,
                    _("已登记批次 %(c)s，请分级") % {"c": codes.display(lot.code)},
                )
                return redirect("commerce:lot-grade", lot_id=lot.uuid)
        status = 400
    else:
        initial: dict[str, Any] = {"harvest_date": timezone.localdate()}
        if request.GET.get("producer"):
            initial["producer"] = request.GET["producer"][:40]
        form = LotForm(initial=initial, **kw)
    return render(
        request,
        "commerce/lot_form.html",
        {"form": form, "no_producers": not producers},
        status=status,
    )


@login_required
@require_perm(Perm.VIEW_COMMERCE)
def lot_page(request: HttpRequest, lot_id: uuid.UUID) -> HttpResponse:
    lot = _lot(request, lot_id)
    gradings = list(selectors.lot_gradings(lot=lot)[:5])
    return render(
        request,
        "commerce/lot.html",
        {
            "lot": lot,
            "code": codes.display(lot.code),
            "story": selectors.lot_story(lot=lot),
            "gradings": gradings,
            "latest": gradings[0] if gradings else None,
            "can_edit": _can(request, Perm.EDIT_PRODUCERS),
            "trace_url": request.build_absolute_uri(
                reverse("trace:lot", kwargs={"trace_code": lot.code})
            ),
        },
    )


def _sample_rows(request: HttpRequest) -> int:
    raw = (request.POST.get("rows") or request.GET.get("rows") or "").strip()
    n = int(raw) if is_ascii_digits(raw) and len(raw) < 4 else DEFAULT_SAMPLE_ROWS
    return max(1, min(MAX_SAMPLE_ROWS, n))


@login_required
@require_perm(Perm.EDIT_PRODUCERS)
def lot_grade_page(request: HttpRequest, lot_id: uuid.UUID) -> HttpResponse:
    """Enter the measurements of several samples; the page shows the grade found, or
    the rejection with, per grade, each failing criterion (measured vs required)."""
    scope = scope_for_user(request.user)
    lot = _lot(request, lot_id)
    standard = selectors.standard_active(product=lot.product)
    quantities: list[grading.Quantity] = []
    if standard is not None:
        keys: list[str] = []
        for g in standard.grades.all():
            for c in sorted(g.criteria.all(), key=lambda c: c.pk):  # the standard's order
                if c.quantity not in keys:
                    keys.append(c.quantity)
        quantities = [grading.QUANTITIES[k] for k in keys]
    n = _sample_rows(request)
    error = ""
    outcome: LotGrading | None = None
    values: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        samples: list[dict[str, Any]] = []
        for i in range(1, n + 1):
            row = {}
            for q in quantities:
                v = request.POST.get(f"s{i}_{q.key}", "").strip()[:20]
                values[f"s{i}_{q.key}"] = v
                if v:
                    row[q.key] = v
            if row:
                samples.append(row)
        try:
            graded = services.lot_grade(scope=scope, lot=lot, samples=samples, actor=request.user)
        except ApplicationError as exc:
            error = exc.message
            status = 409 if exc.status == 409 else 400
        else:
            outcome = graded
            lot = _lot(request, lot_id)
    rows = [
        [(q, f"s{i}_{q.key}", values.get(f"s{i}_{q.key}", "")) for q in quantities]
        for i in range(1, n + 1)
    ]
    return render(
        request,
        "commerce/lot_grade.html",
        {
            "lot": lot,
            "code": codes.display(lot.code),
            "standard": standard,
            "quantities": quantities,
            "rows": rows,
            "n": n,
            "error": error,
            "outcome": outcome,
            "gradable": lot.status in services.GRADABLE,
        },
        status=status,
    )


def _lot_action(request: HttpRequest, lot_id: uuid.UUID, act: Callable[..., Any], done: str):
    scope = scope_for_user(request.user)
    lot = _lot(request, lot_id)
    try:
        _call(lambda: act(scope=scope, lot=lot))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("commerce:lot", lot_id=lot.uuid)


@login_required
@require_POST
@require_perm(Perm.EDIT_PRODUCERS)
def lot_pack_page(request: HttpRequest, lot_id: uuid.UUID) -> HttpResponse:
    return _lot_action(
        request,
        lot_id,
        lambda **kw: services.lot_pack(actor=request.user, **kw),
        _("已记录包装"),
    )


@login_required
@require_POST
@require_perm(Perm.EDIT_PRODUCERS)
def lot_ship_page(request: HttpRequest, lot_id: uuid.UUID) -> HttpResponse:
    destination = request.POST.get("destination", "")[:200]
    try:
        pieces = int(request.POST.get("pieces", "")[:7])
        weight_g = int(Decimal(request.POST.get("weight_kg", "")[:12]) * 1000)
    except (ValueError, ArithmeticError):
        lot = _lot(request, lot_id)
        messages.error(request, _("请填写件数和重量（公斤）"))
        return redirect("commerce:lot", lot_id=lot.uuid)
    return _lot_action(
        request,
        lot_id,
        lambda **kw: services.lot_ship(
            destination=destination, pieces=pieces, weight_g=weight_g, actor=request.user, **kw
        ),
        _("已预约上行，等下一班车揽收"),
    )


# --- products, standards, prices ---------------------------------------------------------------


@login_required
@require_perm(Perm.VIEW_COMMERCE)
def product_list_page(request: HttpRequest) -> HttpResponse:
    """Products and their grade standards (grades from the highest, criteria)."""
    products = []
    for p in selectors.product_list():
        s = selectors.standard_active(product=p)
        grades = []
        if s is not None:
            for g in s.grades.all():
                grades.append(
                    {
                        "g": g,
                        "criteria": [
                            {"c": c, "q": grading.QUANTITIES[c.quantity]} for c in g.criteria.all()
                        ],
                    }
                )
        products.append({"p": p, "standard": s, "grades": grades})
    return render(
        request,
        "commerce/products.html",
        {"products": products, "aggregations": dict(_aggregation_labels())},
    )


def _aggregation_labels() -> list[tuple[str, str]]:
    from cunzhan.commerce.models import Aggregation

    return [(k, str(v)) for k, v in Aggregation.choices]


def _counties(scope: RegionScope) -> list[Region]:
    if scope.station_ids is not None and not scope.everything:
        return []
    return list(Region.objects.filter(scope.q("code"), level=Level.COUNTY).order_by("code")[:300])


@login_required
@require_perm(Perm.VIEW_COMMERCE)
def price_list_page(request: HttpRequest) -> HttpResponse:
    """Price tiers in force and scheduled, per county; the county manager sets them."""
    scope = scope_for_user(request.user)
    county = request.GET.get("county", "")[:12]
    if not is_ascii_digits(county):
        county = ""
    can_edit = _can(request, Perm.MANAGE_PRICES)
    counties = _counties(scope) if can_edit else []
    grade_choices = [
        (g.pk, f"{p.name} · {g.name}")
        for p in selectors.product_list()
        if (s := selectors.standard_active(product=p)) is not None
        for g in s.grades.all()
    ]
    kw: dict[str, Any] = {"counties": [(c.code, c.name) for c in counties], "grades": grade_choices}
    status = 200
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("manage_prices")
        form = PriceForm(request.POST, **kw)
        if form.is_valid():
            d = form.cleaned_data
            try:
                t = services.price_tier_set(
                    scope=scope,
                    grade=_call(lambda: selectors.grade_get(grade_id=d["grade"])),
                    county_code=d["county"],
                    price_fen=int(d["price_yuan"] * 100),
                    unit=d["unit"],
                    valid_from=d["valid_from"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(
                    request,
                    _("已发布价格：%(g)s %(p)s/%(u)s")
                    % {"g": t.grade.name, "p": format_fen(t.price_fen), "u": t.get_unit_display()},
                )
                return redirect(reverse("commerce:prices") + f"?county={t.county_id}")
        status = 400
    else:
        form = PriceForm(initial={"county": counties[0].code if counties else ""}, **kw)
    now = timezone.now()
    current = {t.pk for t in selectors.price_list_published(scope=scope, county=county, at=now)}
    tiers = [
        {
            "t": t,
            "price": format_fen(t.price_fen),
            "in_force": t.pk in current,
            "scheduled": t.valid_from > now,
        }
        for t in selectors.price_tier_list(scope=scope, county=county)[:500]
    ]
    return render(
        request,
        "commerce/prices.html",
        {"tiers": tiers, "form": form, "can_edit": can_edit, "county": county},
        status=status,
    )


# --- home panel -----------------------------------------------------------------------------


@register_panel(order=30)
def commerce_panel(*, user: Any, scope: RegionScope) -> dict[str, Any] | None:
    """Produce at the station or in the county: lots to grade, lots ready to sell."""
    if user.role not in (Role.STATION_OPERATOR, Role.COUNTY_MANAGER):
        return None
    lots = selectors.lots_in_scope(scope=scope)
    return {
        "title": _("农产品"),
        "stats": [
            {
                "label": _("待分级批次"),
                "value": lots.filter(status=LotStatus.HARVESTED).count(),
                "url": reverse("commerce:lots") + "?status=harvested",
            },
            {
                "label": _("可售批次"),
                "value": lots.filter(status__in=[LotStatus.GRADED, LotStatus.PACKED]).count(),
                "url": reverse("commerce:lots") + "?status=graded",
            },
        ],
        "links": [
            {"label": _("登记批次"), "url": reverse("commerce:lot-create")},
            {"label": _("生产者"), "url": reverse("commerce:producers")},
        ],
    }


urlpatterns = [
    path("producers/", producer_list_page, name="producers"),
    path("producers/new/", producer_create_page, name="producer-create"),
    path("producers/<uuid:producer_id>/", producer_page, name="producer"),
    path("lots/", lot_list_page, name="lots"),
    path("lots/new/", lot_create_page, name="lot-create"),
    path("lots/<uuid:lot_id>/", lot_page, name="lot"),
    path("lots/<uuid:lot_id>/grade/", lot_grade_page, name="lot-grade"),
    path("lots/<uuid:lot_id>/pack/", lot_pack_page, name="lot-pack"),
    path("lots/<uuid:lot_id>/ship/", lot_ship_page, name="lot-ship"),
    path("products/", product_list_page, name="products"),
    path("prices/", price_list_page, name="prices"),
]
