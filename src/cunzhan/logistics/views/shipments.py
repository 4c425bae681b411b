"""Logistics pages: upward shipments (the county's list with scan-in and hand-over, the
station's phone page to book one), CSV manifest upload, station fees, the county's
logistics settings and its "run aging now" button. Thin: the rules live in
``logistics/shipments.py``, ``aging.py``, ``fees.py``, ``county_settings.py`` and
``manifest_csv.py`` (docs/adr/0012-returns-fees-shipments.md)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cunzhan.accounts.roles import Perm, Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.errors import PermissionDenied as CorePermissionDenied
from cunzhan.core.money import format_fen
from cunzhan.core.views import require_perm
from cunzhan.logistics import aging, county_settings, fees, manifest_csv, selectors, shipments
from cunzhan.logistics.models import Carrier, ShipmentState
from cunzhan.logistics.services import KNOWN_CARRIERS
from cunzhan.network.models import Station, StationKind

ADMIN = str(Role.NETWORK_ADMIN)
MANAGER = str(Role.COUNTY_MANAGER)
OPERATOR = str(Role.STATION_OPERATOR)
VIEW_ROLES: set[str] = {ADMIN, MANAGER, OPERATOR, str(Role.DRIVER), str(Role.AUDITOR)}
BOOK_ROLES: set[str] = {ADMIN, MANAGER, OPERATOR}
COUNTY_ROLES: set[str] = {ADMIN, MANAGER}
FEE_ROLES: set[str] = {ADMIN, MANAGER, OPERATOR, str(Role.AUDITOR)}


def _has(request: HttpRequest, roles: set[str]) -> bool:
    return str(getattr(request.user, "role", "")) in roles


def _role(request: HttpRequest, roles: set[str]) -> None:
    if not _has(request, roles):
        raise PermissionDenied("not open to your role")


def _call(fn: Callable[[], Any]) -> Any:
    """Run a service for a page: scope misses are 404, missing permissions 403."""
    try:
        return fn()
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except CorePermissionDenied as exc:
        raise PermissionDenied(exc.message) from exc


def url_or_none(name: str, **kwargs: Any) -> str | None:
    """A link to another helper's page only if it exists."""
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def _carrier_choices() -> list[tuple[str, str]]:
    known = dict(KNOWN_CARRIERS)
    known.update(dict(Carrier.objects.values_list("code", "name")))
    return sorted(known.items())


# --- upward shipments: the county ----------------------------------------------------------


class ShipmentFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=gettext_lazy("状态"),
        required=False,
        choices=[("", gettext_lazy("全部状态")), *ShipmentState.choices],
    )
    station = forms.IntegerField(label=gettext_lazy("服务站"), required=False)


@login_required
@require_perm(Perm.VIEW_NETWORK)
def shipment_list_page(request: HttpRequest) -> HttpResponse:
    """Upward shipments in scope; the county centre scans them in and hands them over."""
    _role(request, VIEW_ROLES)
    scope = scope_for_user(request.user)
    form = ShipmentFilterForm(request.GET or None)
    state, station_id = "", None
    if form.is_valid():
        state = form.cleaned_data["state"] or ""
        station_id = form.cleaned_data["station"]
    qs = shipments.shipment_list(scope=scope, state=state, station_id=station_id)
    stations = Station.objects.filter(
        scope.q("region_id"), kind=StationKind.VILLAGE_STATION, shipments__isnull=False
    ).distinct()
    if not scope.everything and scope.station_ids is not None:
        stations = stations.filter(pk__in=list(scope.station_ids))
    return render(
        request,
        "logistics/shipments/list.html",
        {
            "form": form,
            "shipments": list(qs[:300]),
            "total": qs.count(),
            "stations": stations.order_by("code")[:500],
            "state": state,
            "station_id": station_id,
            "can_county": _has(request, COUNTY_ROLES),
            "can_cancel": _has(request, BOOK_ROLES),
            "carriers": _carrier_choices(),
            "own_stations": Station.objects.filter(pk__in=list(scope.station_ids or ())).order_by(
                "code"
            )
            if not scope.everything and _has(request, BOOK_ROLES)
            else [],
        },
    )


def _shipment(request: HttpRequest, shipment_id: uuid.UUID) -> Any:
    return _call(
        lambda: shipments.shipment_get(scope=scope_for_user(request.user), shipment_id=shipment_id)
    )


def _back(request: HttpRequest, default: str) -> HttpResponse:
    nxt = request.POST.get("next", "")
    if nxt.startswith("/logistics/") and "//" not in nxt:
        return redirect(nxt)
    return redirect(default)


def _shipment_action(
    request: HttpRequest,
    shipment_id: uuid.UUID,
    roles: set[str],
    act: Callable[..., Any],
    done: str,
) -> HttpResponse:
    _role(request, roles)
    scope = scope_for_user(request.user)
    s = _shipment(request, shipment_id)
    try:
        _call(lambda: act(scope=scope, shipment=s))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return _back(request, reverse("logistics:shipments"))


@login_required
@require_POST
@require_perm(Perm.VIEW_NETWORK)
def shipment_scan_in_page(request: HttpRequest, shipment_id: uuid.UUID) -> HttpResponse:
    return _shipment_action(
        request,
        shipment_id,
        COUNTY_ROLES,
        lambda **kw: shipments.shipment_scan_in(actor=request.user, **kw),
        _("已扫描入县中心"),
    )


@login_required
@require_POST
@require_perm(Perm.VIEW_NETWORK)
def shipment_cancel_page(request: HttpRequest, shipment_id: uuid.UUID) -> HttpResponse:
    return _shipment_action(
        request,
        shipment_id,
        BOOK_ROLES,
        lambda **kw: shipments.shipment_cancel(actor=request.user, **kw),
        _("预约已取消"),
    )


@login_required
@require_POST
@require_perm(Perm.VIEW_NETWORK)
def shipment_hand_over_page(request: HttpRequest, shipment_id: uuid.UUID) -> HttpResponse:
    carrier = request.POST.get("carrier", "")[:20]
    tracking = request.POST.get("tracking_number", "")[:60]
    return _shipment_action(
        request,
        shipment_id,
        COUNTY_ROLES,
        lambda **kw: shipments.shipment_hand_over(
            carrier=carrier, tracking_number=tracking, actor=request.user, **kw
        ),
        _("已交承运商"),
    )


# --- upward shipments: the station's phone page ----------------------------------------------


class BookForm(forms.Form):
    producer_name = forms.CharField(label=gettext_lazy("生产者姓名"), max_length=80)
    producer_phone = forms.CharField(
        label=gettext_lazy("生产者电话"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"}),
    )
    contents = forms.CharField(
        label=gettext_lazy("货物"),
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("如：猕猴桃 5公斤/箱")}),
    )
    pieces = forms.IntegerField(
        label=gettext_lazy("件数"),
        min_value=1,
        max_value=shipments.MAX_PIECES,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    weight_kg = forms.DecimalField(
        label=gettext_lazy("总重量（公斤）"),
        min_value=0.001,
        max_digits=8,
        decimal_places=3,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "0.001"}),
    )
    destination = forms.CharField(label=gettext_lazy("寄往"), max_length=200)
    outbound_carrier = forms.ChoiceField(label=gettext_lazy("外发承运商"), required=False)

    FIELD_FOR = {"weight_g": "weight_kg", "carrier": "outbound_carrier"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice = self.fields["outbound_carrier"]
        assert isinstance(choice, forms.ChoiceField)
        choice.choices = [("", _("由县中心决定")), *_carrier_choices()]

    def add_service_error(self, exc: ApplicationError) -> None:
        details = exc.details if isinstance(exc.details, dict) else {}
        field = str(details.get("field") or "")
        field = self.FIELD_FOR.get(field, field)
        self.add_error(field if field in self.fields else None, exc.message)


@login_required
@require_perm(Perm.VIEW_NETWORK)
def shipment_book_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Book an upward shipment at the station (phone page)."""
    _role(request, BOOK_ROLES)
    scope = scope_for_user(request.user)
    station = Station.objects.filter(pk=pk).first()
    if station is None or not shipments._station_visible(scope, station):
        raise Http404("no such station")
    status = 200
    if request.method == "POST":
        form = BookForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                s = _call(
                    lambda: shipments.shipment_book(
                        scope=scope,
                        station=station,
                        producer_name=d["producer_name"],
                        producer_phone=d["producer_phone"],
                        contents=d["contents"],
                        pieces=d["pieces"],
                        weight_g=int(d["weight_kg"] * 1000),
                        destination=d["destination"],
                        outbound_carrier=d["outbound_carrier"],
                        actor=request.user,
                    )
                )
            except ApplicationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(
                    request,
                    _("已预约：%(contents)s %(pieces)s 件，等下一班车揽收")
                    % {"contents": s.contents, "pieces": s.pieces},
                )
                return redirect("logistics:shipment-book", pk=station.pk)
        status = 400
    else:
        form = BookForm()
    recent = shipments.shipment_list(scope=scope, station_id=station.pk)[:20]
    return render(
        request,
        "logistics/shipments/book.html",
        {
            "station": station,
            "form": form,
            "recent": recent,
            "active": station.status == "active",
            "station_home": url_or_none("logistics:station", pk=station.pk),
        },
        status=status,
    )


# --- CSV manifest upload ---------------------------------------------------------------------


class ManifestUploadForm(forms.Form):
    carrier = forms.ChoiceField(label=gettext_lazy("承运商"))
    file = forms.FileField(label=gettext_lazy("CSV 文件"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choice = self.fields["carrier"]
        assert isinstance(choice, forms.ChoiceField)
        choice.choices = _carrier_choices()


@login_required
@require_perm(Perm.VIEW_NETWORK)
def manifest_upload_page(request: HttpRequest) -> HttpResponse:
    """A county manager uploads a carrier's manifest as CSV and sees the result."""
    _role(request, COUNTY_ROLES)
    result = None
    errors: list[dict[str, Any]] = []
    status = 200
    if request.method == "POST":
        form = ManifestUploadForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data["file"].read(manifest_csv.MAX_BYTES + 1)
            try:
                result = manifest_csv.manifest_csv_intake(
                    scope=scope_for_user(request.user),
                    carrier_code=form.cleaned_data["carrier"],
                    data=data,
                    actor=request.user,
                )
            except ApplicationError as exc:
                details = exc.details if isinstance(exc.details, dict) else {}
                errors = list(details.get("errors") or [])
                form.add_error(None, exc.message)
                status = 400
        else:
            status = 400
    else:
        form = ManifestUploadForm()
    return render(
        request,
        "logistics/shipments/manifest_upload.html",
        {"form": form, "result": result, "errors": errors, "headers": _csv_headers()},
        status=status,
    )


def _csv_headers() -> list[tuple[str, str]]:
    by_key: dict[str, list[str]] = {}
    for name, key in manifest_csv.HEADERS.items():
        by_key.setdefault(key, []).append(name)
    return [(k, " / ".join(v)) for k, v in by_key.items()]


# --- station fees ------------------------------------------------------------------------------


class FeeFilterForm(forms.Form):
    station = forms.IntegerField(label=gettext_lazy("服务站"), required=False)
    month = forms.RegexField(
        label=gettext_lazy("月份"), regex=r"^[0-9]{4}-[0-9]{2}$", required=False, max_length=7
    )


@login_required
@require_perm(Perm.VIEW_NETWORK)
def fees_page(request: HttpRequest) -> HttpResponse:
    """Amounts owed to stations per station and month; an operator sees their own."""
    _role(request, FEE_ROLES)
    scope = scope_for_user(request.user)
    form = FeeFilterForm(request.GET or None)
    station_id, month = None, ""
    if form.is_valid():
        station_id = form.cleaned_data["station"]
        month = form.cleaned_data["month"] or ""
    rows: list[dict[str, Any]] = []
    if not form.is_bound or form.is_valid():  # a bad filter shows its error, not everything
        try:
            rows = fees.fee_summary(scope=scope, station_id=station_id, month=month)
        except ApplicationError as exc:
            form.add_error("month", exc.message)
    for r in rows:
        r["down_yuan"] = format_fen(r["down_fen"])
        r["up_yuan"] = format_fen(r["up_fen"])
        r["owed_yuan"] = format_fen(r["owed_fen"])
        r["total_yuan"] = format_fen(r["total_fen"])
    station_ids = fees.fees_in_scope(scope=scope).values("station_id").distinct()
    stations = Station.objects.filter(pk__in=station_ids).order_by("code")[:500]
    counties = aging.counties_in_scope(scope=scope) if _has(request, COUNTY_ROLES) else []
    return render(
        request,
        "logistics/shipments/fees.html",
        {
            "form": form,
            "rows": rows,
            "total_owed": format_fen(sum(r["owed_fen"] for r in rows)),
            "stations": stations,
            "station_id": station_id,
            "counties": counties[:50],
        },
    )


# --- county settings and aging -----------------------------------------------------------------


class SettingsForm(forms.Form):
    cutoff = forms.TimeField(
        label=gettext_lazy("截单时间"),
        help_text=gettext_lazy("每天按此时刻在中心和已预约的货物编排当天路线"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    reminder_days = forms.IntegerField(
        label=gettext_lazy("提醒天数"), help_text=gettext_lazy("包裹在站等候满这些天发一次提醒短信")
    )
    return_days = forms.IntegerField(
        label=gettext_lazy("退回天数"),
        help_text=gettext_lazy("等候满这些天退回承运商（须大于提醒天数）"),
    )
    fee_down_yuan = forms.DecimalField(
        label=gettext_lazy("下行服务费（元/件）"), max_digits=7, decimal_places=2, min_value=0
    )
    fee_up_yuan = forms.DecimalField(
        label=gettext_lazy("上行服务费（元/票）"), max_digits=7, decimal_places=2, min_value=0
    )
    circuity_pct = forms.IntegerField(
        label=gettext_lazy("道路曲折系数（%）"),
        help_text=gettext_lazy("道路里程 ≈ 直线距离 × 此值 / 100"),
    )
    speed_kmh = forms.IntegerField(label=gettext_lazy("平均车速（公里/小时）"))

    FIELD_FOR = {"fee_down_fen": "fee_down_yuan", "fee_up_fen": "fee_up_yuan"}

    def add_service_error(self, exc: ApplicationError) -> None:
        details = exc.details if isinstance(exc.details, dict) else {}
        for e in details.get("errors") or [details]:
            field = self.FIELD_FOR.get(str(e.get("field") or ""), str(e.get("field") or ""))
            msg = e.get("message") or exc.message
            self.add_error(field if field in self.fields else None, msg)


@login_required
@require_perm(Perm.VIEW_NETWORK)
def county_settings_page(request: HttpRequest, county_code: str) -> HttpResponse:
    """The county's logistics settings: its manager or an admin edits them."""
    _role(request, VIEW_ROLES)
    scope = scope_for_user(request.user)
    county = _call(lambda: county_settings.county_get(scope=scope, county_code=county_code))
    can_edit = _has(request, COUNTY_ROLES)
    current = selectors.county_settings(county_code=county.code)
    status = 200
    if request.method == "POST":
        _role(request, COUNTY_ROLES)
        form = SettingsForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                county_settings.county_settings_update(
                    scope=scope,
                    county_code=county.code,
                    actor=request.user,
                    cutoff=d["cutoff"],
                    reminder_days=d["reminder_days"],
                    return_days=d["return_days"],
                    fee_down_fen=int(d["fee_down_yuan"] * 100),
                    fee_up_fen=int(d["fee_up_yuan"] * 100),
                    circuity_pct=d["circuity_pct"],
                    speed_kmh=d["speed_kmh"],
                )
            except ApplicationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, _("物流设置已保存"))
                return redirect("logistics:county-settings", county_code=county.code)
        status = 400
    else:
        form = SettingsForm(
            initial={
                "cutoff": current.cutoff,
                "reminder_days": current.reminder_days,
                "return_days": current.return_days,
                "fee_down_yuan": f"{current.fee_down_fen / 100:.2f}",
                "fee_up_yuan": f"{current.fee_up_fen / 100:.2f}",
                "circuity_pct": current.circuity_pct,
                "speed_kmh": current.speed_kmh,
            }
        )
    if not can_edit:
        for f in form.fields.values():
            f.disabled = True
    overdue = aging.overdue_parcels(scope=scope.narrowed_to(county.code))
    return render(
        request,
        "logistics/shipments/county_settings.html",
        {
            "county": county,
            "form": form,
            "can_edit": can_edit,
            "saved": not current._state.adding,
            "current": current,
            "overdue_count": len(overdue),
            "return_due_count": sum(1 for o in overdue if o.return_due),
        },
        status=status,
    )


@login_required
@require_POST
@require_perm(Perm.VIEW_NETWORK)
def aging_run_page(request: HttpRequest, county_code: str) -> HttpResponse:
    """The county manager's "run aging now" button."""
    _role(request, COUNTY_ROLES)
    scope = scope_for_user(request.user)
    county = _call(lambda: county_settings.county_get(scope=scope, county_code=county_code))
    result = aging.aging_run(scope=scope, county_code=county.code, actor=request.user)
    messages.success(
        request,
        _("已处理：提醒短信 %(reminders)s 条，转退回 %(returns)s 件，新增服务费 %(fees)s 笔")
        % {
            "reminders": result.reminders_sent,
            "returns": result.returns_due,
            "fees": result.fees.down + result.fees.up,
        },
    )
    return redirect("logistics:county-settings", county_code=county.code)


urlpatterns = [
    path("shipments/", shipment_list_page, name="shipments"),
    path("shipments/<uuid:shipment_id>/scan-in/", shipment_scan_in_page, name="shipment-scan-in"),
    path(
        "shipments/<uuid:shipment_id>/hand-over/",
        shipment_hand_over_page,
        name="shipment-hand-over",
    ),
    path("shipments/<uuid:shipment_id>/cancel/", shipment_cancel_page, name="shipment-cancel"),
    path("stations/<int:pk>/ship/", shipment_book_page, name="shipment-book"),
    path("manifests/upload/", manifest_upload_page, name="manifest-upload"),
    path("fees/", fees_page, name="fees"),
    path("settings/<str:county_code>/", county_settings_page, name="county-settings"),
    path("aging/<str:county_code>/run/", aging_run_page, name="aging-run"),
]
