"""The commerce catalogue: producers (a person, a household, a cooperative 合作社 and its
members), products with grade standards (grades in order, each a set of measurable
criteria), lots of produce with a traceability code, the lot's append-only events, the
gradings of a lot with their sample measurements, and price tiers per grade and county.

Quantities of a lot are whole units of the lot's unit (kg, 箱, 头 ...): ``quantity`` and
``quantity_available`` are integers; orders reserve against ``quantity_available``
(docs/adr/0014-commerce-catalogue.md). Money is integer fen.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cunzhan.core.models import TimeStampedModel


class ProducerKind(models.TextChoices):
    PERSON = "person", _("个人")
    HOUSEHOLD = "household", _("农户")
    COOPERATIVE = "cooperative", _("合作社")


class Producer(TimeStampedModel):
    """Someone who sells produce through a station. A person's or a household's name is
    personal data: it is never shown on public pages; a cooperative's name is public."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("类型"), max_length=12, choices=ProducerKind.choices)
    name = models.CharField(_("名称"), max_length=80)
    phone = models.CharField(_("电话"), max_length=20, blank=True, default="")
    station = models.ForeignKey(
        "network.Station", on_delete=models.PROTECT, related_name="producers"
    )
    # the station's village (or the household's): the region the producer is scoped by
    village = models.ForeignKey("network.Region", on_delete=models.PROTECT, related_name="+")
    household = models.ForeignKey(
        "registry.Household",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="producers",
    )
    # a cooperative's unified social credit code (统一社会信用代码), public by law
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True, default="")
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["station_id", "name", "id"]
        indexes = [models.Index(fields=["village", "kind"], name="producer_village_kind_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="household") | Q(household__isnull=False),
                name="producer_household_has_household",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


class ProducerMember(TimeStampedModel):
    """A member of a cooperative: a person (name, phone) or a registered household."""

    cooperative = models.ForeignKey(Producer, on_delete=models.CASCADE, related_name="members")
    name = models.CharField(_("姓名"), max_length=80, blank=True, default="")
    phone = models.CharField(_("电话"), max_length=20, blank=True, default="")
    household = models.ForeignKey(
        "registry.Household",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cooperative_memberships",
    )
    joined_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["cooperative_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(name="") | Q(household__isnull=False),
                name="producermember_person_or_household",
            ),
            models.UniqueConstraint(
                fields=["cooperative", "household"],
                condition=Q(household__isnull=False),
                name="producermember_household_once",
            ),
        ]

    def __str__(self) -> str:
        return f"member {self.pk} of {self.cooperative_id}"


class Unit(models.TextChoices):
    KG = "kg", _("千克")
    BOX = "box", _("箱")
    HEAD = "head", _("头")
    BAG = "bag", _("袋")
    PIECE = "piece", _("个")


class Product(TimeStampedModel):
    """A kind of produce (红心猕猴桃, 刺梨 ...); national reference data."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=60, unique=True)
    category = models.CharField(_("类别"), max_length=30, blank=True, default="")
    default_unit = models.CharField(_("默认单位"), max_length=8, choices=Unit.choices)
    description = models.CharField(_("说明"), max_length=300, blank=True, default="")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class GradeStandard(TimeStampedModel):
    """A product's grading standard (e.g. after a national or local standard). One is
    ``active`` per product at a time; older ones stay for the lots graded against them."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="standards")
    name = models.CharField(_("名称"), max_length=120)
    reference = models.CharField(_("依据"), max_length=120, blank=True, default="")
    valid_from = models.DateField(_("生效日期"))
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["product_id", "-valid_from", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product"], condition=Q(active=True), name="gradestandard_one_active"
            )
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.name}"


class Grade(TimeStampedModel):
    """A grade of a standard; ``rank`` 1 is the highest (特级), then 2 (一级) ..."""

    standard = models.ForeignKey(GradeStandard, on_delete=models.CASCADE, related_name="grades")
    rank = models.PositiveSmallIntegerField()
    code = models.SlugField(max_length=20)
    name = models.CharField(_("名称"), max_length=30)

    class Meta:
        ordering = ["standard_id", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["standard", "rank"], name="grade_standard_rank"),
            models.UniqueConstraint(fields=["standard", "code"], name="grade_standard_code"),
            models.CheckConstraint(condition=Q(rank__gte=1), name="grade_rank_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class Aggregation(models.TextChoices):
    """How a criterion reads a lot's samples (cunzhan.commerce.grading)."""

    EACH = "each", _("每个样品")
    MEAN = "mean", _("平均值")
    MAX = "max", _("最大值")
    MIN = "min", _("最小值")


class Criterion(TimeStampedModel):
    """One measurable condition of a grade: ``quantity`` (a key of
    ``grading.QUANTITIES``: weight_g, diameter_mm, brix, defect_pct, moisture_pct ...)
    aggregated over the samples by ``aggregation`` must lie in [min_value, max_value]
    (either bound may be open)."""

    grade = models.ForeignKey(Grade, on_delete=models.CASCADE, related_name="criteria")
    quantity = models.CharField(max_length=30)
    aggregation = models.CharField(max_length=8, choices=Aggregation.choices)
    min_value = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    max_value = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)

    class Meta:
        ordering = ["grade_id", "quantity", "id"]
        constraints = [
            models.UniqueConstraint(fields=["grade", "quantity"], name="criterion_grade_quantity"),
            models.CheckConstraint(
                condition=Q(min_value__isnull=False) | Q(max_value__isnull=False),
                name="criterion_has_a_bound",
            ),
            models.CheckConstraint(
                condition=Q(min_value__isnull=True)
                | Q(max_value__isnull=True)
                | Q(min_value__lte=models.F("max_value")),
                name="criterion_min_le_max",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} {self.aggregation} [{self.min_value}, {self.max_value}]"


class LotStatus(models.TextChoices):
    HARVESTED = "harvested", _("待分级")
    GRADED = "graded", _("已分级")
    REJECTED = "rejected", _("未达等级")
    PACKED = "packed", _("已包装")
    SHIPPED = "shipped", _("已发运")


class Lot(TimeStampedModel):
    """A lot of one product from one producer, harvested on one day, at one station.

    ``code`` is the public traceability code (10 Crockford base32 characters, random);
    ``quantity`` and ``quantity_available`` are whole units of ``unit``."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    code = models.CharField(max_length=16, unique=True)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lots")
    producer = models.ForeignKey(Producer, on_delete=models.PROTECT, related_name="lots")
    station = models.ForeignKey("network.Station", on_delete=models.PROTECT, related_name="lots")
    village = models.ForeignKey("network.Region", on_delete=models.PROTECT, related_name="+")
    harvest_date = models.DateField(_("采收日期"))
    standard = models.ForeignKey(
        GradeStandard, null=True, blank=True, on_delete=models.PROTECT, related_name="lots"
    )
    grade = models.ForeignKey(
        Grade, null=True, blank=True, on_delete=models.PROTECT, related_name="lots"
    )
    status = models.CharField(
        max_length=12, choices=LotStatus.choices, default=LotStatus.HARVESTED, db_index=True
    )
    unit = models.CharField(_("单位"), max_length=8, choices=Unit.choices)
    quantity = models.PositiveIntegerField(_("数量"))
    quantity_available = models.PositiveIntegerField(_("可售数量"))
    shipment = models.ForeignKey(
        "logistics.Shipment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lots",
    )
    note = models.CharField(_("备注"), max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-harvest_date", "-id"]
        indexes = [
            models.Index(fields=["village", "status"], name="lot_village_status_idx"),
            models.Index(fields=["product", "grade", "harvest_date"], name="lot_product_grade_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="lot_quantity_positive"),
            models.CheckConstraint(
                condition=Q(quantity_available__lte=models.F("quantity")),
                name="lot_available_le_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"lot {self.code}"


class LotEventType(models.TextChoices):
    HARVESTED = "harvested", _("采收")
    GRADED = "graded", _("分级")
    PACKED = "packed", _("包装")
    PICKED_UP = "picked_up", _("村站揽收")
    AT_COUNTY = "at_county", _("到达县级服务中心")
    HANDED_OVER = "handed_over", _("交付承运商")
    DELIVERED = "delivered", _("已送达")


class LotEvent(models.Model):
    """One step of a lot's story, append-only. Harvest, grading and packing are recorded
    by commerce; pickup, county centre and carrier are copied from the lot's logistics
    shipment (``source="shipment"``, once per ``source_ref``); delivery comes from
    orders. ``details`` never holds personal data: it is shown on the public page."""

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=16, choices=LotEventType.choices)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    # where it happened: a region code (village, county) for the public story
    region = models.ForeignKey(
        "network.Region", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(max_length=12, default="commerce")
    # what the event was copied from, e.g. "shipment:<uuid>" or "order:<id>"; "" for own
    source_ref = models.CharField(max_length=80, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["lot_id", "occurred_at", "id"]
        indexes = [models.Index(fields=["lot", "occurred_at"], name="lotevent_lot_time_idx")]
        constraints = [
            # harvested once per lot; an event copied from elsewhere (a shipment's step,
            # an order's delivery) once per (lot, type, source_ref)
            models.UniqueConstraint(
                fields=["lot"], condition=Q(type="harvested"), name="lotevent_harvested_once"
            ),
            models.UniqueConstraint(
                fields=["lot", "type", "source_ref"],
                condition=~Q(source_ref=""),
                name="lotevent_source_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lot_id} {self.type} {self.occurred_at:%Y-%m-%d %H:%M}"


class LotGrading(TimeStampedModel):
    """One grading of a lot against a standard: the samples measured, the grade found
    (or none: rejected, with ``failures`` per grade)."""

    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="gradings")
    standard = models.ForeignKey(GradeStandard, on_delete=models.PROTECT, related_name="+")
    grade = models.ForeignKey(
        Grade, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sample_count = models.PositiveSmallIntegerField()
    failures = models.JSONField(default=list, blank=True)
    graded_at = models.DateTimeField()
    graded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["lot_id", "-graded_at", "-id"]

    def __str__(self) -> str:
        return f"grading {self.pk} of {self.lot_id}"

    @property
    def failures_display(self) -> list[dict]:
        """``failures`` with each criterion's aggregation as a translated label."""
        labels = dict(Aggregation.choices)
        return [
            {
                **f,
                "failed": [
                    {**c, "aggregation_label": str(labels.get(c.get("aggregation"), ""))}
                    for c in f.get("failed", [])
                ],
            }
            for f in self.failures or []
        ]


class SampleMeasurement(models.Model):
    """One measured value of one sample (``sample_no`` from 1) in a grading."""

    grading = models.ForeignKey(LotGrading, on_delete=models.CASCADE, related_name="measurements")
    sample_no = models.PositiveSmallIntegerField()
    quantity = models.CharField(max_length=30)
    value = models.DecimalField(max_digits=12, decimal_places=3)

    class Meta:
        ordering = ["grading_id", "sample_no", "quantity"]
        constraints = [
            models.UniqueConstraint(
                fields=["grading", "sample_no", "quantity"], name="measurement_once"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.sample_no} {self.quantity}={self.value}"


class PriceTier(TimeStampedModel):
    """The price of a grade in a county from ``valid_from`` on, integer fen per unit.
    The tier in force is the latest with ``valid_from`` <= now; the channels (storefront,
    feeds) read it through ``selectors.price_tier_current`` / ``price_list_published``."""

    grade = models.ForeignKey(Grade, on_delete=models.PROTECT, related_name="price_tiers")
    county = models.ForeignKey("network.Region", on_delete=models.PROTECT, related_name="+")
    unit = models.CharField(_("单位"), max_length=8, choices=Unit.choices)
    price_fen = models.PositiveBigIntegerField(_("单价(分)"))
    valid_from = models.DateTimeField(_("生效时间"))
    published = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["county_id", "grade_id", "-valid_from", "-id"]
        indexes = [
            models.Index(fields=["county", "grade", "valid_from"], name="pricetier_lookup_idx")
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price_fen__gte=1), name="pricetier_price_positive"),
            models.UniqueConstraint(
                fields=["grade", "county", "unit", "valid_from"], name="pricetier_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.grade_id} {self.county_id} {self.price_fen} fen/{self.unit}"


# assisted purchase (代购, docs/adr/0016-assisted-purchase.md): its own module
from cunzhan.commerce.assisted_models import (  # noqa: E402, F401
    AssistedLimits,
    AssistedPurchase,
    AssistedStatus,
    ReviewState,
    Shop,
)

# orders, payments (docs/adr/0015-commerce-orders.md): their own module, registered here
from cunzhan.commerce.orders_models import (  # noqa: E402, F401
    Buyer,
    BuyerKind,
    Channel,
    Order,
    OrderAllocation,
    OrderLine,
    OrderShipment,
    OrderState,
    Payment,
    PaymentEvent,
    PaymentStatus,
)
