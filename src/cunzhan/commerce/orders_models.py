"""Commerce orders (docs/adr/0015-commerce-orders.md): an order of one county's produce
from one channel (storefront, wholesale, marketplace), its lines (product + grade +
quantity at the price tier in force when the order was placed), the lots each line is
allocated to (stock reserved by decrementing ``Lot.quantity_available``), and the
payments through a provider with the provider's webhook events (one row per provider
event id: a replay is recognised).

Money is integer fen, currency CNY; quantities are whole units of the lot's unit.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cunzhan.core.models import TimeStampedModel


class Channel(models.TextChoices):
    STOREFRONT = "storefront", _("网店")
    WHOLESALE = "wholesale", _("批发")
    MARKETPLACE = "marketplace", _("电商平台")


class OrderState(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("待付款")
    PAID = "paid", _("已付款")
    FULFILLING = "fulfilling", _("备货发运中")
    SHIPPED = "shipped", _("已发货")
    DELIVERED = "delivered", _("已送达")
    CANCELLED = "cancelled", _("已取消")
    RETURNED = "returned", _("已退货")
    REFUNDED = "refunded", _("已退款")
    EXPIRED = "expired", _("超时未付款已关闭")


class BuyerKind(models.TextChoices):
    SCHOOL = "school", _("学校食堂")
    HOSPITAL = "hospital", _("医院")
    GOVERNMENT = "government", _("机关单位")
    ENTERPRISE = "enterprise", _("企业")
    SUPERMARKET = "supermarket", _("商超")
    OTHER = "other", _("其他")


class Buyer(TimeStampedModel):
    """An institutional buyer (school canteen, hospital, company ...) recorded by the
    county manager; its wholesale purchase orders are orders of that county. The
    organisation's name is not personal; the contact's name and phone are."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    county = models.ForeignKey("network.Region", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=BuyerKind.choices, default=BuyerKind.OTHER)
    organisation = models.CharField(_("单位名称"), max_length=120)
    contact_name = models.CharField(_("联系人"), max_length=80)
    contact_phone = models.CharField(_("联系电话"), max_length=20)
    address = models.CharField(_("收货地址"), max_length=200)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["county_id", "organisation", "id"]
        constraints = [
            models.UniqueConstraint(fields=["county", "organisation"], name="buyer_county_org")
        ]

    def __str__(self) -> str:
        return self.organisation


class Order(TimeStampedModel):
    """An order of produce from one county. The buyer's name, phone and address are
    personal data: masked outside the county's staff pages, never on public pages.
    ``access_token`` is the secret of the order's status link (storefront)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    number = models.CharField(max_length=20, unique=True)
    access_token = models.CharField(max_length=40)
    channel = models.CharField(max_length=12, choices=Channel.choices)
    county = models.ForeignKey("network.Region", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(
        max_length=16,
        choices=OrderState.choices,
        default=OrderState.PENDING_PAYMENT,
        db_index=True,
    )
    buyer_name = models.CharField(_("收货人"), max_length=80)
    buyer_phone = models.CharField(_("电话"), max_length=20)
    address = models.CharField(_("收货地址"), max_length=200)
    currency = models.CharField(max_length=3, default="CNY")
    total_fen = models.PositiveBigIntegerField(default=0)
    paid_fen = models.PositiveBigIntegerField(default=0)
    refunded_fen = models.PositiveBigIntegerField(default=0)
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # an unpaid order holds its stock until then (settings.ORDER_UNPAID_TTL_MINUTES),
    # then it expires and the stock goes back to the lots (orders.orders_expire_overdue)
    expires_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True, default="")
    # wholesale: the institutional buyer and the agreed delivery date
    buyer = models.ForeignKey(
        Buyer, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    delivery_date = models.DateField(_("交货日期"), null=True, blank=True)
    # marketplace: which one, and its order id there (an import replayed finds the order)
    marketplace = models.CharField(max_length=20, blank=True, default="")
    external_ref = models.CharField(max_length=64, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["county", "state"], name="order_county_state_idx"),
            models.Index(fields=["state", "expires_at"], name="order_state_expiry_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(currency="CNY"), name="order_currency_cny"),
            models.CheckConstraint(
                condition=Q(refunded_fen__lte=models.F("paid_fen")),
                name="order_refund_le_paid",
            ),
            models.UniqueConstraint(
                fields=["marketplace", "external_ref"],
                condition=~Q(external_ref=""),
                name="order_marketplace_ref_once",
            ),
        ]

    def __str__(self) -> str:
        return f"order {self.number}"

    @property
    def buyer_key(self) -> str:
        """The opaque key of the buyer's ledger account (one per order)."""
        return f"order:{self.uuid}"


class OrderLine(TimeStampedModel):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("commerce.Product", on_delete=models.PROTECT, related_name="+")
    grade = models.ForeignKey("commerce.Grade", on_delete=models.PROTECT, related_name="+")
    price_tier = models.ForeignKey(
        "commerce.PriceTier", on_delete=models.PROTECT, related_name="order_lines"
    )
    unit = models.CharField(max_length=8)
    quantity = models.PositiveIntegerField()
    unit_price_fen = models.PositiveBigIntegerField()
    total_fen = models.PositiveBigIntegerField()

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orderline_quantity_pos"),
            models.CheckConstraint(
                condition=Q(total_fen=models.F("quantity") * models.F("unit_price_fen")),
                name="orderline_total",
            ),
        ]

    def __str__(self) -> str:
        return f"line {self.pk} of {self.order_id}"


class OrderAllocation(TimeStampedModel):
    """``quantity`` units of ``line`` reserved from ``lot`` (oldest harvest first).
    ``released`` once the order is cancelled (the units went back to the lot)."""

    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="allocations")
    lot = models.ForeignKey("commerce.Lot", on_delete=models.PROTECT, related_name="allocations")
    quantity = models.PositiveIntegerField()
    released = models.BooleanField(default=False)
    # the ledger sale of this allocation, once delivered
    settled_key = models.CharField(max_length=200, blank=True, default="")
    # how much of this allocation's sale was refunded by returns
    refunded_fen = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["line_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="orderalloc_quantity_pos"),
            models.UniqueConstraint(fields=["line", "lot"], name="orderalloc_line_lot_once"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of lot {self.lot_id} for line {self.line_id}"


class OrderShipment(TimeStampedModel):
    """An upward logistics shipment booked for an order: one per station whose lots the
    order takes (``orders.order_fulfil``)."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    shipment = models.OneToOneField(
        "logistics.Shipment", on_delete=models.PROTECT, related_name="order_link"
    )
    station = models.ForeignKey("network.Station", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["order_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "station"], name="ordershipment_once")
        ]

    def __str__(self) -> str:
        return f"shipment {self.shipment_id} of {self.order_id}"


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("待支付")
    PAID = "paid", _("已支付")
    CANCELLED = "cancelled", _("已取消")


class Payment(TimeStampedModel):
    """A payment of an order with a provider; ``provider_ref`` is our reference at the
    provider (the sandbox pay page's URL carries it)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=20)
    provider_ref = models.CharField(max_length=64, unique=True)
    amount_fen = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3, default="CNY")
    status = models.CharField(
        max_length=12, choices=PaymentStatus.choices, default=PaymentStatus.CREATED
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    # the ledger payment transaction's idempotency key
    ledger_key = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(currency="CNY"), name="payment_currency_cny"),
            models.CheckConstraint(condition=Q(amount_fen__gte=1), name="payment_amount_pos"),
        ]

    def __str__(self) -> str:
        return f"payment {self.provider_ref}"

    @property
    def ledger_idempotency_key(self) -> str:
        return f"payment:{self.uuid}"


class PaymentEvent(models.Model):
    """A provider's webhook event, stored once per (provider, event id): a replay finds
    it and changes nothing."""

    provider = models.CharField(max_length=20)
    event_id = models.CharField(max_length=64)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=30)
    body = models.JSONField(default=dict)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="paymentevent_once")
        ]

    def __str__(self) -> str:
        return f"{self.provider} event {self.event_id}"
