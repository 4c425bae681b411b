"""Order pages for the county's staff (login): the county's orders, one order with its
lines and lots, and the actions of a county manager (shipped to the carrier, delivery
confirmed, cancel, refund a return). Thin: the rules live in ``orders.py``."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.commerce import orders, orders_selectors, orders_states, wholesale
from cunzhan.commerce.api import mask_phone
from cunzhan.commerce.models import Product
from cunzhan.commerce.orders_api import _mask_name
from cunzhan.commerce.orders_models import BuyerKind, Order, OrderState
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.money import format_fen, yuan_to_fen
from cunzhan.core.validation import is_ascii_digits
from cunzhan.core.views import require_perm
from cunzhan.network.models import Level, Region


def _order(request: HttpRequest, order_id: uuid.UUID) -> Order:
    try:
        return orders_selectors.order_get(scope=scope_for_user(request.user), order_id=order_id)
    except NotFound as exc:
        raise Http404 from exc


@login_required
@require_perm(Perm.VIEW_ORDERS)
def order_list_page(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")[:16]
    qs = orders_selectors.order_list(scope=scope_for_user(request.user), state=state)[:200]
    rows = [
        {"o": o, "total": format_fen(o.total_fen), "name": _mask_name(o.buyer_name)} for o in qs
    ]
    return render(
        request,
        "commerce/orders/list.html",
        {"rows": rows, "state": state, "states": OrderState.choices},
    )


@login_required
@require_perm(Perm.VIEW_ORDERS)
def order_page(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    o = orders.order_sync_shipments(order=_order(request, order_id))
    lines = [
        {
            "ln": ln,
            "price": format_fen(ln.unit_price_fen),
            "total": format_fen(ln.total_fen),
            "allocs": list(ln.allocations.all()),
        }
        for ln in orders_selectors.order_lines(order=o)
    ]
    return render(
        request,
        "commerce/orders/detail.html",
        {
            "o": o,
            "lines": lines,
            "total": format_fen(o.total_fen),
            "paid": format_fen(o.paid_fen),
            "refunded": format_fen(o.refunded_fen),
            "name": _mask_name(o.buyer_name),
            "phone": mask_phone(o.buyer_phone),
            "shipments": list(o.shipments.select_related("shipment", "station")),
            "can_manage": request.user.can(Perm.MANAGE_ORDERS),  # type: ignore[union-attr]
            # only what the state machine allows; "ship" follows the carrier hand-overs
            # (order_sync_shipments above), so it is never a button
            "actions": [a for a in orders_states.actions_allowed(o) if a != "ship"],
        },
    )


@login_required
@require_perm(Perm.MANAGE_ORDERS)
@require_POST
def order_action_page(request: HttpRequest, order_id: uuid.UUID, action: str) -> HttpResponse:
    o = _order(request, order_id)
    scope = scope_for_user(request.user)
    user = request.user
    try:
        if action == "fulfil":
            orders.order_fulfil(scope=scope, order=o, actor=user)
        elif action == "ship":
            orders.order_ship(scope=scope, order=o, actor=user)
        elif action == "deliver":
            orders.order_deliver(scope=scope, order=o, actor=user)
        elif action == "cancel":
            orders.order_cancel(
                scope=scope, order=o, reason=request.POST.get("reason", "")[:200], actor=user
            )
        elif action == "return":
            amount = yuan_to_fen(request.POST.get("amount", "")[:20])
            orders.order_return(
                scope=scope,
                order=o,
                amount_fen=amount,
                reason=request.POST.get("reason", "")[:200],
                actor=user,
            )
        else:
            raise Http404
    except NotFound as exc:
        raise Http404 from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已保存"))
    return redirect("orders:detail", order_id=o.uuid)


@login_required
@require_perm(Perm.VIEW_ORDERS)
@require_http_methods(["GET", "POST"])
def buyer_list_page(request: HttpRequest) -> HttpResponse:
    """Institutional buyers; a county manager records a new one here."""
    scope = scope_for_user(request.user)
    can_manage = request.user.can(Perm.MANAGE_ORDERS)  # type: ignore[union-attr]
    form = {k: request.POST.get(k, "")[:200] for k in BUYER_FIELDS}
    error = ""
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        try:
            b = wholesale.buyer_create(scope=scope, actor=request.user, **form)
        except NotFound:
            error = _("请选择您负责的县")
        except ApplicationError as exc:
            error = exc.message
        else:
            return redirect("orders:buyer", buyer_id=b.uuid)
    rows = [
        {"b": b, "phone": mask_phone(b.contact_phone)}
        for b in orders_selectors.buyer_list(scope=scope)[:300]
    ]
    return render(
        request,
        "commerce/orders/buyers.html",
        {
            "rows": rows,
            "form": form,
            "error": error,
            "kinds": BuyerKind.choices,
            "counties": _counties(scope),
            "can_manage": can_manage,
        },
        status=400 if error else 200,
    )


BUYER_FIELDS = ("county_code", "kind", "organisation", "contact_name", "contact_phone", "address")


def _counties(scope: Any) -> list[Region]:
    return list(Region.objects.filter(scope.q("code"), level=Level.COUNTY).order_by("code")[:50])


@login_required
@require_perm(Perm.VIEW_ORDERS)
@require_http_methods(["GET", "POST"])
def buyer_page(request: HttpRequest, buyer_id: uuid.UUID) -> HttpResponse:
    """A buyer and its purchase orders; a county manager places a new one here."""
    scope = scope_for_user(request.user)
    try:
        b = orders_selectors.buyer_get(scope=scope, buyer_id=buyer_id)
    except NotFound as exc:
        raise Http404 from exc
    can_manage = request.user.can(Perm.MANAGE_ORDERS)  # type: ignore[union-attr]
    error = ""
    form = {
        "product": request.POST.get("product", "")[:40],
        "grade": request.POST.get("grade", "")[:20],
        "quantity": request.POST.get("quantity", "")[:10],
        "delivery_date": request.POST.get("delivery_date", "")[:10],
    }
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        qty = form["quantity"].strip()
        try:
            o = wholesale.purchase_order_place(
                scope=scope,
                buyer=b,
                lines=[
                    {
                        "product": form["product"],
                        "grade": form["grade"],
                        "quantity": int(qty) if is_ascii_digits(qty.removeprefix("-")) else qty,
                    }
                ],
                delivery_date=form["delivery_date"],
                actor=request.user,
            )
        except NotFound as exc:
            raise Http404 from exc
        except ApplicationError as exc:
            error = exc.message
        else:
            return redirect("orders:detail", order_id=o.uuid)
    return render(
        request,
        "commerce/orders/buyer.html",
        {
            "b": b,
            "phone": mask_phone(b.contact_phone),
            "name": _mask_name(b.contact_name),
            "orders": [
                {"o": o, "total": format_fen(o.total_fen)} for o in b.orders.order_by("-id")[:100]
            ],
            "form": form,
            "error": error,
            "can_manage": can_manage,
            "products": Product.objects.filter(active=True).order_by("code"),
        },
        status=400 if error else 200,
    )


@login_required
@require_perm(Perm.VIEW_ORDERS)
@require_GET
def report_page(request: HttpRequest) -> HttpResponse:
    """Sales by month, county, village and product; the registered-poor households' share."""
    month = request.GET.get("month", "")[:7]
    try:
        rows = orders_selectors.sales_report(scope=scope_for_user(request.user), month=month)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        rows = []
    total = sum(r["total_fen"] for r in rows)
    poor = sum(r["poor_fen"] for r in rows)
    return render(
        request,
        "commerce/orders/report.html",
        {
            "rows": [
                {
                    **r,
                    "total": format_fen(r["total_fen"]),
                    "poor": format_fen(r["poor_fen"]),
                    "share": f"{r['poor_share'] * 100:.1f}%",
                }
                for r in rows
            ],
            "month": month,
            "total": format_fen(total),
            "poor": format_fen(poor),
            "share": f"{poor / total * 100:.1f}%" if total else "—",
        },
    )


app_name = "orders"
urlpatterns = [
    path("", order_list_page, name="list"),
    path("buyers/", buyer_list_page, name="buyers"),
    path("buyers/<uuid:buyer_id>/", buyer_page, name="buyer"),
    path("report/", report_page, name="report"),
    path("<uuid:order_id>/", order_page, name="detail"),
    path("<uuid:order_id>/<str:action>/", order_action_page, name="action"),
]
