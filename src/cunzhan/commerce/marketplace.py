"""External marketplaces (docs/adr/0015-commerce-orders.md): the product feed they read
(:func:`feed_rows`, CSV and JSON: product, grade, price, available quantity, county,
trace codes) and the orders they send, by API (a county manager's token) or by webhook
signed with HMAC-SHA256 per marketplace (``settings.MARKETPLACE_SECRETS``; header
``X-Cunzhan-Signature: sha256=<hex>``, body with a ``timestamp`` at most 5 minutes
off). An order is identified by (marketplace, its order id there): importing it again
returns the same order. The buyer paid the marketplace: the order is placed through
the same allocation and paid at once in the ledger (provider = the marketplace)."""

from __future__ import annotations

import datetime as dt
import hmac
import json
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cunzhan.commerce import orders, orders_selectors, payments
from cunzhan.commerce.models import Lot
from cunzhan.commerce.orders_models import Channel, Order, Payment
from cunzhan.core import tabular
from cunzhan.core.errors import ApplicationError, NotFound, Unprocessable
from cunzhan.core.scope import prefix_q

FEED_FIELDS = [
    "product",
    "product_name",
    "grade",
    "grade_name",
    "county_code",
    "county_name",
    "unit",
    "price_fen",
    "currency",
    "available",
    "trace_codes",
]


def feed_rows() -> list[dict[str, Any]]:
    """One row per listing (county + grade with stock and a price); no personal data."""
    rows = []
    for listing in orders_selectors.listings():
        codes = list(
            Lot.objects.filter(
                prefix_q("village_id", listing.county.code),
                grade=listing.grade,
                status__in=orders.SELLABLE,
                quantity_available__gt=0,
            )
            .order_by("harvest_date", "id")
            .values_list("code", flat=True)[:50]
        )
        rows.append(
            {
                "product": listing.product.code,
                "product_name": listing.product.name,
                "grade": listing.grade.code,
                "grade_name": listing.grade.name,
                "county_code": listing.county.code,
                "county_name": listing.county.name,
                "unit": listing.tier.unit,
                "price_fen": listing.tier.price_fen,
                "currency": orders.CURRENCY,
                "available": listing.available,
                "trace_codes": codes,
            }
        )
    return rows


def feed_csv(rows: list[dict[str, Any]]) -> str:
    def cells(r: dict[str, Any]) -> list[Any]:
        r = {**r, "trace_codes": " ".join(r["trace_codes"])}
        return [r.get(f, "") for f in FEED_FIELDS]

    data = (cells(r) for r in rows)
    return tabular.csv_text(FEED_FIELDS, data, bom=False)  # text escaped by the shared writer


def secret_for(marketplace: str) -> bytes:
    secret = settings.MARKETPLACE_SECRETS.get(str(marketplace)[:20])
    if not secret:
        raise NotFound(
            _("未知的电商平台：%(m)s") % {"m": str(marketplace)[:20]}, code="unknown_marketplace"
        )
    return str(secret).encode()


def _field(data: Mapping[str, Any], key: str, kind: type) -> Any:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, kind) or value in ("", None):
        raise ApplicationError(
            _("缺少字段或类型错误：%(k)s") % {"k": key},
            code="invalid_body",
            details={"field": key},
        )
    return value


def order_import(
    *, marketplace: str, data: Mapping[str, Any], county_check: Any = None, actor: Any = None
) -> tuple[Order, bool]:
    """Import one marketplace order (see the module doc). Returns (order, created)."""
    secret_for(marketplace)  # a known marketplace
    ref = str(_field(data, "order_id", str)).strip()[:64]
    found = Order.objects.filter(marketplace=marketplace, external_ref=ref).first()
    if found is not None:
        return found, False
    county_code = str(_field(data, "county_code", str))[:12]
    if county_check is not None:
        county_check(county_code)
    orders.currency_check(data.get("currency", orders.CURRENCY))
    amount = _field(data, "amount_fen", int)
    lines = _field(data, "lines", list)
    if not all(isinstance(x, Mapping) for x in lines):
        raise ApplicationError(
            _("lines 必须是对象列表"), code="invalid_body", details={"field": "lines"}
        )
    try:
        with transaction.atomic():
            order = orders.order_place(
                channel=Channel.MARKETPLACE,
                county_code=county_code,
                lines=lines,
                buyer_name=str(data.get("buyer_name") or ""),
                buyer_phone=str(data.get("buyer_phone") or ""),
                address=str(data.get("address") or ""),
                note=_("%(m)s 订单 %(r)s") % {"m": marketplace, "r": ref},
                marketplace=marketplace,
                external_ref=ref,
                actor=actor,
            )
            if order.total_fen != amount:
                raise Unprocessable(
                    _("平台金额 %(a)s 分与按价格计算的 %(b)s 分不符")
                    % {"a": amount, "b": order.total_fen},
                    code="amount_mismatch",
                    details={"amount_fen": amount, "expected_fen": order.total_fen},
                )
            payment = Payment.objects.create(
                order=order,
                provider=marketplace,
                provider_ref=f"{marketplace}:{ref}"[:64],
                amount_fen=amount,
            )
            locked = Order.objects.select_for_update().get(pk=order.pk)
            order = orders.order_mark_paid(order=locked, payment=payment, at=timezone.now())
    except ApplicationError as exc:
        if exc.code == "duplicate_external_ref":  # imported by a concurrent call
            return Order.objects.get(marketplace=marketplace, external_ref=ref), False
        raise
    return order, True


def order_webhook(
    *, marketplace: str, body: bytes, signature: str, now: dt.datetime | None = None
) -> tuple[Order, bool]:
    secret = secret_for(marketplace)
    if len(body) > payments.MAX_BODY:
        raise ApplicationError(_("回调内容过大"), code="invalid_body")
    if not signature:
        raise ApplicationError(
            _("回调没有签名（%(h)s）") % {"h": payments.SIGNATURE_HEADER},
            code="unsigned",
            status=401,
        )
    if not hmac.compare_digest(payments.sign(secret, body), signature.strip()):
        raise ApplicationError(_("回调签名不正确"), code="bad_signature", status=401)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApplicationError(_("回调内容不是 JSON"), code="invalid_body") from exc
    if not isinstance(data, dict):
        raise ApplicationError(_("回调内容不是 JSON 对象"), code="invalid_body")
    ts = _field(data, "timestamp", int)
    sent = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    if abs((now or timezone.now()) - sent) > payments.WEBHOOK_TOLERANCE:
        raise Unprocessable(
            _("回调时间戳与当前时间相差超过 %(m)s 分钟") % {"m": 5}, code="stale_timestamp"
        )
    return order_import(marketplace=marketplace, data=data)
