"""The PUBLIC storefront (no login), mobile-first: browse listings by product, grade and
county; a listing with its price tiers; the cart (in the session, one county's produce
at a time: an order is of one county); checkout (name, phone, address) which places the
order and sends the buyer to the payment provider; the order's status page (its number
and secret token are the link); and the sandbox provider's pay page (our own page
acting as the provider: it signs the event and hands it to the webhook service).

No personal data of producers is shown; the buyer's own name and phone are masked on
the status page. Thin: the rules live in ``orders.py``, ``payments.py`` and
``orders_selectors.py``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from cunzhan.commerce import orders, orders_selectors, payments
from cunzhan.commerce.api import mask_phone
from cunzhan.commerce.models import Grade, PriceTier, Product
from cunzhan.commerce.orders_api import _mask_name
from cunzhan.commerce.orders_models import OrderState, PaymentStatus
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.money import format_fen
from cunzhan.core.validation import is_ascii_digits

CART = "store_cart"
# the orders this session placed (their uuids): the limits on unpaid orders per buyer
# session (orders.store_unpaid_check) count those still unpaid
PLACED = "store_orders"
MAX_CART_ITEMS = 20


def _cart(request: HttpRequest) -> dict[str, Any]:
    cart = request.session.get(CART) or {}
    if not isinstance(cart, dict) or not isinstance(cart.get("items"), dict):
        cart = {"county": "", "items": {}}
    return cart


def _ctx(request: HttpRequest, **kw: Any) -> dict[str, Any]:
    return {"cart_count": len(_cart(request)["items"]), **kw}


def _cart_rows(request: HttpRequest) -> tuple[list[dict[str, Any]], int]:
    rows, total = [], 0
    for key, qty in _cart(request)["items"].items():
        try:
            listing = orders_selectors.listing_get(key=key)
        except NotFound:
            continue  # sold out or no longer priced: checkout would refuse it
        total += qty * listing.tier.price_fen
        rows.append(
            {"listing": listing, "quantity": qty, "price": format_fen(listing.tier.price_fen)}
        )
    return rows, total


@require_GET
def store_home(request: HttpRequest) -> HttpResponse:
    product = request.GET.get("product", "")[:40]
    county = request.GET.get("county", "")[:12]
    grade = request.GET.get("grade", "")[:20]
    rows = orders_selectors.listings(county=county, product=product, grade=grade)
    listings = [_priced(r) for r in rows]
    grade_codes = sorted(
        set(Grade.objects.filter(standard__active=True).values_list("code", "name")[:200])
    )
    return render(
        request,
        "commerce/store/home.html",
        _ctx(
            request,
            listings=listings,
            products=Product.objects.filter(active=True).order_by("code"),
            counties=orders_selectors.listing_counties(),
            grade_codes=grade_codes,
            product=product,
            county=county,
            grade=grade,
        ),
    )


class _Priced:
    def __init__(self, listing: orders_selectors.Listing) -> None:
        self.__dict__.update(listing.__dict__)
        self.key = listing.key
        self.price = format_fen(listing.tier.price_fen)


def _priced(listing: orders_selectors.Listing) -> _Priced:
    return _Priced(listing)


@require_GET
def store_listing(request: HttpRequest, listing: str) -> HttpResponse:
    try:
        item = orders_selectors.listing_get(key=listing)
    except NotFound as exc:
        raise Http404(_("没有这个商品")) from exc
    standard = item.grade.standard
    tiers = []
    for g in standard.grades.order_by("rank"):
        tier = (
            PriceTier.objects.filter(grade=g, county=item.county, published=True)
            .order_by("-valid_from", "-id")
            .first()
        )
        if tier is not None:
            tiers.append(
                {"grade": g, "price": format_fen(tier.price_fen), "unit": tier.get_unit_display()}
            )
    return render(
        request,
        "commerce/store/listing.html",
        _ctx(request, l=item, price=format_fen(item.tier.price_fen), tiers=tiers),
    )


def _cart_error(request: HttpRequest, message: str) -> HttpResponse:
    rows, total = _cart_rows(request)
    return render(
        request,
        "commerce/store/cart.html",
        _ctx(request, rows=rows, total=format_fen(total), error=message),
        status=400,
    )


@require_http_methods(["GET", "POST"])
def store_cart(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        cart = _cart(request)
        action = request.POST.get("action", "")
        key = request.POST.get("listing", "")[:40]
        if action == "remove":
            cart["items"].pop(key, None)
        elif action == "add":
            try:
                listing = orders_selectors.listing_get(key=key)
            except NotFound:
                return _cart_error(request, _("没有这个商品或已售完"))
            raw = request.POST.get("quantity", "").strip()
            if not is_ascii_digits(raw.removeprefix("-")) or int(raw) <= 0:
                return _cart_error(request, _("数量必须是大于 0 的整数"))
            qty = cart["items"].get(key, 0) + int(raw)
            if qty > listing.available:
                return _cart_error(request, _("库存不足：可售 %(a)s") % {"a": listing.available})
            if cart["items"] and cart["county"] != listing.county.code:
                return _cart_error(request, _("一个订单只能包含同一产地（县）的商品，请先结算"))
            if key not in cart["items"] and len(cart["items"]) >= MAX_CART_ITEMS:
                return _cart_error(request, _("购物车最多 %(n)s 种商品") % {"n": MAX_CART_ITEMS})
            cart["county"] = listing.county.code
            cart["items"][key] = qty
        else:
            return _cart_error(request, _("未知的操作"))
        if not cart["items"]:
            cart["county"] = ""
        request.session[CART] = cart
        return redirect("store:cart")
    rows, total = _cart_rows(request)
    return render(
        request, "commerce/store/cart.html", _ctx(request, rows=rows, total=format_fen(total))
    )


@require_http_methods(["GET", "POST"])
def store_checkout(request: HttpRequest) -> HttpResponse:
    rows, total = _cart_rows(request)
    if not rows:  # nothing to check out: say so (the cart page links back to the shop)
        return render(request, "commerce/store/checkout.html", _ctx(request, rows=[], empty=True))
    form = {k: request.POST.get(k, "")[:200] for k in ("buyer_name", "buyer_phone", "address")}
    error = ""
    if request.method == "POST":
        cart = _cart(request)
        placed = [str(x) for x in (request.session.get(PLACED) or [])][-20:]
        try:
            # no provider to pay through: refuse before the order holds any stock
            provider = payments.provider_default()
            orders.store_unpaid_check(order_ids=placed, units=sum(r["quantity"] for r in rows))
            order = orders.order_place(
                channel="storefront",
                county_code=cart["county"],
                lines=[
                    {
                        "product": r["listing"].product.code,
                        "grade": r["listing"].grade.code,
                        "quantity": r["quantity"],
                    }
                    for r in rows
                ],
                buyer_name=form["buyer_name"],
                buyer_phone=form["buyer_phone"],
                address=form["address"],
            )
            payment = payments.payment_start(order=order, provider=provider)
        except ApplicationError as exc:
            error = exc.message
        else:
            request.session[CART] = {"county": "", "items": {}}
            request.session[PLACED] = [*placed, str(order.uuid)][-20:]
            return redirect(payments.provider_get(payment.provider).pay_url(payment))
    return render(
        request,
        "commerce/store/checkout.html",
        _ctx(request, rows=rows, total=format_fen(total), form=form, error=error),
        status=400 if error else 200,
    )


@require_GET
def store_order(request: HttpRequest, order_link: str) -> HttpResponse:
    try:
        order = orders_selectors.order_by_link(link=order_link)
    except NotFound as exc:
        raise Http404(_("没有这个订单")) from exc
    pay_url = ""
    if order.state == OrderState.PENDING_PAYMENT and (
        order.expires_at is None or order.expires_at > timezone.now()
    ):
        open_ = order.payments.filter(status=PaymentStatus.CREATED).first()
        if open_ is not None and payments.provider_enabled(open_.provider):
            pay_url = payments.provider_get(open_.provider).pay_url(open_)
    lines = [
        {
            "product": ln.product,
            "grade": ln.grade,
            "quantity": ln.quantity,
            "price": format_fen(ln.unit_price_fen),
        }
        for ln in order.lines.select_related("product", "grade")
    ]
    return render(
        request,
        "commerce/store/order.html",
        _ctx(
            request,
            order=order,
            lines=lines,
            total=format_fen(order.total_fen),
            name_masked=_mask_name(order.buyer_name),
            phone_masked=mask_phone(order.buyer_phone),
            pay_url=pay_url,
        ),
    )


@require_http_methods(["GET", "POST"])
def store_pay(request: HttpRequest, payment_ref: str) -> HttpResponse:
    """The sandbox provider's pay page. POST = the buyer pays: the sandbox signs a
    ``payment.succeeded`` event and delivers it to the webhook service. A 404 unless the
    sandbox is enabled (``PAYMENTS_SANDBOX_ENABLED``: never in production)."""
    try:
        sandbox = payments.provider_get(payments.SandboxProvider.code)
        payment = orders_selectors.payment_by_ref(provider_ref=payment_ref)
    except NotFound as exc:
        raise Http404(_("没有这笔支付")) from exc
    if payment.provider != sandbox.code or not isinstance(sandbox, payments.SandboxProvider):
        raise Http404(_("没有这笔支付"))
    error = ""
    if request.method == "POST":
        body = sandbox.event_body(payment)
        try:
            payments.payment_webhook(
                provider_code=sandbox.code,
                body=body,
                signature=payments.sign(sandbox.secret(), body),
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            messages.success(request, _("付款成功"))
            return redirect(
                reverse("store:order", kwargs={"order_link": orders.order_link(payment.order)})
            )
    return render(
        request,
        "commerce/store/pay.html",
        _ctx(request, payment=payment, amount=format_fen(payment.amount_fen), error=error),
        status=400 if error else 200,
    )


app_name = "store"
urlpatterns = [
    path("", store_home, name="home"),
    path("p/<str:listing>/", store_listing, name="listing"),
    path("cart/", store_cart, name="cart"),
    path("checkout/", store_checkout, name="checkout"),
    path("o/<str:order_link>/", store_order, name="order"),
    path("pay/<str:payment_ref>/", store_pay, name="pay"),
]
