"""Grading rules (commerce/grading.py): the highest grade whose criteria all hold, how
samples are aggregated, rejection with the failing criteria, physical ranges."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from cunzhan.commerce import grading
from cunzhan.commerce.grading import CriterionSpec, GradeSpec
from cunzhan.core.errors import ApplicationError

# a fruit standard: 特级 each >= 100 g, mean brix >= 15, worst defect <= 2 %;
# 一级 each >= 80 g, mean brix >= 14, worst defect <= 5 %
SPECIAL = GradeSpec(
    key=1,
    rank=1,
    code="special",
    name="特级",
    criteria=(
        CriterionSpec("weight_g", "each", D(100), None),
        CriterionSpec("brix", "mean", D(15), None),
        CriterionSpec("defect_pct", "max", None, D(2)),
    ),
)
FIRST = GradeSpec(
    key=2,
    rank=2,
    code="first",
    name="一级",
    criteria=(
        CriterionSpec("weight_g", "each", D(80), None),
        CriterionSpec("brix", "mean", D(14), None),
        CriterionSpec("defect_pct", "max", None, D(5)),
    ),
)
GRADES = [FIRST, SPECIAL]  # given out of order on purpose
NEEDED = {"weight_g", "brix", "defect_pct"}


def grade(samples):
    return grading.grade_samples(GRADES, grading.clean_samples(samples, needed=NEEDED))


def test_the_highest_grade_whose_criteria_all_hold():
    out = grade([{"weight_g": 101, "brix": 15, "defect_pct": 2}] * 3)
    assert out.grade is SPECIAL
    assert out.failures == []


def test_each_means_every_sample_a_single_light_fruit_drops_the_grade():
    out = grade(
        [
            {"weight_g": 150, "brix": 16, "defect_pct": 0},
            {"weight_g": 99.5, "brix": 16, "defect_pct": 0},
        ]
    )
    assert out.grade is FIRST
    [special] = out.failures
    assert special["grade"] == "special"
    [failed] = special["failed"]
    assert failed["quantity"] == "weight_g"
    assert failed["measured"] == "99.5" and failed["min"] == "100"
    assert failed["samples"] == [2]


def test_mean_is_the_average_over_samples_for_sugar():
    # 14 and 16: mean 15 -> 特级 holds though one sample is under 15
    assert (
        grade(
            [
                {"weight_g": 120, "brix": 14, "defect_pct": 0},
                {"weight_g": 120, "brix": 16, "defect_pct": 0},
            ]
        ).grade
        is SPECIAL
    )
    # 14 and 15.9: mean 14.95 < 15 -> 一级
    out = grade(
        [
            {"weight_g": 120, "brix": 14, "defect_pct": 0},
            {"weight_g": 120, "brix": 15.9, "defect_pct": 0},
        ]
    )
    assert out.grade is FIRST
    assert out.failures[0]["failed"][0]["measured"] == "14.95"


def test_max_takes_the_worst_sample_for_defects():
    # mean defect 1.5 would pass 特级, but the worst sample (3 %) does not
    out = grade(
        [
            {"weight_g": 120, "brix": 16, "defect_pct": 0},
            {"weight_g": 120, "brix": 16, "defect_pct": 3},
        ]
    )
    assert out.grade is FIRST
    assert out.failures[0]["failed"] == [
        {
            "quantity": "defect_pct",
            "label": str(grading.QUANTITIES["defect_pct"].label),
            "unit": "%",
            "aggregation": "max",
            "min": None,
            "max": "2",
            "measured": "3",
        }
    ]


def test_min_aggregation_reads_the_smallest_sample():
    c = CriterionSpec("diameter_mm", "min", D(30), None)
    samples = grading.clean_samples(
        [{"diameter_mm": 31}, {"diameter_mm": 29}], needed={"diameter_mm"}
    )
    failure = grading.check_criterion(c, samples)
    assert failure is not None and failure["measured"] == "29"
    assert (
        grading.check_criterion(CriterionSpec("diameter_mm", "min", D(29), None), samples) is None
    )


def test_a_lot_meeting_no_grade_lists_per_grade_each_failing_criterion():
    out = grade(
        [
            {"weight_g": 70, "brix": 12, "defect_pct": 8},
            {"weight_g": 90, "brix": 13, "defect_pct": 1},
        ]
    )
    assert out.grade is None
    assert [f["grade"] for f in out.failures] == ["special", "first"]  # highest first
    by_grade = {f["grade"]: {c["quantity"]: c for c in f["failed"]} for f in out.failures}
    assert set(by_grade["special"]) == {"weight_g", "brix", "defect_pct"}
    assert by_grade["first"]["weight_g"]["measured"] == "70"
    assert by_grade["first"]["weight_g"]["samples"] == [1]
    assert by_grade["first"]["brix"]["measured"] == "12.5"
    assert by_grade["first"]["brix"]["min"] == "14"
    assert by_grade["first"]["defect_pct"]["measured"] == "8"
    assert by_grade["first"]["defect_pct"]["max"] == "5"


def test_boundaries_are_inclusive():
    assert grade([{"weight_g": 100, "brix": 15, "defect_pct": 2}]).grade is SPECIAL
    assert grade([{"weight_g": 80, "brix": 14, "defect_pct": 5}]).grade is FIRST


@pytest.mark.parametrize(
    "sample, code, what",
    [
        ({"weight_g": 0, "brix": 15, "defect_pct": 1}, "out_of_physical_range", "weight_g"),
        ({"weight_g": -5, "brix": 15, "defect_pct": 1}, "out_of_physical_range", "weight_g"),
        ({"weight_g": 100, "brix": 41, "defect_pct": 1}, "out_of_physical_range", "brix"),
        ({"weight_g": 100, "brix": -0.1, "defect_pct": 1}, "out_of_physical_range", "brix"),
        ({"weight_g": 100, "brix": 15, "defect_pct": 101}, "out_of_physical_range", "defect_pct"),
        ({"weight_g": 100, "brix": "abc", "defect_pct": 1}, "invalid_measurement", "brix"),
        ({"weight_g": 100, "brix": "NaN", "defect_pct": 1}, "invalid_measurement", "brix"),
        ({"weight_g": 100, "brix": "Infinity", "defect_pct": 1}, "invalid_measurement", "brix"),
        ({"weight_g": 100, "brix": True, "defect_pct": 1}, "invalid_measurement", "brix"),
        ({"weight_g": 100, "brix": "1e999999999", "defect_pct": 1}, "invalid_measurement", "brix"),
        ({"weight_g": 100, "brix": "1e99", "defect_pct": 1}, "invalid_measurement", "brix"),
        ({"weight_g": 100, "brix": 15}, "missing_measurement", "defect_pct"),
        ({"weight_g": 100, "brix": 15, "defect_pct": 1, "sugar": 3}, "unknown_quantity", "sugar"),
        (
            {"weight_g": 100, "brix": 15, "defect_pct": 1, "moisture_pct": 3},
            "unused_quantity",
            "moisture_pct",
        ),
    ],
)
def test_bad_measurements_are_clear_errors_naming_the_sample_and_quantity(sample, code, what):
    good = {"weight_g": 100, "brix": 15, "defect_pct": 1}
    with pytest.raises(ApplicationError) as exc:
        grading.clean_samples([good, sample], needed=NEEDED)
    assert exc.value.code == code
    assert what in exc.value.message or what in str(exc.value.details)
    if code not in ("unknown_quantity",):
        assert "2" in exc.value.message  # the second sample is named


def test_physical_range_message_names_the_range():
    with pytest.raises(ApplicationError) as exc:
        grading.clean_samples([{"weight_g": 100, "brix": 55, "defect_pct": 1}], needed=NEEDED)
    assert "0–40" in exc.value.message and "°Brix" in exc.value.message
    assert exc.value.details == {"sample": 1, "quantity": "brix", "value": "55.000"}


def test_no_samples_is_an_error():
    with pytest.raises(ApplicationError) as exc:
        grading.clean_samples([], needed=NEEDED)
    assert exc.value.code == "no_samples"


@pytest.mark.parametrize(
    "q, agg, lo, hi",
    [
        ("brix", "mean", "50", None),  # bound outside the physical range
        ("brix", "median", "10", None),  # unknown aggregation
        ("brix", "mean", None, None),  # no bound
        ("brix", "mean", "20", "10"),  # min > max
        ("sweetness", "mean", "10", None),  # unknown quantity
    ],
)
def test_bad_criteria_of_a_standard_are_refused(q, agg, lo, hi):
    with pytest.raises(ApplicationError):
        grading.validate_criterion(
            quantity_key=q, aggregation=agg, min_value=lo, max_value=hi, where="g1"
        )
