"""The order state machine (docs/adr/0015-commerce-orders.md, addendum "states").

One table says which state an order may move to from which: every service in
``orders.py`` and ``payments.py`` that changes ``Order.state`` asks :func:`transition_check`
first, with the row locked, so no page, API call, simulator or command can skip a step.

::

    pending_payment -pay-> paid -fulfil-> fulfilling -ship-> shipped -deliver-> delivered
      |-cancel-> cancelled   |-cancel-> refunded   (every shipment          |-return-> returned
      '-expire-> expired                           handed to the carrier)      (returned again)
    cancelled / expired / refunded -a late payment-> refunded (paid back at once)
    expired -a late payment-> paid (when the stock can be allocated again)
    paid .. returned -a second payment-> the same state (the payment is paid back at once)

``delivered`` needs ``shipped``, and ``shipped`` needs every upward shipment of the
order handed to the outbound carrier with its tracking number (logistics' own scans):
a paid order that nobody shipped cannot be delivered, so the producer is paid only for
goods that left the county with a carrier.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from cunzhan.commerce.orders_models import Order, OrderState
from cunzhan.core.errors import ApplicationError

S = OrderState

#: action -> {from-state: the states it may lead to}; nothing else is allowed
ACTIONS: dict[str, dict[str, frozenset[str]]] = {
    # the provider's payment; a late one for a closed order is paid back at once, an
    # expired order whose stock can be allocated again is paid after all
    "pay": {
        S.PENDING_PAYMENT: frozenset({S.PAID}),
        S.EXPIRED: frozenset({S.PAID, S.REFUNDED}),
        S.CANCELLED: frozenset({S.REFUNDED}),
        S.REFUNDED: frozenset({S.REFUNDED}),
        # paid twice: the state stays, the second payment is refunded at once
        S.PAID: frozenset({S.PAID}),
        S.FULFILLING: frozenset({S.FULFILLING}),
        S.SHIPPED: frozenset({S.SHIPPED}),
        S.DELIVERED: frozenset({S.DELIVERED}),
        S.RETURNED: frozenset({S.RETURNED}),
    },
    "fulfil": {S.PAID: frozenset({S.FULFILLING})},
    # every shipment handed to the outbound carrier (checked by the service)
    "ship": {S.FULFILLING: frozenset({S.SHIPPED})},
    "deliver": {S.SHIPPED: frozenset({S.DELIVERED})},
    # before fulfilment only; a paid order is refunded in full
    "cancel": {
        S.PENDING_PAYMENT: frozenset({S.CANCELLED}),
        S.PAID: frozenset({S.REFUNDED}),
    },
    "return": {
        S.DELIVERED: frozenset({S.RETURNED}),
        S.RETURNED: frozenset({S.RETURNED}),
    },
    "expire": {S.PENDING_PAYMENT: frozenset({S.EXPIRED})},
}

#: from-state -> every state it may move to (the union of the actions)
TRANSITIONS: dict[str, frozenset[str]] = {
    state: frozenset(to for table in ACTIONS.values() for to in table.get(state, frozenset()))
    for state in S.values
}

#: the actions the staff's order page and API offer
STAFF_ACTIONS = ("fulfil", "ship", "deliver", "cancel", "return")


def transition_allowed(from_state: str, to_state: str) -> bool:
    return to_state in TRANSITIONS.get(from_state, frozenset())


def action_allowed(from_state: str, action: str) -> bool:
    return from_state in ACTIONS.get(action, {})


def action_verb(action: str) -> str:
    """The translated verb of an action, for messages."""
    return {
        "pay": _("付款"),
        "fulfil": _("备货发运"),
        "ship": _("发货"),
        "deliver": _("确认送达"),
        "cancel": _("取消"),
        "return": _("退货退款"),
        "expire": _("超时关闭"),
    }.get(action, action)


def transition_check(order: Order, *, action: str, to: str) -> None:
    """Refuse a move the table does not allow: ``wrong_state`` (409), naming the order's
    state and the action."""
    if str(to) in ACTIONS.get(action, {}).get(order.state, frozenset()):
        return
    raise ApplicationError(
        _("订单状态为“%(s)s”，不能%(a)s")
        % {"s": order.get_state_display(), "a": action_verb(action)},
        code="wrong_state",
        details={"state": order.state, "action": action, "to": str(to)},
        status=409,
    )


def actions_allowed(order: Order) -> list[str]:
    """The staff actions the order's state allows (the order page shows only these)."""
    return [a for a in STAFF_ACTIONS if action_allowed(order.state, a)]
