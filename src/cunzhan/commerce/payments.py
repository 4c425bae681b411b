"""Payments through a provider (docs/adr/0015-commerce-orders.md).

The providers come from settings: ``PAYMENT_PROVIDERS`` lists the ones a buyer may pay
through (the first is the one checkout uses); a provider not listed — or the sandbox while
``PAYMENTS_SANDBOX_ENABLED`` is off, as it is by default with DEBUG off — is refused
(``provider_disabled``, 404) by :func:`provider_get`, the one door every path goes
through: checkout, the pay page, the webhook, the simulator. Checkout creates a
:class:`Payment` with it (``payment_start``) and sends the buyer to the provider's pay
URL. The provider tells us the outcome through the webhook
(``POST /api/v1/shop/payments/{provider}/webhook``): a JSON body with ``event_id``,
``type``, ``timestamp`` (Unix seconds), ``payment_ref``, ``amount_fen``, ``currency``,
signed with HMAC-SHA256 over the raw body with the provider's secret (header
``X-Cunzhan-Signature: sha256=<hex>``).

:func:`payment_webhook` refuses an unsigned body (``unsigned``), a bad signature
(``bad_signature``), a timestamp more than ``WEBHOOK_TOLERANCE`` away from now
(``stale_timestamp``), another currency than CNY (``unsupported_currency``), an unknown
payment or a wrong amount — all 400 and nothing written. It is idempotent by the
provider's event id: the event row is inserted first (a unique constraint), so a replayed
webhook — even two at the same instant — pays once.

The sandbox provider is our own page acting as the provider (``/shop/pay/<ref>/``): its
"pay" button signs an event with the sandbox secret and hands it to the same
:func:`payment_webhook` the HTTP endpoint calls.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from cunzhan.commerce import orders
from cunzhan.commerce.orders_models import (
    Order,
    OrderState,
    Payment,
    PaymentEvent,
    PaymentStatus,
)
from cunzhan.core.errors import ApplicationError, NotFound, Unprocessable

WEBHOOK_TOLERANCE = dt.timedelta(minutes=5)
SIGNATURE_HEADER = "X-Cunzhan-Signature"
MAX_BODY = 16_384


class PaymentProvider(Protocol):
    code: str

    def pay_url(self, payment: Payment) -> str: ...

    def secret(self) -> bytes: ...


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class SandboxProvider:
    """Our own stand-in for a payment provider: the pay page is ours."""

    code = "sandbox"

    def pay_url(self, payment: Payment) -> str:
        return reverse("store:pay", kwargs={"payment_ref": payment.provider_ref})

    def secret(self) -> bytes:
        return settings.PAYMENT_SANDBOX_SECRET.encode()

    def event_body(
        self, payment: Payment, *, event_id: str | None = None, at: dt.datetime | None = None
    ) -> bytes:
        """The body the sandbox sends when the buyer pays."""
        return json.dumps(
            {
                "event_id": event_id or f"evt_{secrets.token_hex(12)}",
                "type": "payment.succeeded",
                "timestamp": int((at or timezone.now()).timestamp()),
                "payment_ref": payment.provider_ref,
                "amount_fen": payment.amount_fen,
                "currency": payment.currency,
            },
            separators=(",", ":"),
        ).encode()


# every provider cunzhan can speak to, by code; settings.PAYMENT_PROVIDERS says which are on
PROVIDERS: dict[str, PaymentProvider] = {"sandbox": SandboxProvider()}


def provider_enabled(code: str) -> bool:
    """Whether payments may go through ``code`` under the current settings."""
    if code not in settings.PAYMENT_PROVIDERS or code not in PROVIDERS:
        return False
    return code != SandboxProvider.code or bool(settings.PAYMENTS_SANDBOX_ENABLED)


def provider_get(code: str) -> PaymentProvider:
    """The provider ``code`` if it is enabled; NotFound otherwise (nothing is written)."""
    code = str(code)[:20]
    provider = PROVIDERS.get(code)
    if provider is None:
        raise NotFound(_("未知的支付渠道：%(p)s") % {"p": code}, code="unknown_provider")
    if not provider_enabled(code):
        raise NotFound(
            _("支付渠道“%(p)s”未启用") % {"p": code},
            code="provider_disabled",
            details={"provider": code},
        )
    return provider


def provider_default() -> PaymentProvider:
    """The provider checkout uses: the first enabled one in ``PAYMENT_PROVIDERS``."""
    for code in settings.PAYMENT_PROVIDERS:
        if provider_enabled(code):
            return PROVIDERS[code]
    raise NotFound(
        _("本站暂不能在线付款：没有启用的支付渠道"), code="provider_disabled", details={}
    )


@transaction.atomic
def payment_start(
    *, order: Order, provider: PaymentProvider | None = None, at: dt.datetime | None = None
) -> Payment:
    """The payment of a pending order with the provider (the open one if there is one);
    refused for an order past its expiry at ``at`` (default now; the simulator's time)."""
    provider = provider_get(provider.code) if provider else provider_default()
    locked = Order.objects.select_for_update().get(pk=order.pk)
    if locked.state != OrderState.PENDING_PAYMENT:
        raise ApplicationError(
            _("订单状态为“%(s)s”，无需付款") % {"s": locked.get_state_display()},
            code="wrong_state",
            status=409,
        )
    if locked.expires_at is not None and locked.expires_at <= (at or timezone.now()):
        raise ApplicationError(
            _("订单已超时未付款，库存已释放，请重新下单"), code="order_expired", status=409
        )
    open_ = locked.payments.filter(
        status=PaymentStatus.CREATED, provider=provider.code, amount_fen=locked.total_fen
    ).first()
    if open_ is not None:
        return open_
    return Payment.objects.create(
        order=locked,
        provider=provider.code,
        provider_ref=f"{provider.code[:3]}_{secrets.token_hex(12)}",
        amount_fen=locked.total_fen,
    )


@dataclass(frozen=True)
class WebhookResult:
    payment: Payment
    replay: bool


def _bad(code: str, message: str, **details: Any) -> ApplicationError:
    """The body is not an event this API reads (400)."""
    return ApplicationError(message, code=code, details=details)


def _unsigned(code: str, message: str) -> ApplicationError:
    """The signature, the webhook's credential, is missing or wrong (401)."""
    return ApplicationError(message, code=code, status=401)


def _refused(code: str, message: str, **details: Any) -> ApplicationError:
    """A well-formed, signed event that does not agree with the clock or with the
    stored payment (422)."""
    return Unprocessable(message, code=code, details=details)


def _parse(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad("invalid_body", _("回调内容不是 JSON")) from exc
    if not isinstance(data, dict):
        raise _bad("invalid_body", _("回调内容不是 JSON 对象"))
    for key, kind in (
        ("event_id", str),
        ("type", str),
        ("timestamp", int),
        ("payment_ref", str),
        ("amount_fen", int),
        ("currency", str),
    ):
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, kind) or value == "":
            raise _bad("invalid_body", _("回调缺少字段或类型错误：%(k)s") % {"k": key}, field=key)
    if not 1 <= len(data["event_id"]) <= 64:
        raise _bad("invalid_body", _("event_id 长度应为 1–64"), field="event_id")
    return data


def payment_webhook(
    *, provider_code: str, body: bytes, signature: str, now: dt.datetime | None = None
) -> WebhookResult:
    """Verify and apply a provider's event (see the module doc)."""
    provider = provider_get(provider_code)
    if len(body) > MAX_BODY:
        raise _bad("invalid_body", _("回调内容过大"))
    if not signature:
        raise _unsigned("unsigned", _("回调没有签名（%(h)s）") % {"h": SIGNATURE_HEADER})
    if not hmac.compare_digest(sign(provider.secret(), body), signature.strip()):
        raise _unsigned("bad_signature", _("回调签名不正确"))
    data = _parse(body)
    now = now or timezone.now()
    sent = dt.datetime.fromtimestamp(data["timestamp"], tz=dt.UTC)
    if abs(now - sent) > WEBHOOK_TOLERANCE:
        raise _refused(
            "stale_timestamp",
            _("回调时间戳与当前时间相差超过 %(m)s 分钟") % {"m": 5},
            timestamp=data["timestamp"],
        )
    orders.currency_check(data["currency"])
    if data["type"] != "payment.succeeded":
        raise _refused("unsupported_event", _("不支持的事件类型：%(t)s") % {"t": data["type"][:40]})
    payment = Payment.objects.filter(
        provider=provider.code, provider_ref=data["payment_ref"][:64]
    ).first()
    if payment is None:
        raise _refused(
            "unknown_payment", _("找不到该支付：%(r)s") % {"r": data["payment_ref"][:64]}
        )
    if data["amount_fen"] != payment.amount_fen:
        raise _refused(
            "amount_mismatch",
            _("支付金额 %(a)s 分与订单应付 %(b)s 分不符")
            % {"a": data["amount_fen"], "b": payment.amount_fen},
        )
    with transaction.atomic():
        try:
            with transaction.atomic():
                PaymentEvent.objects.create(
                    provider=provider.code,
                    event_id=data["event_id"],
                    payment=payment,
                    kind=data["type"],
                    body=data,
                )
        except IntegrityError:
            payment.refresh_from_db()
            return WebhookResult(payment=payment, replay=True)
        # lock order then payment: the same order as order_cancel (no deadlock)
        order = Order.objects.select_for_update().get(pk=payment.order_id)
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status == PaymentStatus.PAID:  # another event of the same payment
            return WebhookResult(payment=locked, replay=True)
        orders.order_mark_paid(order=order, payment=locked, at=sent)
        return WebhookResult(payment=locked, replay=False)
