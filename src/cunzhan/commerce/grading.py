"""Grading a lot against a grade standard: pure rules, no database writes.

A standard's grades are tried from the highest (rank 1, 特级) down; the lot gets the
first grade whose criteria ALL hold. A criterion reads the samples by its aggregation:

- ``each``: every sample's value lies in [min, max] (sizes and weights: each fruit);
- ``mean``: the mean over the samples lies in [min, max] (sugar °Brix, moisture %);
- ``max``: the largest sample value lies in [min, max] (defect %: the worst sample);
- ``min``: the smallest sample value lies in [min, max].

Every sample must carry a value for every quantity the standard measures; a value
outside the quantity's PHYSICAL range (°Brix 0–40, a percentage 0–100, a weight > 0 ...)
is bad input (``Unprocessable``, 422, naming the sample and the quantity), never a failed
criterion. A lot that meets no grade is rejected: for each grade, the criteria that
failed with the measured and the required values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cunzhan.core.errors import Unprocessable

MAX_SAMPLES = 200
MAX_VALUE = Decimal(10) ** 9  # no physical range reaches it; beyond: not a measurement
Q3 = Decimal("0.001")


@dataclass(frozen=True)
class Quantity:
    """A measurable quantity: its unit and its physical range. ``low_open``: the value
    must be strictly above ``low`` (a weight of 0 g is not a measurement)."""

    key: str
    label: Any
    unit: str
    low: Decimal
    high: Decimal
    low_open: bool = False
    default_aggregation: str = "each"

    def check(self, value: Decimal) -> str | None:
        """None when ``value`` is physically possible, else the reason."""
        if self.low_open and value <= self.low:
            return f"> {self.low}"
        if value < self.low or value > self.high:
            return f"{self.low}–{self.high}"
        return None


def _q(key: str, label: Any, unit: str, low: str, high: str, agg: str, open_: bool = False):
    return Quantity(key, label, unit, Decimal(low), Decimal(high), open_, agg)


QUANTITIES: dict[str, Quantity] = {
    q.key: q
    for q in (
        _q("weight_g", gettext_lazy("单果重"), "g", "0", "100000", "each", True),
        _q("weight_kg", gettext_lazy("个体重"), "kg", "0", "1000", "each", True),
        _q("diameter_mm", gettext_lazy("横径"), "mm", "0", "1000", "each", True),
        _q("length_mm", gettext_lazy("长度"), "mm", "0", "2000", "each", True),
        _q("brix", gettext_lazy("可溶性固形物"), "°Brix", "0", "40", "mean"),
        _q("defect_pct", gettext_lazy("缺陷率"), "%", "0", "100", "max"),
        _q("moisture_pct", gettext_lazy("含水率"), "%", "0", "100", "mean"),
        _q("lean_pct", gettext_lazy("瘦肉率"), "%", "0", "100", "mean"),
        _q("backfat_mm", gettext_lazy("背膘厚"), "mm", "0", "200", "max"),
        _q("kernel_pct", gettext_lazy("出仁率"), "%", "0", "100", "mean"),
        _q("vitamin_c_mg", gettext_lazy("维生素C含量"), "mg/100g", "0", "5000", "mean"),
        _q("broken_pct", gettext_lazy("碎茶率"), "%", "0", "100", "max"),
    )
}


def quantity(key: str) -> Quantity:
    q = QUANTITIES.get(key)
    if q is None:
        raise Unprocessable(
            _("未知的测量项：%(q)s（可用：%(all)s）") % {"q": key, "all": ", ".join(QUANTITIES)},
            code="unknown_quantity",
            details={"quantity": key},
        )
    return q


def to_decimal(value: Any, *, where: str, key: str) -> Decimal:
    """A finite number (int, float, Decimal or text) as a Decimal rounded to 0.001."""
    if isinstance(value, bool):
        value = None
    try:
        d = Decimal(str(value).strip())
        ok = d.is_finite() and abs(d) < MAX_VALUE
    except (ArithmeticError, ValueError):  # InvalidOperation, Overflow (1e999999999)
        d, ok = Decimal(0), False
    if not ok:
        raise Unprocessable(
            _("%(where)s：%(q)s 不是数字：%(v)s")
            % {"where": where, "q": key, "v": str(value)[:40]},
            code="invalid_measurement",
            details={"field": key, "where": where},
        )
    return d.quantize(Q3, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CriterionSpec:
    quantity: str
    aggregation: str
    min_value: Decimal | None
    max_value: Decimal | None


@dataclass(frozen=True)
class GradeSpec:
    key: Any  # the Grade's pk (or anything identifying it)
    rank: int
    code: str
    name: str
    criteria: tuple[CriterionSpec, ...]


@dataclass
class Outcome:
    grade: GradeSpec | None
    # per grade tried and failed: {"grade", "name", "rank", "failed": [criterion failures]}
    failures: list[dict[str, Any]] = field(default_factory=list)
    # the aggregated values per (quantity, aggregation): what the criteria compared
    values: dict[str, str] = field(default_factory=dict)


def clean_samples(
    samples: Iterable[Mapping[str, Any]], *, needed: Iterable[str]
) -> list[dict[str, Decimal]]:
    """Validate the samples: at least one, every needed quantity in each, nothing
    unknown or unused, every value a number inside its physical range."""
    needed = sorted(set(needed))
    rows = list(samples)
    if not rows:
        raise Unprocessable(
            _("至少需要一个样品的测量值"), code="no_samples", details={"field": "samples"}
        )
    if len(rows) > MAX_SAMPLES:
        raise Unprocessable(
            _("样品太多：最多 %(n)s 个") % {"n": MAX_SAMPLES},
            code="too_many_samples",
            details={"field": "samples"},
        )
    out: list[dict[str, Decimal]] = []
    for i, row in enumerate(rows, start=1):
        where = _("样品 %(i)s") % {"i": i}
        if not isinstance(row, Mapping):
            raise Unprocessable(
                _("%(where)s：应为 测量项→数值 的对象") % {"where": where},
                code="invalid_measurement",
                details={"sample": i},
            )
        clean: dict[str, Decimal] = {}
        for key, raw in row.items():
            q = quantity(str(key))
            if q.key not in needed:
                raise Unprocessable(
                    _("%(where)s：该分级标准不测量 %(q)s（测量项：%(all)s）")
                    % {"where": where, "q": q.key, "all": ", ".join(needed)},
                    code="unused_quantity",
                    details={"sample": i, "quantity": q.key},
                )
            value = to_decimal(raw, where=where, key=q.key)
            reason = q.check(value)
            if reason is not None:
                raise Unprocessable(
                    _("%(where)s：%(label)s %(v)s %(unit)s 超出物理范围（%(range)s %(unit)s）")
                    % {
                        "where": where,
                        "label": q.label,
                        "v": value.normalize(),
                        "unit": q.unit,
                        "range": reason,
                    },
                    code="out_of_physical_range",
                    details={"sample": i, "quantity": q.key, "value": str(value)},
                )
            clean[q.key] = value
        missing = [k for k in needed if k not in clean]
        if missing:
            raise Unprocessable(
                _("%(where)s：缺少测量项 %(q)s") % {"where": where, "q": ", ".join(missing)},
                code="missing_measurement",
                details={"sample": i, "missing": missing},
            )
        out.append(clean)
    return out


def aggregate(values: list[Decimal], aggregation: str) -> Decimal:
    if aggregation == "mean":
        return (sum(values, Decimal(0)) / len(values)).quantize(Q3, rounding=ROUND_HALF_UP)
    if aggregation == "min":
        return min(values)
    return max(values)  # "max"; "each" is checked per sample


def _in_range(v: Decimal, c: CriterionSpec) -> bool:
    return (c.min_value is None or v >= c.min_value) and (c.max_value is None or v <= c.max_value)


def _fmt(d: Decimal | None) -> str | None:
    return None if d is None else format(d.normalize(), "f")


def check_criterion(c: CriterionSpec, samples: list[dict[str, Decimal]]) -> dict[str, Any] | None:
    """None when the criterion holds, else what failed: measured vs required."""
    values = [s[c.quantity] for s in samples]
    q = QUANTITIES[c.quantity]
    failure = {
        "quantity": c.quantity,
        "label": str(q.label),
        "unit": q.unit,
        "aggregation": c.aggregation,
        "min": _fmt(c.min_value),
        "max": _fmt(c.max_value),
    }
    if c.aggregation == "each":
        bad = [(i, v) for i, v in enumerate(values, start=1) if not _in_range(v, c)]
        if not bad:
            return None
        return {
            **failure,
            "measured": _fmt(bad[0][1]),
            "samples": [i for i, _v in bad],
        }
    v = aggregate(values, c.aggregation)
    if _in_range(v, c):
        return None
    return {**failure, "measured": _fmt(v)}


def grade_samples(grades: Iterable[GradeSpec], samples: list[dict[str, Decimal]]) -> Outcome:
    """The highest grade whose criteria all hold (or None), and why higher ones failed.
    ``samples`` come from :func:`clean_samples`."""
    outcome = Outcome(grade=None)
    ordered = sorted(grades, key=lambda g: g.rank)
    for g in ordered:
        for c in g.criteria:
            values = [s[c.quantity] for s in samples]
            if c.aggregation != "each":
                outcome.values[f"{c.quantity}:{c.aggregation}"] = (
                    _fmt(aggregate(values, c.aggregation)) or ""
                )
        failed = [f for c in g.criteria if (f := check_criterion(c, samples)) is not None]
        if not failed:
            outcome.grade = g
            return outcome
        outcome.failures.append({"grade": g.code, "name": g.name, "rank": g.rank, "failed": failed})
    return outcome


def validate_criterion(
    *, quantity_key: str, aggregation: str, min_value: Any, max_value: Any, where: str
) -> CriterionSpec:
    """A criterion of a standard being defined: known quantity and aggregation, bounds
    inside the physical range, at least one bound, min <= max."""
    q = quantity(quantity_key)
    if aggregation not in ("each", "mean", "max", "min"):
        raise Unprocessable(
            _("%(where)s：未知的汇总方式 %(a)s（each/mean/max/min）")
            % {"where": where, "a": aggregation},
            code="invalid_standard",
        )
    lo = None if min_value in (None, "") else to_decimal(min_value, where=where, key=q.key)
    hi = None if max_value in (None, "") else to_decimal(max_value, where=where, key=q.key)
    if lo is None and hi is None:
        raise Unprocessable(
            _("%(where)s：%(q)s 至少需要一个上限或下限") % {"where": where, "q": q.key},
            code="invalid_standard",
        )
    for bound in (lo, hi):
        if bound is not None and (bound < q.low or bound > q.high):
            raise Unprocessable(
                _("%(where)s：%(q)s 的界限 %(b)s 超出物理范围 %(lo)s–%(hi)s")
                % {"where": where, "q": q.key, "b": bound, "lo": q.low, "hi": q.high},
                code="invalid_standard",
            )
    if lo is not None and hi is not None and lo > hi:
        raise Unprocessable(
            _("%(where)s：%(q)s 的下限大于上限") % {"where": where, "q": q.key},
            code="invalid_standard",
        )
    return CriterionSpec(q.key, aggregation, lo, hi)
