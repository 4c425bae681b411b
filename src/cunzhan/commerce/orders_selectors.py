"""Every read of commerce orders and the storefront.

Orders are scoped by their county (county managers, auditors; a station operator sees
none). The storefront's listings are public: one per (county, grade) with stock in a
graded or packed lot and a published price — no producer names, no personal data.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Substr

from cunzhan.commerce import selectors
from cunzhan.commerce.models import Grade, Lot, PriceTier, Product
from cunzhan.commerce.orders import SELLABLE
from cunzhan.commerce.orders_models import Order, OrderState, Payment
from cunzhan.core.errors import NotFound
from cunzhan.core.scope import RegionScope, prefix_q
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
        if not county.isdigit():
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
    if not grade_id.isdigit() or len(grade_id) > 10:
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
