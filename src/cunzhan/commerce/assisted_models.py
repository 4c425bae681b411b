"""Assisted purchase (代购): a station operator orders something from an outside shop for
a villager; the inbound parcel is linked when it arrives at the station, and the
station's commission accrues in the ledger when the villager picks it up
(docs/adr/0016-assisted-purchase.md).

The villager's name and phone are personal data: lists and the API show the name and a
masked phone (``138****1234``), like the logistics recipient data. The full phone is
kept only to match the inbound parcel at the same station.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cunzhan.core.models import TimeStampedModel
from cunzhan.core.money import format_fen


class Shop(models.TextChoices):
    TAOBAO = "taobao", _("淘宝")
    PINDUODUO = "pinduoduo", _("拼多多")
    JD = "jd", _("京东")
    ALI1688 = "1688", _("1688")
    OTHER = "other", _("其他")


class AssistedStatus(models.TextChoices):
    RECORDED = "recorded", _("已登记")
    ORDERED = "ordered", _("已下单")
    ARRIVED = "arrived", _("包裹已到站")
    PICKED_UP = "picked_up", _("已取件")
    CANCELLED = "cancelled", _("已取消")
    # the parcel went back (refused, unclaimed, lost): no commission
    RETURNED = "returned", _("包裹已退回")


class ReviewState(models.TextChoices):
    """A purchase above the county's review threshold waits for a county reviewer (not
    the person who recorded it) before its commission may accrue."""

    NONE = "none", _("无需审核")
    PENDING = "pending", _("待县级审核")
    APPROVED = "approved", _("审核通过")
    REJECTED = "rejected", _("审核驳回")


# statuses in which the inbound parcel may still be linked
LINKABLE = (AssistedStatus.RECORDED, AssistedStatus.ORDERED)


class AssistedPurchase(TimeStampedModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    station = models.ForeignKey(
        "network.Station", on_delete=models.PROTECT, related_name="assisted_purchases"
    )
    # the station's village: the region the purchase is scoped by
    village = models.ForeignKey("network.Region", on_delete=models.PROTECT, related_name="+")
    villager_name = models.CharField(_("村民姓名"), max_length=80)
    villager_phone = models.CharField(_("村民电话"), max_length=20)
    phone_last4 = models.CharField(max_length=4)
    item = models.CharField(_("商品"), max_length=200)
    price_fen = models.BigIntegerField(_("价格（分）"))
    shop = models.CharField(_("店铺平台"), max_length=12, choices=Shop.choices)
    shop_order_no = models.CharField(_("店铺订单号"), max_length=64, blank=True, default="")
    # the carrier's tracking number the shop gives (entered by the operator)
    tracking_number = models.CharField(_("快递单号"), max_length=40, blank=True, default="")
    # when the tracking number was entered (server time): a parcel announced after it and
    # handed out before the next sweep is still this purchase's delivery
    tracking_at = models.DateTimeField(null=True, blank=True)
    # the county's assisted-purchase rate when recorded (shown); the ledger posts the
    # rate in force at pickup, recorded in ``commission_fen``
    commission_bp = models.PositiveIntegerField(_("佣金比例（基点）"))
    status = models.CharField(
        max_length=12, choices=AssistedStatus.choices, default=AssistedStatus.RECORDED
    )
    parcel = models.ForeignKey(
        "logistics.Parcel",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    linked_by = models.CharField(max_length=12, blank=True, default="")  # tracking|phone|pick
    ordered_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    picked_up_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    commission_fen = models.BigIntegerField(null=True, blank=True)
    commission_txn = models.UUIDField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    review_state = models.CharField(
        _("审核"), max_length=10, choices=ReviewState.choices, default=ReviewState.NONE
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=200, blank=True, default="")
    # why a completed purchase earned nothing (returned parcel, rejected, facts failed)
    no_commission_reason = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["station", "status"], name="assisted_station_status_idx"),
            models.Index(fields=["village", "status"], name="assisted_village_status_idx"),
            models.Index(
                fields=["review_state", "village"],
                condition=Q(review_state="pending"),
                name="assisted_review_pending_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price_fen__gt=0), name="assisted_price_positive"),
            # a parcel belongs to at most one purchase
            models.UniqueConstraint(
                fields=["parcel"],
                condition=Q(parcel__isnull=False),
                name="assisted_parcel_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"代购 {self.item[:40]} ({self.status})"

    @property
    def idempotency_key(self) -> str:
        """The ledger key of this purchase's commission: posted once, whoever sweeps."""
        return f"assisted:{self.uuid}"

    @property
    def phone_masked(self) -> str:
        p = self.villager_phone
        return f"{p[:3]}****{p[-4:]}" if len(p) >= 7 else "*" * len(p)

    @property
    def price_display(self) -> str:
        return format_fen(self.price_fen)

    @property
    def commission_display(self) -> str:
        return format_fen(self.commission_fen) if self.commission_fen is not None else ""


# defaults of a county without its own limits (ADR 0016, addendum): a village
# assisted purchase is household goods, farm inputs, a phone — not a car
DEFAULT_MAX_PRICE_FEN = 3_000_00
DEFAULT_REVIEW_ABOVE_FEN = 800_00


class AssistedLimits(TimeStampedModel):
    """A county's limits on one assisted purchase: the most it may cost (over all
    shops, and per shop platform where the county sets one), and the amount above which
    the county reviews it before any commission accrues. A county without a row uses
    the defaults."""

    county = models.OneToOneField(
        "network.Region", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    max_price_fen = models.BigIntegerField(default=DEFAULT_MAX_PRICE_FEN)
    review_above_fen = models.BigIntegerField(default=DEFAULT_REVIEW_ABOVE_FEN)
    # shop platform -> the most one purchase there may cost (fen), where the county knows
    shop_max_fen = models.JSONField(default=dict, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["county_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_price_fen__gt=0)
                & Q(review_above_fen__gte=0)
                & Q(review_above_fen__lte=models.F("max_price_fen")),
                name="assisted_limits_range",
            ),
        ]

    def __str__(self) -> str:
        return f"assisted limits {self.county_id}"
