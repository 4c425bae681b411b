"""Relapse-risk monitoring (防返贫动态监测): the yearly monitoring lines, the cases of
flagged households and their follow-up history (docs/adr/0019-relapse-risk.md).

A case is opened by a scan (``cunzhan.impact.risk.risk_scan``) when a registered or
exited household's score reaches the threshold; it carries the score and the reasons
(structured: code, measured value, threshold), is assigned to an officer, visited,
given assistance and closed with an outcome. A household has at most one case that is
not closed; flagged again after its case was closed, it gets a new case.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cunzhan.core.models import TimeStampedModel


class MonitoringLine(TimeStampedModel):
    """The year's monitoring line (防止返贫监测范围): per-capita net income per person
    and year, in fen. ``region_prefix`` "" is the national default; a province (or
    smaller) prefix overrides it for its subtree, the longest prefix winning."""

    year = models.PositiveSmallIntegerField(_("年份"))
    region_prefix = models.CharField(max_length=12, blank=True, default="")
    amount_fen = models.PositiveBigIntegerField(_("监测线(分/人·年)"))
    source = models.CharField(max_length=400, blank=True, default="")

    class Meta:
        ordering = ["year", "region_prefix"]
        constraints = [
            models.UniqueConstraint(fields=["year", "region_prefix"], name="monitoring_line_once")
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.region_prefix or 'CN'} {self.amount_fen}"


class CaseStatus(models.TextChoices):
    OPEN = "open", _("待跟进")
    ASSIGNED = "assigned", _("已分派")
    VISITED = "visited", _("已走访")
    CLOSED = "closed", _("已结案")


class AssistanceKind(models.TextChoices):
    EMPLOYMENT = "employment", _("就业帮扶")
    INDUSTRY = "industry", _("产业帮扶")
    EDUCATION = "education", _("教育帮扶")
    HEALTH = "health", _("健康帮扶")
    SOCIAL_SECURITY = "social_security", _("社会保障兜底")
    CONSUMPTION = "consumption", _("消费帮扶")
    OTHER = "other", _("其他")


class CaseOutcome(models.TextChoices):
    RISK_REMOVED = "risk_removed", _("风险已消除")
    STABILISED = "stabilised", _("收入已稳定")
    TRANSFERRED = "transferred", _("转入兜底保障")
    NOT_CONFIRMED = "not_confirmed", _("核实后无风险")
    OTHER = "other", _("其他")


class RiskCase(TimeStampedModel):
    """A flagged household and its follow-up. ``reasons`` is a list of
    ``{"code", "score", "value", "threshold", "unit"}``, as the signals returned them."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    household = models.ForeignKey(
        "registry.Household", on_delete=models.PROTECT, related_name="risk_cases"
    )
    # the household's village (12 digits): the region the case is scoped by
    village = models.ForeignKey("network.Region", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("监测年度"))
    score = models.PositiveIntegerField(_("风险分"))
    reasons = models.JSONField(default=list)
    status = models.CharField(
        max_length=10, choices=CaseStatus.choices, default=CaseStatus.OPEN, db_index=True
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="risk_cases",
    )
    flagged_at = models.DateTimeField()
    scanned_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=CaseOutcome.choices, blank=True, default="")
    close_note = models.CharField(max_length=400, blank=True, default="")

    class Meta:
        ordering = ["-score", "village_id", "id"]
        indexes = [models.Index(fields=["village", "status"], name="riskcase_village_status_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["household"],
                condition=~Q(status="closed"),
                name="riskcase_one_open_per_household",
            ),
            models.CheckConstraint(
                condition=Q(status="closed", closed_at__isnull=False)
                | (~Q(status="closed") & Q(closed_at__isnull=True)),
                name="riskcase_closed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"risk {self.household_id} {self.year} {self.status}"

    @property
    def township_code(self) -> str:
        return self.village_id[:9]

    @property
    def is_closed(self) -> bool:
        return self.status == CaseStatus.CLOSED


class CaseEventKind(models.TextChoices):
    FLAGGED = "flagged", _("标记")
    RESCORED = "rescored", _("重新评分")
    ASSIGNED = "assigned", _("分派")
    VISIT = "visit", _("走访")
    ASSISTANCE = "assistance", _("帮扶")
    CLOSED = "closed", _("结案")


class RiskCaseEvent(models.Model):
    """One step of a case's history (append-only)."""

    case = models.ForeignKey(RiskCase, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=CaseEventKind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # the visit's or the assistance's date (local)
    day = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=1000, blank=True, default="")
    assistance_kind = models.CharField(
        max_length=16, choices=AssistanceKind.choices, blank=True, default=""
    )
    amount_fen = models.PositiveBigIntegerField(null=True, blank=True)
    # flagged/rescored: score and reasons; assigned: the assignee; closed: the outcome
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["case_id", "at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.at:%Y-%m-%d}"
