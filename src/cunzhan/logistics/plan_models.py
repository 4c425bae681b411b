"""The daily plan per county centre: vehicles, the stored plan (routes, stops and the
parcels/shipments that ride each stop) and the runs that carry it out (planned vs
actual). See docs/adr/0011-daily-plan.md."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cunzhan.core.models import TimeStampedModel

__all__ = [
    "DailyPlan",
    "PlanItem",
    "PlanRoute",
    "PlanStatus",
    "PlanStop",
    "Run",
    "RunStatus",
    "Vehicle",
]


class Vehicle(TimeStampedModel):
    """A van of a county centre. Capacities in kg and pieces (the plan's two load
    dimensions); costs in integer fen."""

    county = models.ForeignKey("network.Region", on_delete=models.PROTECT, related_name="+")
    depot = models.ForeignKey("network.Station", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=60)
    plate = models.CharField(max_length=20, blank=True, default="")
    capacity_kg = models.PositiveIntegerField()
    capacity_pieces = models.PositiveIntegerField()
    shift_start = models.TimeField(default="07:30")
    shift_end = models.TimeField(default="18:30")
    fixed_cost_fen = models.PositiveBigIntegerField(default=0)
    cost_per_km_fen = models.PositiveIntegerField(default=150)
    driver = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="vehicles",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["county_id", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["county", "name"], name="vehicle_county_name_uniq"),
            models.CheckConstraint(
                condition=Q(capacity_kg__gte=1) & Q(capacity_pieces__gte=1),
                name="vehicle_capacity_positive",
            ),
            models.CheckConstraint(
                condition=Q(shift_end__gt=models.F("shift_start")), name="vehicle_shift_order"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.plate}".strip()

    @property
    def cost_per_km_yuan(self) -> str:
        return f"{self.cost_per_km_fen / 100:.2f}"


class PlanStatus(models.TextChoices):
    PLANNED = "planned", _("已计划")
    IN_PROGRESS = "in_progress", _("执行中")
    DONE = "done", _("已完成")


class DailyPlan(TimeStampedModel):
    """One county's plan for one day, built from what was at the centre (drops) and
    waiting at the stations (pickups) at the cut-off."""

    county = models.ForeignKey("network.Region", on_delete=models.PROTECT, related_name="+")
    date = models.DateField()
    cutoff = models.DateTimeField()
    built_at = models.DateTimeField()
    built_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=12, choices=PlanStatus.choices, default=PlanStatus.PLANNED)
    time_limit_s = models.FloatField(default=0)
    solver_seconds = models.FloatField(default=0)
    distances = models.CharField(max_length=120, blank=True, default="")  # provider used
    total_metres = models.PositiveBigIntegerField(default=0)
    total_seconds = models.PositiveBigIntegerField(default=0)
    total_cost_fen = models.PositiveBigIntegerField(default=0)
    feasible = models.BooleanField(default=True)  # the independent checker's verdict
    violations = models.JSONField(default=list, blank=True)
    # [{station_id, station_code, station_name, reason, drop_pieces, pickup_pieces}]
    unserved = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-date", "county_id"]
        constraints = [
            models.UniqueConstraint(fields=["county", "date"], name="daily_plan_county_date_uniq")
        ]

    def __str__(self) -> str:
        return f"plan {self.county_id} {self.date}"

    @property
    def km(self) -> str:
        return f"{self.total_metres / 1000:.1f}"

    @property
    def yuan(self) -> str:
        return f"{self.total_cost_fen / 100:.2f}"


class PlanRoute(models.Model):
    plan = models.ForeignKey(DailyPlan, on_delete=models.CASCADE, related_name="routes")
    vehicle = models.ForeignKey(Vehicle, on_delete=models.PROTECT, related_name="routes")
    position = models.PositiveSmallIntegerField()
    metres = models.PositiveBigIntegerField()
    seconds = models.PositiveBigIntegerField()
    cost_fen = models.PositiveBigIntegerField()
    departs_at = models.DateTimeField()
    returns_at = models.DateTimeField()

    class Meta:
        ordering = ["plan_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "vehicle"], name="plan_route_vehicle_uniq")
        ]

    def __str__(self) -> str:
        return f"route {self.plan_id}/{self.position}"

    @property
    def yuan(self) -> str:
        return f"{self.cost_fen / 100:.2f}"


class PlanStop(models.Model):
    """A visit: what is dropped and picked up there (pieces and grams), and when."""

    route = models.ForeignKey(PlanRoute, on_delete=models.CASCADE, related_name="stops")
    position = models.PositiveSmallIntegerField()  # 1 = first stop after the depot
    station = models.ForeignKey("network.Station", on_delete=models.PROTECT, related_name="+")
    drop_pieces = models.PositiveIntegerField(default=0)
    drop_g = models.PositiveBigIntegerField(default=0)
    pickup_pieces = models.PositiveIntegerField(default=0)
    pickup_g = models.PositiveBigIntegerField(default=0)
    arrives_at = models.DateTimeField()
    departs_at = models.DateTimeField()
    # actuals (a run's visit)
    arrived_at = models.DateTimeField(null=True, blank=True)
    dropped = models.PositiveIntegerField(default=0)
    picked_shipments = models.PositiveIntegerField(default=0)
    picked_returns = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["route_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["route", "position"], name="plan_stop_position_uniq")
        ]

    def __str__(self) -> str:
        return f"stop {self.route_id}/{self.position}"

    @property
    def drop_kg(self) -> str:
        return f"{self.drop_g / 1000:.1f}"

    @property
    def pickup_kg(self) -> str:
        return f"{self.pickup_g / 1000:.1f}"


class PlanItem(models.Model):
    """A parcel or shipment riding a stop: ``drop`` (a parcel to the station),
    ``return`` (a parcel going back up) or ``shipment`` (a booked shipment going up).
    ``done_at``: when the driver scanned it (dropped / collected); ``loaded_at`` for
    drops loaded at the depot. ``planned`` is False for what the driver found at the
    station that was not in the plan."""

    class Kind(models.TextChoices):
        DROP = "drop", _("卸货")
        RETURN = "return", _("退件揽收")
        SHIPMENT = "shipment", _("上行揽收")

    stop = models.ForeignKey(PlanStop, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    parcel = models.ForeignKey(
        "logistics.Parcel", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    shipment = models.ForeignKey(
        "logistics.Shipment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    pieces = models.PositiveIntegerField(default=1)
    weight_g = models.PositiveIntegerField(default=0)
    planned = models.BooleanField(default=True)
    loaded_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["stop_id", "kind", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(parcel__isnull=False) & Q(shipment__isnull=True))
                | (Q(parcel__isnull=True) & Q(shipment__isnull=False)),
                name="plan_item_parcel_xor_shipment",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.parcel_id or self.shipment_id}"


class RunStatus(models.TextChoices):
    STARTED = "started", _("进行中")
    FINISHED = "finished", _("已完成")


class Run(models.Model):
    """The driving of one route: who, when, odometer readings (km)."""

    route = models.OneToOneField(PlanRoute, on_delete=models.CASCADE, related_name="run")
    driver = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.STARTED)
    started_at = models.DateTimeField()
    loaded_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    odometer_start_km = models.DecimalField(max_digits=9, decimal_places=1, null=True, blank=True)
    odometer_end_km = models.DecimalField(max_digits=9, decimal_places=1, null=True, blank=True)
    note = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"run {self.pk} of route {self.route_id}"
