"""Households, people and the poverty register (建档立卡).

National ID numbers are never stored in plain text: ``Person.id_number_enc`` holds
the Fernet token (key from ``CUNZHAN_FIELD_KEYS``), ``id_number_index`` a keyed
blind index (HMAC) for duplicate checks and lookups, and ``id_masked`` the display
form (first 4 and last 4 characters, see :mod:`cunzhan.registry.idcard`).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cunzhan.core.models import TimeStampedModel


class Sex(models.TextChoices):
    MALE = "male", _("男")
    FEMALE = "female", _("女")


class Relation(models.TextChoices):
    HEAD = "head", _("户主")
    SPOUSE = "spouse", _("配偶")
    CHILD = "child", _("子女")
    CHILD_IN_LAW = "child_in_law", _("儿媳/女婿")
    PARENT = "parent", _("父母")
    GRANDCHILD = "grandchild", _("孙子女")
    GRANDPARENT = "grandparent", _("祖父母")
    SIBLING = "sibling", _("兄弟姐妹")
    OTHER = "other", _("其他")


class PovertyCause(models.TextChoices):
    ILLNESS = "illness", _("因病")
    DISABILITY = "disability", _("因残")
    LACK_OF_LABOUR = "lack_of_labour", _("缺劳力")
    SKILLS = "skills", _("缺技术")
    CAPITAL = "capital", _("缺资金")
    LAND = "land", _("缺土地")
    WATER = "water", _("缺水")
    EDUCATION = "education", _("因学")
    OTHER = "other", _("其他")


class IncomeSource(models.TextChoices):
    FARMING = "farming", _("种养殖收入")
    WAGES = "wages", _("工资性收入")
    BUSINESS_ECOMMERCE = "business_ecommerce", _("经营及电商收入")
    TRANSFERS = "transfers", _("转移性收入")


class ConsentPurpose(models.TextChoices):
    DATA_PROCESSING = "data_processing", _("个人信息处理")
    SMS = "sms", _("短信通知")
    SHARING_WITH_COUNTY = "sharing_with_county", _("向县级部门共享")


class ConsentMethod(models.TextChoices):
    PAPER = "paper", _("纸质签字")
    VERBAL = "verbal", _("口头（有见证）")
    PHONE = "phone", _("手机确认")


class Household(TimeStampedModel):
    """A household (户) in one village; ``number`` is unique within the village."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    village = models.ForeignKey(
        "network.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("村")
    )
    number = models.CharField(_("户编号"), max_length=20)
    address = models.CharField(_("地址"), max_length=200, blank=True)

    class Meta:
        ordering = ["village_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["village", "number"], name="household_village_number")
        ]

    def __str__(self) -> str:
        return f"{self.village_id}-{self.number}"


class Person(TimeStampedModel):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="members")
    name = models.CharField(_("姓名"), max_length=40, db_index=True)
    sex = models.CharField(_("性别"), max_length=6, choices=Sex.choices)
    birth_year = models.PositiveSmallIntegerField(_("出生年份"))
    relation = models.CharField(_("与户主关系"), max_length=20, choices=Relation.choices)
    phone = models.CharField(_("电话"), max_length=20, blank=True)
    id_number_enc = models.TextField(blank=True, default="")
    id_number_index = models.CharField(max_length=64, null=True, blank=True, unique=True)
    id_masked = models.CharField(_("身份证号"), max_length=18, blank=True, default="")
    id_last4 = models.CharField(max_length=4, blank=True, default="", db_index=True)

    class Meta:
        ordering = ["household_id", "id"]
        indexes = [
            models.Index(fields=["household", "name", "birth_year"], name="person_hh_name_year")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["household"],
                condition=models.Q(relation="head"),
                name="person_one_head_per_household",
            )
        ]

    def __str__(self) -> str:
        return self.name


class PovertyRegistration(TimeStampedModel):
    """建档立卡: registered in ``year_registered``; ``year_exited`` empty = still registered."""

    household = models.OneToOneField(
        Household, on_delete=models.PROTECT, related_name="poverty_registration"
    )
    year_registered = models.PositiveSmallIntegerField(_("建档年份"))
    main_cause = models.CharField(_("主要致贫原因"), max_length=20, choices=PovertyCause.choices)
    year_exited = models.PositiveSmallIntegerField(_("脱贫年份"), null=True, blank=True)

    class Meta:
        ordering = ["household_id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(year_exited__isnull=True)
                | models.Q(year_exited__gte=models.F("year_registered")),
                name="poverty_exit_after_registration",
            )
        ]

    def __str__(self) -> str:
        return f"{self.household_id} {self.year_registered}-{self.year_exited or ''}"


class IncomeRecord(TimeStampedModel):
    """A household's income from one source in one year, integer fen (net, >= 0)."""

    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="incomes")
    year = models.PositiveSmallIntegerField(_("年份"))
    source = models.CharField(_("来源"), max_length=20, choices=IncomeSource.choices)
    amount_fen = models.BigIntegerField(_("金额(分)"))

    class Meta:
        ordering = ["household_id", "-year", "source"]
        constraints = [
            models.UniqueConstraint(
                fields=["household", "year", "source"], name="income_household_year_source"
            ),
            models.CheckConstraint(condition=models.Q(amount_fen__gte=0), name="income_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.household_id} {self.year} {self.source}"


class Consent(TimeStampedModel):
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="consents")
    purpose = models.CharField(_("用途"), max_length=30, choices=ConsentPurpose.choices)
    granted_at = models.DateTimeField(_("同意时间"))
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    method = models.CharField(_("方式"), max_length=10, choices=ConsentMethod.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["person_id", "-granted_at"]

    def __str__(self) -> str:
        return f"{self.person_id} {self.purpose}"


class ImportBatch(TimeStampedModel):
    """One uploaded registry file: what was imported, and the problems row by row.

    ``errors`` is a list of ``{"row", "column", "problem"}`` (row as numbered in the
    spreadsheet, the header being row 1). It never contains an ID number.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    file_name = models.CharField(_("文件名"), max_length=200)
    file_format = models.CharField(max_length=10)
    encoding = models.CharField(max_length=20, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    region_code = models.CharField(max_length=12, blank=True, db_index=True)
    rows_total = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    rows_failed = models.PositiveIntegerField(default=0)
    households_created = models.PositiveIntegerField(default=0)
    households_updated = models.PositiveIntegerField(default=0)
    persons_created = models.PositiveIntegerField(default=0)
    persons_updated = models.PositiveIntegerField(default=0)
    persons_unchanged = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.file_name
