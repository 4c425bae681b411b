"""Wholesale (docs/adr/0015-commerce-orders.md): institutional buyers recorded by the
county manager, and their purchase orders — large quantities with a delivery date,
filled from several producers' lots through the same allocation as every order
(``orders.order_place``, channel ``wholesale``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cunzhan.commerce import orders
from cunzhan.commerce.orders_models import Buyer, BuyerKind, Channel, Order
from cunzhan.core.audit import audit_record, snapshot
from cunzhan.core.errors import Conflict, NotFound, Unprocessable
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import clean_phone
from cunzhan.network.models import Level, Region

MAX_LEAD_DAYS = 366


def _county_in_scope(scope: RegionScope, county_code: str) -> Region:
    county = Region.objects.filter(code=str(county_code)[:12], level=Level.COUNTY).first()
    if county is None and scope.everything:
        raise Unprocessable(
            _("未知的县：%(c)s") % {"c": str(county_code)[:12]},
            code="unknown_county",
            details={"field": "county_code"},
        )
    if county is None or not scope.contains_code(county.code):
        raise NotFound()
    if not scope.everything and scope.station_ids is not None:
        raise NotFound()
    return county


@transaction.atomic
def buyer_create(
    *,
    scope: RegionScope,
    county_code: str,
    organisation: str,
    contact_name: str,
    contact_phone: str,
    address: str,
    kind: str = BuyerKind.OTHER,
    actor: Any = None,
) -> Buyer:
    county = _county_in_scope(scope, county_code)
    if kind not in BuyerKind.values:
        raise Unprocessable(
            _("未知的买方类型：%(k)s（可选：%(all)s）")
            % {"k": str(kind)[:20], "all": ", ".join(BuyerKind.values)},
            code="invalid_kind",
            details={"field": "kind"},
        )
    org = orders._text(organisation, field="organisation", max_len=120)
    if Buyer.objects.filter(county=county, organisation=org).exists():
        raise Conflict(
            _("本县已有该单位：%(o)s") % {"o": org},
            code="duplicate_buyer",
            details={"field": "organisation"},
        )
    buyer = Buyer.objects.create(
        county=county,
        kind=kind,
        organisation=org,
        contact_name=orders._text(contact_name, field="contact_name", max_len=80),
        contact_phone=clean_phone(contact_phone, field="contact_phone"),
        address=orders._text(address, field="address", max_len=200),
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    audit_record(
        action="create",
        object_type="commerce.Buyer",
        object_id=buyer.uuid,
        object_repr=str(buyer)[:200],
        region_code=county.code,
        before=None,
        after=snapshot(buyer),
        actor=actor if getattr(actor, "pk", None) else None,
    )
    return buyer


def purchase_order_place(
    *,
    scope: RegionScope,
    buyer: Buyer,
    lines: Iterable[Mapping[str, Any]],
    delivery_date: Any,
    note: str = "",
    currency: str = orders.CURRENCY,
    actor: Any = None,
) -> Order:
    """A purchase order of ``buyer`` (in scope) for delivery on ``delivery_date``
    (today or later, within a year)."""
    _county_in_scope(scope, buyer.county_id)
    if not buyer.active:
        raise Conflict(_("该买方已停用"), code="buyer_inactive")
    if isinstance(delivery_date, str):
        try:
            delivery_date = dt.date.fromisoformat(delivery_date)
        except ValueError:
            delivery_date = None
    today = timezone.localdate()
    if not isinstance(delivery_date, dt.date) or not (
        today <= delivery_date <= today + dt.timedelta(days=MAX_LEAD_DAYS)
    ):
        raise Unprocessable(
            _("交货日期须在今天（%(d)s）到一年之内") % {"d": today},
            code="invalid_date",
            details={"field": "delivery_date"},
        )
    return orders.order_place(
        channel=Channel.WHOLESALE,
        county_code=buyer.county_id,
        lines=lines,
        buyer_name=buyer.organisation,
        buyer_phone=buyer.contact_phone,
        address=buyer.address,
        currency=currency,
        note=note,
        buyer=buyer,
        delivery_date=delivery_date,
        actor=actor,
    )
