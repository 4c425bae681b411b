"""Models of the up-and-down slice (docs/adr/0012-returns-fees-shipments.md): the fees a
station is owed for the parcels and shipments it handles, and the reminders sent for
parcels that wait too long. Imported at the end of ``logistics/models.py``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

__all__ = ["FeeStatus", "ParcelReminder", "StationFee"]


class FeeStatus(models.TextChoices):
    OWED = "owed", "应付"
    POSTED = "posted", "已入账"


class StationFee(models.Model):
    """An amount the network owes a station: ``down`` for a parcel that left the
    station's hands (handed out, or collected back up as a return), ``up`` for a
    shipment collected from it. The amount is copied from the county's settings when
    the fee accrues, so a later change of the settings does not rewrite history.
    Unique per (parcel, direction) and (shipment, direction): never counted twice.
    ``status`` becomes ``posted`` when the ledger (issue 4) books it."""

    # Indexes: (station, month) serves the station and its months (and the foreign key);
    # no single index on month or status — the ledger marks a county's month of fees
    # posted in one UPDATE (200,000 rows), which writes every index of each row.
    station = models.ForeignKey(
        "network.Station", on_delete=models.PROTECT, related_name="fees", db_index=False
    )
    direction = models.CharField(max_length=4, choices=[("down", "下行"), ("up", "上行")])
    parcel = models.ForeignKey(
        "logistics.Parcel", null=True, blank=True, on_delete=models.PROTECT, related_name="fees"
    )
    shipment = models.ForeignKey(
        "logistics.Shipment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="fees",
    )
    amount_fen = models.PositiveIntegerField()
    earned_at = models.DateTimeField()
    month = models.CharField(max_length=7)  # YYYY-MM, China time
    status = models.CharField(max_length=8, choices=FeeStatus.choices, default=FeeStatus.OWED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-earned_at", "-id"]
        indexes = [models.Index(fields=["station", "month"], name="stationfee_station_month_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["parcel", "direction"],
                condition=Q(parcel__isnull=False),
                name="stationfee_parcel_direction_uniq",
            ),
            models.UniqueConstraint(
                fields=["shipment", "direction"],
                condition=Q(shipment__isnull=False),
                name="stationfee_shipment_direction_uniq",
            ),
            models.CheckConstraint(
                condition=(Q(parcel__isnull=False) & Q(shipment__isnull=True))
                | (Q(parcel__isnull=True) & Q(shipment__isnull=False)),
                name="stationfee_one_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"fee {self.direction} {self.amount_fen} fen to station {self.station_id}"


class ParcelReminder(models.Model):
    """The one reminder SMS sent for a parcel waiting at its station (never twice)."""

    parcel = models.OneToOneField(
        "logistics.Parcel", on_delete=models.CASCADE, related_name="reminder"
    )
    sent_at = models.DateTimeField()
    days_waited = models.PositiveSmallIntegerField()

    def __str__(self) -> str:
        return f"reminder {self.parcel_id} at {self.sent_at:%Y-%m-%d}"
