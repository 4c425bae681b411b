from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cunzhan.core.models import TimeStampedModel


class Level(models.IntegerChoices):
    PROVINCE = 1, _("省级")
    PREFECTURE = 2, _("地级")
    COUNTY = 3, _("县级")
    TOWNSHIP = 4, _("乡级")
    VILLAGE = 5, _("村级")


CODE_LENGTHS = {
    2: Level.PROVINCE,
    4: Level.PREFECTURE,
    6: Level.COUNTY,
    9: Level.TOWNSHIP,
    12: Level.VILLAGE,
}
LEVEL_CODE_LENGTH = {v: k for k, v in CODE_LENGTHS.items()}


class Kind(models.TextChoices):
    PROVINCE = "province", _("省级")
    PREFECTURE = "prefecture", _("地级")
    PLACEHOLDER = "placeholder", _("统计汇总单位")
    DISTRICT = "district", _("市辖区")
    COUNTY = "county", _("县")
    COUNTY_CITY = "county_city", _("县级市")
    BANNER = "banner", _("旗")
    SPECIAL_DISTRICT = "special_district", _("特区/林区")
    ZONE = "zone", _("开发区/新区")
    SUBDISTRICT = "subdistrict", _("街道")
    TOWN = "town", _("镇")
    TOWNSHIP = "township", _("乡")
    OTHER_TOWNSHIP = "other_township", _("类似乡级单位")
    COMMUNITY = "community", _("居委会")
    VILLAGE = "village", _("村委会")


class CoordSource(models.TextChoices):
    REAL = "real", _("实测")
    SYNTHETIC = "synthetic", _("合成")
    NONE = "", _("无")


class Region(models.Model):
    """A unit of the administrative tree, keyed by its NBS statistical code.

    The code is a materialized path: descendants share its prefix (see
    ``cunzhan.core.scope``). Rows are never deleted: a unit that disappears from
    a newer data file gets ``withdrawn_in``.
    """

    code = models.CharField(max_length=12, primary_key=True)
    name = models.CharField(max_length=80)
    level = models.PositiveSmallIntegerField(choices=Level.choices, db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    longitude = models.FloatField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    coord_source = models.CharField(
        max_length=10, choices=CoordSource.choices, blank=True, default=""
    )
    is_poverty_county = models.BooleanField(default=False)
    poverty_exit_year = models.PositiveSmallIntegerField(null=True, blank=True)
    data_version = models.CharField(max_length=20, default="nbs2023")
    withdrawn_in = models.CharField(max_length=20, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["parent", "code"], name="region_parent_code_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def ancestor_codes(self) -> list[str]:
        return [self.code[:n] for n in (2, 4, 6, 9) if n < len(self.code)]

    @property
    def is_active(self) -> bool:
        return not self.withdrawn_in


class RegionAlias(models.Model):
    """A former code or name of a unit (crosswalk), e.g. 520221 水城县 -> 520204 水城区."""

    code = models.CharField(max_length=12, db_index=True)
    name = models.CharField(max_length=80)
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="aliases")
    valid_from = models.PositiveSmallIntegerField(null=True, blank=True)
    valid_until = models.PositiveSmallIntegerField(null=True, blank=True)
    source = models.CharField(max_length=40, default="areacodes")

    class Meta:
        ordering = ["code", "region_id"]
        constraints = [
            models.UniqueConstraint(fields=["code", "name", "region"], name="region_alias_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name} -> {self.region_id}"


class StationKind(models.TextChoices):
    COUNTY_CENTRE = "county_centre", _("县级服务中心")
    TOWNSHIP_DEPOT = "township_depot", _("乡镇服务站")
    VILLAGE_STATION = "village_station", _("村级服务站")


STATION_KIND_LEVEL = {
    StationKind.COUNTY_CENTRE: Level.COUNTY,
    StationKind.TOWNSHIP_DEPOT: Level.TOWNSHIP,
    StationKind.VILLAGE_STATION: Level.VILLAGE,
}
KIND_FOR_CODE_LENGTH = {LEVEL_CODE_LENGTH[lvl]: kind for kind, lvl in STATION_KIND_LEVEL.items()}


class StationStatus(models.TextChoices):
    PROPOSED = "proposed", _("申请中")
    UNDER_REVIEW = "under_review", _("审核中")
    ACTIVE = "active", _("运营中")
    SUSPENDED = "suspended", _("暂停")
    CLOSED = "closed", _("已关闭")


class Capability(models.TextChoices):
    PARCELS = "parcels", _("快递收发")
    ASSISTED_PURCHASE = "assisted_purchase", _("代购")
    PRODUCE_COLLECTION = "produce_collection", _("农产品收购")
    BILL_PAYMENT = "bill_payment", _("缴费")
    TRAINING_VENUE = "training_venue", _("培训场地")


class Station(TimeStampedModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(_("名称"), max_length=120)
    kind = models.CharField(_("类型"), max_length=20, choices=StationKind.choices, db_index=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="stations")
    status = models.CharField(
        _("状态"),
        max_length=20,
        choices=StationStatus.choices,
        default=StationStatus.PROPOSED,
        db_index=True,
    )
    address = models.CharField(_("地址"), max_length=200, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    coord_synthetic = models.BooleanField(default=False)
    opens_at = models.TimeField(_("开门时间"), default="08:00")
    closes_at = models.TimeField(_("关门时间"), default="20:00")
    open_days = models.CharField(
        _("营业日"), max_length=7, default="1234567", help_text="ISO weekdays, 1=Monday"
    )
    capabilities = models.JSONField(default=list, blank=True)
    phone = models.CharField(_("电话"), max_length=20, blank=True)

    class Meta:
        ordering = ["region_id", "kind", "code"]
        indexes = [models.Index(fields=["region", "status"], name="station_region_status_idx")]
        constraints = [
            # one live (not closed) station of each kind per region; see network.services
            models.UniqueConstraint(
                fields=["region", "kind"],
                condition=~models.Q(status="closed"),
                name="station_one_live_per_region_kind",
            )
        ]

    def __str__(self) -> str:
        return self.name


class StationApplication(TimeStampedModel):
    """An onboarding application for a station: premises, recommendation, deposit."""

    class Decision(models.TextChoices):
        PENDING = "pending", _("待审核")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已驳回")

    station = models.OneToOneField(Station, on_delete=models.CASCADE, related_name="application")
    applicant_name = models.CharField(_("申请人"), max_length=80)
    applicant_phone = models.CharField(_("申请人手机"), max_length=20)
    premises_m2 = models.PositiveIntegerField(_("场地面积(平方米)"))
    committee_recommendation = models.BooleanField(_("村委会推荐"), default=False)
    recommendation_note = models.CharField(_("推荐说明"), max_length=300, blank=True)
    deposit_fen = models.PositiveBigIntegerField(_("保证金(分)"), default=0)
    decision = models.CharField(
        max_length=10, choices=Decision.choices, default=Decision.PENDING, db_index=True
    )
    review_note = models.CharField(_("审核意见"), max_length=300, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.station} ({self.decision})"


class StationHelper(TimeStampedModel):
    """A 淘帮手: a person who works at or for a station, helping villagers shop and sell
    online. Active from ``started_on`` until ``ended_on`` (the first day no longer
    working there; empty while they still help). No ID numbers are kept."""

    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="helpers")
    name = models.CharField(_("姓名"), max_length=40)
    phone = models.CharField(_("电话"), max_length=20, blank=True)
    started_on = models.DateField(_("开始日期"))
    ended_on = models.DateField(_("结束日期"), null=True, blank=True)

    class Meta:
        ordering = ["station_id", "started_on", "id"]
        indexes = [models.Index(fields=["station", "ended_on"], name="helper_station_ended_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_on__isnull=True)
                | models.Q(ended_on__gte=models.F("started_on")),
                name="helper_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.station_id})"

    def active_on(self, day: dt.date) -> bool:
        return self.started_on <= day and (self.ended_on is None or self.ended_on > day)
