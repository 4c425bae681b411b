"""Order pages for the county's staff (login): the county's orders, one order with its
lines and lots, and the actions of a county manager (shipped to the carrier, delivery
confirmed, cancel, refund a return). Thin: the rules live in ``orders.py``."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.commerce import orders, orders_selectors
from cunzhan.commerce.api import mask_phone
from cunzhan.commerce.orders_api import _mask_name
from cunzhan.commerce.orders_models import Order, OrderState
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.money import format_fen, yuan_to_fen
from cunzhan.core.views import require_perm


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
        },
    )


ACTIONS = ("fulfil", "ship", "deliver", "cancel", "return")


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


app_name = "orders"
urlpatterns = [
    path("", order_list_page, name="list"),
    path("<uuid:order_id>/", order_page, name="detail"),
    path("<uuid:order_id>/<str:action>/", order_action_page, name="action"),
]
