"""Every read of commerce orders and the storefront.

Orders are scoped by their county (county managers, auditors; a station operator sees
none). The storefront's listings are public: one per (county, grade) with stock in a
graded or packed lot and a published price — no producer names, no personal data.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Substr

from cunzhan.commerce import selectors
from cunzhan.commerce.models import Grade, Lot, PriceTier, Product
from cunzhan.commerce.orders import SELLABLE
from cunzhan.commerce.orders_models import Buyer, Order, OrderState, Payment
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import RegionScope, prefix_q
from cunzhan.core.validation import is_ascii_digits
from cunzhan.network.models import Level, Region


def orders_in_scope(*, scope: RegionScope) -> QuerySet[Order]:
    if not scope.everything and scope.station_ids is not None:
        return Order.objects.none()
    return Order.objects.filter(scope.q("county_id"))


def order_list(*, scope: RegionScope, state: str = "", channel: str = "") -> QuerySet[Order]:
    qs = orders_in_scope(scope=scope).select_related("county")
    if state:
        qs = qs.filter(state=state)
    if channel:
        qs = qs.filter(channel=channel)
    return qs.order_by("-created_at", "-id")


def order_get(*, scope: RegionScope, order_id: Any) -> Order:
    try:
        key = uuid.UUID(str(order_id))
    except ValueError as exc:
        raise NotFound() from exc
    order = orders_in_scope(scope=scope).filter(uuid=key).select_related("county").first()
    if order is None:
        raise NotFound()
    return order


def order_by_link(*, link: str) -> Order:
    """The public status link ``<number>-<token>``: both must match."""
    number, _sep, token = str(link).partition("-")
    order = Order.objects.filter(number=number[:20]).select_related("county").first()
    if order is None or not token or token != order.access_token:
        raise NotFound()
    return order


def order_lines(*, order: Order) -> list[Any]:
    return list(order.lines.select_related("product", "grade").prefetch_related("allocations__lot"))


def payment_by_ref(*, provider_ref: str) -> Payment:
    payment = (
        Payment.objects.filter(provider_ref=str(provider_ref)[:64]).select_related("order").first()
    )
    if payment is None:
        raise NotFound()
    return payment


@dataclass(frozen=True)
class Listing:
    county: Region
    product: Product
    grade: Grade
    tier: PriceTier
    available: int

    @property
    def key(self) -> str:
        return f"{self.county.code}-{self.grade.pk}"


def listings(*, county: str = "", product: str = "", grade: str = "") -> list[Listing]:
    """What the storefront sells: stock per (county, grade) with a price in force."""
    qs = Lot.objects.filter(status__in=SELLABLE, quantity_available__gt=0, grade__isnull=False)
    if county:
        county = str(county)[:6]
        if not is_ascii_digits(county):
            return []
        qs = qs.filter(prefix_q("village_id", county))
    if product:
        qs = qs.filter(product__code=str(product)[:40])
    if grade:
        qs = qs.filter(grade__code=str(grade)[:20])
    rows = (
        qs.annotate(county_code=Substr("village_id", 1, 6))
        .values("county_code", "grade_id")
        .annotate(available=Sum("quantity_available"))
        .order_by("county_code", "grade_id")[:500]
    )
    grades = {
        g.pk: g
        for g in Grade.objects.filter(pk__in={r["grade_id"] for r in rows}).select_related(
            "standard__product"
        )
    }
    counties = Region.objects.in_bulk({r["county_code"] for r in rows}, field_name="code")
    out = []
    for r in rows:
        g = grades[r["grade_id"]]
        c = counties.get(r["county_code"])
        if c is None:
            continue
        tier = selectors.price_tier_current(grade=g, county_code=c.code)
        if tier is None:
            continue
        out.append(Listing(c, g.standard.product, g, tier, int(r["available"] or 0)))
    out.sort(key=lambda x: (x.product.code, x.county.code, x.grade.rank))
    return out


def listing_get(*, key: str) -> Listing:
    """One listing by ``<county code>-<grade id>`` (none: NotFound)."""
    county, _sep, grade_id = str(key).partition("-")
    if not is_ascii_digits(grade_id) or len(grade_id) > 10:
        raise NotFound()
    grade = Grade.objects.filter(pk=int(grade_id)).select_related("standard__product").first()
    region = Region.objects.filter(code=county[:12], level=Level.COUNTY).first()
    if grade is None or region is None:
        raise NotFound()
    for listing in listings(county=region.code, grade=grade.code):
        if listing.grade.pk == grade.pk:
            return listing
    raise NotFound()


def listing_counties() -> list[Region]:
    codes = (
        Lot.objects.filter(status__in=SELLABLE, quantity_available__gt=0)
        .annotate(c=Substr("village_id", 1, 6))
        .values_list("c", flat=True)
        .distinct()
    )
    return list(Region.objects.filter(code__in=list(codes)[:200], level=Level.COUNTY))


def open_orders_q() -> Q:
    return Q(state__in=[OrderState.PENDING_PAYMENT, OrderState.PAID, OrderState.SHIPPED])


def buyers_in_scope(*, scope: RegionScope) -> QuerySet[Buyer]:
    if not scope.everything and scope.station_ids is not None:
        return Buyer.objects.none()
    return Buyer.objects.filter(scope.q("county_id"))


def buyer_list(*, scope: RegionScope) -> QuerySet[Buyer]:
    return (
        buyers_in_scope(scope=scope).select_related("county").order_by("county_id", "organisation")
    )


def buyer_get(*, scope: RegionScope, buyer_id: Any) -> Buyer:
    try:
        key = uuid.UUID(str(buyer_id))
    except ValueError as exc:
        raise NotFound() from exc
    buyer = buyers_in_scope(scope=scope).filter(uuid=key).select_related("county").first()
    if buyer is None:
        raise NotFound()
    return buyer


SOLD_STATES = (
    OrderState.PAID,
    OrderState.FULFILLING,
    OrderState.SHIPPED,
    OrderState.DELIVERED,
    OrderState.RETURNED,
)


def sales_report(*, scope: RegionScope, month: str = "") -> list[dict[str, Any]]:
    """Sales (units × the order's unit price, fen) of the paid, not cancelled orders in
    the caller's counties, by month (of payment, Asia/Shanghai), county, village of the
    lot and product; ``poor_fen`` is the part sold by producers who are registered-poor
    households (建档立卡户: a registry household with a poverty registration, exited or
    not) and ``poor_share`` its share. ``month`` ``YYYY-MM`` narrows it."""
    from zoneinfo import ZoneInfo

    from django.db.models import Case, F, IntegerField, When
    from django.db.models.functions import TruncMonth

    from cunzhan.commerce.orders_models import OrderAllocation

    orders = orders_in_scope(scope=scope).filter(state__in=SOLD_STATES, paid_at__isnull=False)
    qs = OrderAllocation.objects.filter(line__order__in=orders, released=False)
    if month:
        try:
            y, m = (int(x) for x in month.split("-"))
            start = dt.datetime(y, m, 1, tzinfo=ZoneInfo("Asia/Shanghai"))
        except ValueError as exc:
            raise ApplicationError(
                "month: YYYY-MM", code="invalid_month", details={"field": "month"}
            ) from exc
        end = (start + dt.timedelta(days=32)).replace(day=1)
        qs = qs.filter(line__order__paid_at__gte=start, line__order__paid_at__lt=end)
    amount = F("quantity") * F("line__unit_price_fen")
    rows = (
        qs.annotate(
            month=TruncMonth("line__order__paid_at", tzinfo=ZoneInfo("Asia/Shanghai")),
        )
        .values(
            "month",
            "line__order__county_id",
            "line__order__county__name",
            "lot__village_id",
            "lot__village__name",
            "line__product__code",
            "line__product__name",
        )
        .annotate(
            total_fen=Sum(amount),
            units=Sum("quantity"),
            poor_fen=Sum(
                Case(
                    When(
                        lot__producer__household__poverty_registration__isnull=False,
                        then=amount,
                    ),
                    default=0,
                    output_field=IntegerField(),
                )
            ),
        )
        .order_by("month", "line__order__county_id", "lot__village_id", "line__product__code")
    )
    return [
        {
            "month": r["month"].strftime("%Y-%m") if r["month"] else "",
            "county_code": r["line__order__county_id"],
            "county_name": r["line__order__county__name"],
            "village_code": r["lot__village_id"],
            "village_name": r["lot__village__name"],
            "product": r["line__product__code"],
            "product_name": r["line__product__name"],
            "quantity": int(r["units"] or 0),
            "total_fen": int(r["total_fen"] or 0),
            "poor_fen": int(r["poor_fen"] or 0),
            "poor_share": round((r["poor_fen"] or 0) / r["total_fen"], 4)
            if r["total_fen"]
            else 0.0,
        }
        for r in rows[:2000]
    ]
