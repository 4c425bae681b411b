"""Indicator definitions and their stored values per region and period.

An indicator is a numerator (and, for a ratio, a denominator) over registered DATA
SOURCES (``cunzhan.impact.sources``), a factor (100 for a percentage) and the finest
period it is computed for. Values are stored per (indicator, region code, period type,
period start) for every level of the region tree; the national cell has region code
``""``. Ratio indicators store numerator and denominator so that a parent's value is
computed from the sums of its children's, never as an average of ratios
(docs/adr/0017-impact-indicators.md).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from cunzhan.core.models import TimeStampedModel


class PeriodType(models.TextChoices):
    DAY = "day", "日"
    WEEK = "week", "周"
    MONTH = "month", "月"
    QUARTER = "quarter", "季"
    YEAR = "year", "年"


PERIOD_ORDER = [p.value for p in PeriodType]

SUM = "sum"
# the number of county cells of the ``base`` indicator whose value reaches ``threshold``
# in the period (e.g. poverty counties with a year's online sales of ¥100M or more)
COUNT_OVER = "count_over"
AGGREGATIONS = (SUM, COUNT_OVER)


class Indicator(TimeStampedModel):
    code = models.SlugField(max_length=60, unique=True)
    name_zh = models.CharField(max_length=120)
    name_en = models.CharField(max_length=120)
    description = models.CharField(max_length=400, blank=True, default="")
    numerator = models.CharField(max_length=80)  # a registered data source key
    denominator = models.CharField(max_length=80, blank=True, default="")  # "": not a ratio
    factor = models.PositiveIntegerField(default=1)
    unit = models.CharField(max_length=20, blank=True, default="")
    period_type = models.CharField(max_length=8, choices=PeriodType.choices)
    aggregation = models.CharField(max_length=10, default=SUM)  # SUM or COUNT_OVER: see ADRs
    # COUNT_OVER: the indicator whose county cells are counted, and the threshold on
    # their value (in that indicator's unit: fen for sales)
    base = models.CharField(max_length=60, blank=True, default="")
    threshold = models.BigIntegerField(null=True, blank=True)
    # the target per period, in the indicator's unit (value, not numerator)
    target = models.FloatField(null=True, blank=True)
    higher_is_better = models.BooleanField(default=True)
    # legend: [{"min": 0, "color": "#c0392b", "label": "低"}, ...], "min" ascending
    legend = models.JSONField(default=list, blank=True)
    order = models.PositiveSmallIntegerField(default=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["order", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_type__in=PERIOD_ORDER), name="indicator_period_type_valid"
            ),
            models.CheckConstraint(condition=Q(factor__gte=1), name="indicator_factor_positive"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def is_ratio(self) -> bool:
        return bool(self.denominator)

    @property
    def is_count_over(self) -> bool:
        return self.aggregation == COUNT_OVER


class IndicatorValue(models.Model):
    """One stored cell. Absent cell = zero numerator and denominator."""

    indicator = models.ForeignKey(Indicator, on_delete=models.CASCADE, related_name="values")
    region_code = models.CharField(max_length=12)  # "" = national
    level = models.PositiveSmallIntegerField()  # 0 national, 1 province ... 5 village
    period_type = models.CharField(max_length=8, choices=PeriodType.choices)
    period_start = models.DateField()
    numerator = models.BigIntegerField(default=0)
    denominator = models.BigIntegerField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)  # None: ratio with a zero denominator
    # how many distinct households the cell rests on (None: not a household-based
    # indicator); the public page suppresses cells under 5 (ADR 0020)
    households = models.PositiveIntegerField(null=True, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["indicator_id", "period_type", "period_start", "region_code"]
        constraints = [
            models.UniqueConstraint(
                fields=["indicator", "period_type", "region_code", "period_start"],
                name="indicator_value_cell_uniq",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.indicator_id} {self.region_code or 'CN'} {self.period_type} {self.period_start}"
        )


class IndicatorRefresh(models.Model):
    """The last refresh of a county: its watermark for the incremental refresh."""

    county_code = models.CharField(max_length=6, primary_key=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    cells_written = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["county_code"]

    def __str__(self) -> str:
        return f"refresh {self.county_code} {self.started_at:%Y-%m-%d %H:%M}"


# relapse-risk monitoring (docs/adr/0019-relapse-risk.md)
from cunzhan.impact.risk_models import (  # noqa: E402, F401
    MonitoringLine,
    RiskCase,
    RiskCaseEvent,
)
