"""Assisted purchase (代购) pages on the station operator's phone — list, record, a
purchase with its actions (ordered, link the parcel, cancel), the sweep button — and a
station's earnings by source (operator and county manager). Thin: the rules live in
``assisted.py`` and ``assisted_selectors.py`` (ADR 0016)."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cunzhan.accounts.home import register_panel
from cunzhan.accounts.roles import Perm, Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.commerce import assisted, assisted_selectors
from cunzhan.commerce.assisted_models import AssistedPurchase, AssistedStatus, Shop
from cunzhan.commerce.forms import ServiceErrorsMixin
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.money import format_fen
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import is_ascii_digits
from cunzhan.core.views import require_perm
from cunzhan.ledger import selectors as ledger_selectors
from cunzhan.network.models import Station, StationKind, StationStatus


class AssistedForm(ServiceErrorsMixin, forms.Form):
    FIELD_FOR = {"price": "price_yuan"}

    station = forms.TypedChoiceField(label=gettext_lazy("服务站"), coerce=int)
    villager_name = forms.CharField(label=gettext_lazy("村民姓名"), max_length=80)
    villager_phone = forms.CharField(
        label=gettext_lazy("村民手机号"),
        max_length=20,
        widget=forms.TextInput({"inputmode": "tel", "autocomplete": "off"}),
    )
    item = forms.CharField(label=gettext_lazy("商品"), max_length=200)
    price_yuan = forms.CharField(
        label=gettext_lazy("价格（元）"),
        max_length=20,
        widget=forms.TextInput({"inputmode": "decimal", "autocomplete": "off"}),
    )
    shop = forms.ChoiceField(label=gettext_lazy("店铺平台"), choices=Shop.choices)
    shop_order_no = forms.CharField(
        label=gettext_lazy("店铺订单号（下单后填写）"), max_length=64, required=False
    )
    tracking_number = forms.CharField(
        label=gettext_lazy("快递单号（店铺发货后填写）"), max_length=40, required=False
    )

    def __init__(self, *args: Any, stations: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["station"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = stations


def _stations(scope: RegionScope) -> list[Station]:
    qs = Station.objects.filter(
        scope.q("region_id"), kind=StationKind.VILLAGE_STATION, status=StationStatus.ACTIVE
    )
    if not scope.everything and scope.station_ids is not None:
        qs = qs.filter(pk__in=list(scope.station_ids))
    return list(qs.order_by("code")[:500])


def _purchase(request: HttpRequest, purchase_id: uuid.UUID) -> AssistedPurchase:
    scope = scope_for_user(request.user)
    try:
        return assisted_selectors.assisted_get(scope=scope, purchase_id=purchase_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _int(text: str) -> int | None:
    return int(text) if is_ascii_digits(text) and len(text) < 10 else None


@login_required
@require_perm(Perm.VIEW_COMMERCE)
def assisted_list_page(request: HttpRequest) -> HttpResponse:
    """The station's assisted purchases, newest first; POST runs the sweep (links the
    parcels that arrived, accrues the commission of those picked up)."""
    scope = scope_for_user(request.user)
    can_edit = bool(request.user.can(Perm.EDIT_ASSISTED))  # type: ignore[union-attr]
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied()
        r = assisted.assisted_sweep(scope=scope)
        messages.success(
            request,
            _("已同步：关联包裹 %(l)s 个，取件完成 %(p)s 笔，佣金 %(c)s")
            % {
                "l": r.linked_tracking + r.linked_phone,
                "p": r.picked_up,
                "c": format_fen(r.commission_fen),
            },
        )
        return redirect("commerce:assisted")
    sid = _int(request.GET.get("station", ""))
    status = request.GET.get("status", "")[:12]
    if status not in AssistedStatus.values:
        status = ""
    qs = assisted_selectors.assisted_list(scope=scope, station_id=sid, status=status)
    return render(
        request,
        "commerce/assisted/list.html",
        {
            "purchases": list(qs[:200]),
            "total": qs.count(),
            "stations": _stations(scope),
            "station_id": sid,
            "status": status,
            "statuses": AssistedStatus.choices,
            "can_edit": can_edit,
        },
    )


@login_required
@require_perm(Perm.EDIT_ASSISTED)
def assisted_create_page(request: HttpRequest) -> HttpResponse:
    """Record a villager's order (phone page); the county's commission rate is shown."""
    scope = scope_for_user(request.user)
    stations = _stations(scope)
    choices = [(s.pk, s.name) for s in stations]
    rate = assisted.commission_rate(station=stations[0]) if stations else None
    status = 200
    if request.method == "POST":
        form = AssistedForm(request.POST, stations=choices)
        if form.is_valid():
            d = form.cleaned_data
            station = next(s for s in stations if s.pk == d["station"])
            try:
                p = assisted.assisted_record(
                    scope=scope,
                    station=station,
                    villager_name=d["villager_name"],
                    villager_phone=d["villager_phone"],
                    item=d["item"],
                    price=d["price_yuan"],
                    shop=d["shop"],
                    shop_order_no=d["shop_order_no"],
                    tracking_number=d["tracking_number"],
                    actor=request.user,
                )
            except ApplicationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(
                    request,
                    _("已登记代购：%(i)s %(p)s") % {"i": p.item, "p": format_fen(p.price_fen)},
                )
                return redirect("commerce:assisted-detail", purchase_id=p.uuid)
        status = 400
    else:
        form = AssistedForm(initial={"shop": Shop.TAOBAO}, stations=choices)
    return render(
        request,
        "commerce/assisted/form.html",
        {"form": form, "no_station": not stations, "rate_bp": rate},
        status=status,
    )


@login_required
@require_perm(Perm.VIEW_COMMERCE)
def assisted_detail_page(request: HttpRequest, purchase_id: uuid.UUID) -> HttpResponse:
    p = _purchase(request, purchase_id)
    can_edit = bool(request.user.can(Perm.EDIT_ASSISTED))  # type: ignore[union-attr]
    candidates = []
    if can_edit and p.status in (AssistedStatus.RECORDED, AssistedStatus.ORDERED):
        scope = scope_for_user(request.user)
        candidates = assisted_selectors.assisted_parcel_candidates(scope=scope, purchase=p)
    return render(
        request,
        "commerce/assisted/detail.html",
        {
            "p": p,
            "can_edit": can_edit,
            "candidates": candidates,
            "rate_pct": f"{p.commission_bp / 100:g}",
            "expected": format_fen(p.price_fen * p.commission_bp // 10_000),
            "linkable": p.status in (AssistedStatus.RECORDED, AssistedStatus.ORDERED),
            "no_commission_reason": NO_COMMISSION_LABELS.get(p.no_commission_reason, ""),
            "cancellable": p.status
            in (AssistedStatus.RECORDED, AssistedStatus.ORDERED, AssistedStatus.ARRIVED),
        },
    )


NO_COMMISSION_LABELS = {
    "returned": gettext_lazy("包裹没有被村民取走（退回、拒收或丢失）"),
    "rejected": gettext_lazy("县级审核驳回"),
    "identity": gettext_lazy("包裹不是这位村民在登记之后收到的"),
}


def _act(request: HttpRequest, purchase_id: uuid.UUID, fn: Any, done: str) -> HttpResponse:
    p = _purchase(request, purchase_id)
    scope = scope_for_user(request.user)
    try:
        fn(scope, p)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("commerce:assisted-detail", purchase_id=p.uuid)


@login_required
@require_perm(Perm.EDIT_ASSISTED)
@require_POST
def assisted_ordered_page(request: HttpRequest, purchase_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        purchase_id,
        lambda scope, p: assisted.assisted_mark_ordered(
            scope=scope,
            purchase=p,
            shop_order_no=request.POST.get("shop_order_no", "")[:64],
            tracking_number=request.POST.get("tracking_number", "")[:40],
            actor=request.user,
        ),
        _("已记录店铺订单"),
    )


@login_required
@require_perm(Perm.EDIT_ASSISTED)
@require_POST
def assisted_link_page(request: HttpRequest, purchase_id: uuid.UUID) -> HttpResponse:
    parcel = request.POST.get("parcel", "")[:40]
    try:
        parcel_id = uuid.UUID(parcel) if parcel else None
    except ValueError:
        parcel_id = None
        parcel = "bad"
    if parcel == "bad":
        messages.error(request, _("找不到该包裹"))
        return redirect("commerce:assisted-detail", purchase_id=purchase_id)
    return _act(
        request,
        purchase_id,
        lambda scope, p: assisted.assisted_link(
            scope=scope,
            purchase=p,
            tracking_number=request.POST.get("tracking_number", "")[:40],
            parcel_id=parcel_id,
            actor=request.user,
        ),
        _("已关联包裹"),
    )


@login_required
@require_perm(Perm.EDIT_ASSISTED)
@require_POST
def assisted_cancel_page(request: HttpRequest, purchase_id: uuid.UUID) -> HttpResponse:
    return _act(
        request,
        purchase_id,
        lambda scope, p: assisted.assisted_cancel(
            scope=scope, purchase=p, reason=request.POST.get("reason", "")[:200], actor=request.user
        ),
        _("已取消代购"),
    )


@login_required
@require_perm(Perm.REVIEW_ASSISTED)
def assisted_oversight_page(request: HttpRequest) -> HttpResponse:
    """The county's oversight of 代购: its limits, the purchases above the review
    threshold waiting for a decision, and the operators whose commissions jump."""
    scope = scope_for_user(request.user)
    month = request.GET.get("month", "")[:7]
    try:
        anomalies = assisted_selectors.assisted_commission_anomalies(scope=scope, month=month)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        month = ""
        anomalies = assisted_selectors.assisted_commission_anomalies(scope=scope)
    queue = assisted_selectors.assisted_review_queue(scope=scope)
    limits = [
        assisted.assisted_limits(county_code=code)
        for code in (() if scope.everything else scope.prefixes)
        if len(code) == 6
    ]
    for row in anomalies:
        for k in ("month_fen", "trailing_avg_fen", "peer_median_fen", "jump_fen"):
            row[k[:-4] + "_yuan"] = format_fen(row[k])
    return render(
        request,
        "commerce/assisted/oversight.html",
        {
            "queue": list(queue[:200]),
            "queue_total": queue.count(),
            "anomalies": anomalies,
            "month": month,
            "limits": [
                {
                    "county": f"{x.county.name} {x.county_id}",
                    "max": format_fen(x.max_price_fen),
                    "review": format_fen(x.review_above_fen),
                    "shops": [
                        (Shop(k).label if k in Shop.values else k, format_fen(int(v)))
                        for k, v in sorted((x.shop_max_fen or {}).items())
                    ],
                }
                for x in limits
            ],
            "rule": {
                "trailing": assisted_selectors.TRAILING_MONTHS,
                "jump": assisted_selectors.JUMP_FACTOR,
                "peer": assisted_selectors.PEER_FACTOR,
                "floor": format_fen(assisted_selectors.MIN_JUMP_FEN),
            },
        },
    )


@login_required
@require_perm(Perm.REVIEW_ASSISTED)
@require_POST
def assisted_review_page(request: HttpRequest, purchase_id: uuid.UUID) -> HttpResponse:
    p = _purchase(request, purchase_id)
    approve = request.POST.get("decision") == "approve"
    try:
        assisted.assisted_review(
            scope=scope_for_user(request.user),
            purchase=p,
            approve=approve,
            note=request.POST.get("note", "")[:200],
            actor=request.user,
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            (_("已通过：%(i)s") if approve else _("已驳回：%(i)s")) % {"i": p.item},
        )
    return redirect("commerce:assisted-oversight")


@login_required
@require_perm(Perm.VIEW_LEDGER)
def earnings_page(request: HttpRequest) -> HttpResponse:
    """A station's earnings per month by source (operator: its station; county manager:
    any station of the county)."""
    scope = scope_for_user(request.user)
    stations = _stations(scope)
    sid = _int(request.GET.get("station", ""))
    station = next((s for s in stations if s.pk == sid), None)
    if sid is not None and station is None:
        try:
            station = assisted_selectors.station_get(scope=scope, station_id=sid)
        except NotFound as exc:
            raise Http404(exc.message) from exc
    if station is None and stations:
        station = stations[0]
    months = _int(request.GET.get("months", "")) or 12
    months = max(1, min(months, assisted_selectors.MAX_MONTHS))
    rows = (
        assisted_selectors.station_earnings(scope=scope, station=station, months=months)
        if station
        else []
    )
    fees = ledger_selectors.station_fee_position(scope=scope, station=station) if station else None
    keys = (
        "down_fen",
        "up_fen",
        "fees_pending_fen",
        "fees_posted_fen",
        "assisted_fen",
        "sales_fen",
        "total_fen",
    )
    totals = {k[:-4] + "_yuan": format_fen(sum(r[k] for r in rows)) for k in keys}
    shown = [{**r, **{k[:-4] + "_yuan": format_fen(r[k]) for k in keys}} for r in rows]
    return render(
        request,
        "commerce/assisted/earnings.html",
        {
            "stations": stations,
            "station": station,
            "rows": shown,
            "totals": totals,
            "months": months,
            "fees": fees,
            "fees_pending": format_fen(fees.pending_fen) if fees else "",
            "fees_posted": format_fen(fees.posted_fen) if fees else "",
        },
    )


@register_panel(order=31)
def assisted_panel(*, user: Any, scope: RegionScope) -> dict[str, Any] | None:
    """Assisted purchases waiting on the operator, and the earnings page."""
    if user.role not in (Role.STATION_OPERATOR, Role.COUNTY_MANAGER):
        return None
    figures = assisted_selectors.assisted_figures(scope=scope)
    return {
        "title": _("代购"),
        "stats": [
            {
                "label": _("待到货"),
                "value": figures[AssistedStatus.RECORDED] + figures[AssistedStatus.ORDERED],
                "url": reverse("commerce:assisted") + "?status=ordered",
            },
            {
                "label": _("待取件"),
                "value": figures[AssistedStatus.ARRIVED],
                "url": reverse("commerce:assisted") + "?status=arrived",
            },
        ],
        "links": [
            {"label": _("登记代购"), "url": reverse("commerce:assisted-create")},
            {"label": _("站点收入"), "url": reverse("commerce:earnings")},
            *(
                [{"label": _("代购监督"), "url": reverse("commerce:assisted-oversight")}]
                if user.can(Perm.REVIEW_ASSISTED)
                else []
            ),
        ],
    }


urlpatterns = [
    path("assisted/", assisted_list_page, name="assisted"),
    path("assisted/new/", assisted_create_page, name="assisted-create"),
    path("assisted/<uuid:purchase_id>/", assisted_detail_page, name="assisted-detail"),
    path("assisted/<uuid:purchase_id>/ordered/", assisted_ordered_page, name="assisted-ordered"),
    path("assisted/<uuid:purchase_id>/link/", assisted_link_page, name="assisted-link"),
    path("assisted/<uuid:purchase_id>/cancel/", assisted_cancel_page, name="assisted-cancel"),
    path("assisted/oversight/", assisted_oversight_page, name="assisted-oversight"),
    path("assisted/<uuid:purchase_id>/review/", assisted_review_page, name="assisted-review"),
    path("earnings/", earnings_page, name="earnings"),
]
