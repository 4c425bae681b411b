"""Parcels down to the villages: carriers, parcels, append-only scan events, exceptions
for a person to resolve, and the SMS messages sent (pickup codes).

A parcel's ``state`` is a cached projection of its events, recomputed by
:func:`cunzhan.logistics.statemachine.derive_state` whenever an event arrives; the
events are the truth (docs/adr/0009-parcel-state-from-events.md).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from cunzhan.core.models import TimeStampedModel
from cunzhan.logistics import statemachine as sm


class Carrier(models.Model):
    """An express carrier: ZTO 中通, YTO 圆通, STO 申通, YUNDA 韵达, JT 极兔, EMS 邮政,
    JD 京东, SF 顺丰, or any other."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=60)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Direction(models.TextChoices):
    DOWN = "down", "下行"
    UP = "up", "上行"


class SizeClass(models.TextChoices):
    S = "S", "S"
    M = "M", "M"
    L = "L", "L"
    XL = "XL", "XL"


STATE_CHOICES = [(s, s) for s in sm.STATES]
EVENT_TYPE_CHOICES = [(t, t) for t in sm.EVENT_TYPES]


class Parcel(TimeStampedModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # no single-column index on carrier, village, station: the unique (carrier,
    # tracking_number) and the (village, stage) / (station, stage) indexes lead with them
    # (a change of stage writes every index of the row: docs/adr/0010-event-ingest.md)
    carrier = models.ForeignKey(
        Carrier, on_delete=models.PROTECT, related_name="parcels", db_index=False
    )
    tracking_number = models.CharField(max_length=40)
    direction = models.CharField(max_length=4, choices=Direction.choices, default=Direction.DOWN)
    recipient_name = models.CharField(max_length=80)
    recipient_phone = models.CharField(max_length=20)
    phone_last4 = models.CharField(max_length=4)
    village = models.ForeignKey(
        "network.Region", on_delete=models.PROTECT, related_name="parcels", db_index=False
    )
    station = models.ForeignKey(
        "network.Station",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="parcels",
        db_index=False,
    )
    weight_g = models.PositiveIntegerField()
    size_class = models.CharField(max_length=2, choices=SizeClass.choices, default=SizeClass.S)
    cod_fen = models.PositiveBigIntegerField(default=0)
    state = models.CharField(max_length=20, choices=STATE_CHOICES, blank=True)
    state_at = models.DateTimeField(null=True, blank=True)
    pickup_code = models.CharField(max_length=6, blank=True, default="")
    shelf_slot = models.CharField(max_length=12, blank=True, default="")
    # the order key (time, event id) of the parcel's last event other than announcements,
    # applied or not (None: none yet); lets the ingest apply later events to ``state``
    # without reading the history (docs/adr/0010-event-ingest.md)
    last_event_at = models.DateTimeField(null=True, blank=True)
    last_event_id = models.CharField(max_length=64, blank=True, default="")
    # computed by the database from ``state`` (``statemachine.STAGE_OF``); the indexes use
    # it instead of the state, so most state changes rewrite no index (a HOT update on
    # PostgreSQL; filter with ``in_states``, which adds it)
    stage = models.GeneratedField(
        expression=models.Case(
            *[
                models.When(
                    state__in=sorted(s for s, k in sm.STAGE_OF.items() if k == stage),
                    then=models.Value(stage),
                )
                for stage in (sm.WAITING, sm.RETURNING, sm.DONE)
            ],
            default=models.Value(sm.INBOUND),
        ),
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "tracking_number"], name="parcel_carrier_tracking_uniq"
            ),
            # a pickup code is unique among the parcels waiting at a station (the waiting
            # stage is the at_station state alone)
            models.UniqueConstraint(
                fields=["station", "pickup_code"],
                condition=Q(stage=sm.WAITING) & ~Q(pickup_code=""),
                name="parcel_waiting_pickup_code_uniq",
            ),
        ]
        # No index holds ``state`` itself (see ``stage``); plain b-trees (db_index on a
        # CharField adds a second, LIKE index on PostgreSQL, which no query uses).
        indexes = [
            models.Index(fields=["station", "stage"], name="parcel_station_stage_idx"),
            models.Index(fields=["village", "stage"], name="parcel_village_stage_idx"),
            # hand-out by the phone's last 4 digits, among the parcels waiting
            models.Index(
                fields=["station", "phone_last4"],
                condition=Q(stage=sm.WAITING),
                name="parcel_waiting_phone_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier_id}:{self.tracking_number}"


def in_states(*states: str, prefix: str = "") -> Q:
    """Parcels in one of ``states``, with their stage too: the indexes lead with the
    station or village and the stage, not the state. ``prefix``: the path to the parcel
    (``"parcel__"``)."""
    return Q(**{f"{prefix}state__in": states, f"{prefix}stage__in": sm.stages(*states)})


class ScanEvent(models.Model):
    """One scan, append-only. ``event_id`` is the sender's idempotency key."""

    # Three indexes only: the primary key, the unique event id and (parcel, time, id).
    # Every event of the bulk ingest writes each index of this table; no query looks
    # events up by region, station or actor, and the composite one serves the parcel
    # foreign key (docs/adr/0010-event-ingest.md). A UniqueConstraint, not unique=True:
    # on PostgreSQL the latter adds a second, LIKE index on the id.
    event_id = models.CharField(max_length=64)
    parcel = models.ForeignKey(
        Parcel, on_delete=models.PROTECT, related_name="events", db_index=False
    )
    type = models.CharField(max_length=20, choices=EVENT_TYPE_CHOICES)
    occurred_at = models.DateTimeField()
    region = models.ForeignKey(
        "network.Region",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    station = models.ForeignKey(
        "network.Station",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    device = models.CharField(max_length=60, blank=True, default="")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "event_id"]
        constraints = [models.UniqueConstraint(fields=["event_id"], name="scan_event_id_uniq")]
        indexes = [
            models.Index(fields=["parcel", "occurred_at", "event_id"], name="scan_parcel_time_idx")
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"


class ExceptionStatus(models.TextChoices):
    OPEN = "open", "待处理"
    RESOLVED = "resolved", "已处理"


class ParcelException(TimeStampedModel):
    """Something a person must look at: an unmatched parcel, an illegal transition."""

    class Problem(models.TextChoices):
        UNMATCHED = "unmatched", "无法匹配村站"
        ILLEGAL_TRANSITION = "illegal_transition", "非法状态变更"

    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="exceptions")
    event = models.ForeignKey(
        ScanEvent, null=True, blank=True, on_delete=models.CASCADE, related_name="exceptions"
    )
    problem = models.CharField(max_length=20, choices=Problem.choices)
    detail = models.CharField(max_length=300, blank=True)
    status = models.CharField(
        max_length=10, choices=ExceptionStatus.choices, default=ExceptionStatus.OPEN, db_index=True
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.parcel} {self.problem} ({self.status})"


class PickupFailure(TimeStampedModel):
    """A failed hand-out attempt at a station: a pickup code that matches no waiting
    parcel, or a phone and name that match none. The attempt limits count these rows in
    a sliding window, per station and per parcel (a phone's last four digits that match
    a waiting parcel but not its recipient's name count against that parcel): a table,
    so the limits hold across processes (docs/adr/0028)."""

    class Method(models.TextChoices):
        CODE = "code", "取件码"
        PHONE_NAME = "phone_name", "手机号与姓名"

    station = models.ForeignKey("network.Station", on_delete=models.CASCADE, related_name="+")
    parcel = models.ForeignKey(
        Parcel, null=True, blank=True, on_delete=models.CASCADE, related_name="pickup_failures"
    )
    method = models.CharField(max_length=12, choices=Method.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["station", "created_at"], name="pickupfail_station_at"),
            models.Index(fields=["parcel", "created_at"], name="pickupfail_parcel_at"),
        ]

    def __str__(self) -> str:
        return f"{self.station_id} {self.method} {self.created_at:%Y-%m-%d %H:%M}"


class SmsMessage(models.Model):
    """An SMS as sent by the default backend (console + this table)."""

    phone = models.CharField(max_length=20)
    text = models.CharField(max_length=300)
    parcel = models.ForeignKey(
        Parcel, null=True, blank=True, on_delete=models.SET_NULL, related_name="sms"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.phone}: {self.text}"


class CountyLogisticsSettings(models.Model):
    """A county's logistics rules. A county without a row uses the defaults below
    (:func:`cunzhan.logistics.selectors.county_settings`)."""

    county = models.OneToOneField(
        "network.Region", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    # the daily plan is built from what is at the centre / booked at this time
    cutoff = models.TimeField(default="07:00")
    # a waiting parcel: an SMS reminder after N days, sent back to the carrier after M
    reminder_days = models.PositiveSmallIntegerField(default=3)
    return_days = models.PositiveSmallIntegerField(default=7)
    # what a station is owed per parcel handled (integer fen)
    fee_down_fen = models.PositiveIntegerField(default=50)
    fee_up_fen = models.PositiveIntegerField(default=100)
    # road distance ≈ straight line × circuity_pct / 100, at speed_kmh (planning)
    circuity_pct = models.PositiveSmallIntegerField(default=140)
    speed_kmh = models.PositiveSmallIntegerField(default=35)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(reminder_days__gte=1) & Q(return_days__gt=models.F("reminder_days")),
                name="county_logistics_days_order",
            ),
            models.CheckConstraint(
                condition=Q(circuity_pct__gte=100) & Q(circuity_pct__lte=300),
                name="county_logistics_circuity_range",
            ),
            models.CheckConstraint(
                condition=Q(speed_kmh__gte=5) & Q(speed_kmh__lte=120),
                name="county_logistics_speed_range",
            ),
        ]

    def __str__(self) -> str:
        return f"logistics settings {self.county_id}"


class ShipmentState(models.TextChoices):
    BOOKED = "booked", "已预约"
    COLLECTED = "collected", "已揽收"
    AT_COUNTY = "at_county", "已到县中心"
    HANDED_OVER = "handed_over", "已交承运商"
    CANCELLED = "cancelled", "已取消"


class Shipment(TimeStampedModel):
    """Farm products (or anything a villager sends) going UP: booked at a village
    station for a producer, collected by the next run that visits the station, scanned
    in at the county centre and handed to the outbound carrier with its tracking
    number."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    station = models.ForeignKey(
        "network.Station", on_delete=models.PROTECT, related_name="shipments"
    )
    producer_name = models.CharField(max_length=80)
    producer_phone = models.CharField(max_length=20, blank=True, default="")
    contents = models.CharField(max_length=200)
    pieces = models.PositiveIntegerField()
    weight_g = models.PositiveIntegerField()
    destination = models.CharField(max_length=200)
    outbound_carrier = models.ForeignKey(
        Carrier, null=True, blank=True, on_delete=models.PROTECT, related_name="shipments"
    )
    outbound_tracking = models.CharField(max_length=40, blank=True, default="")
    state = models.CharField(
        max_length=12, choices=ShipmentState.choices, default=ShipmentState.BOOKED, db_index=True
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    collected_at = models.DateTimeField(null=True, blank=True)
    at_county_at = models.DateTimeField(null=True, blank=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["station", "state"], name="shipment_station_state_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(pieces__gte=1), name="shipment_pieces_positive"),
            models.CheckConstraint(condition=Q(weight_g__gte=1), name="shipment_weight_positive"),
            models.UniqueConstraint(
                fields=["outbound_carrier", "outbound_tracking"],
                condition=~Q(outbound_tracking=""),
                name="shipment_outbound_tracking_uniq",
            ),
        ]

    def __str__(self) -> str:
        return f"shipment {self.uuid} ({self.state})"


from cunzhan.logistics.plan_models import *  # noqa: E402, F403
from cunzhan.logistics.updown_models import *  # noqa: E402, F403
