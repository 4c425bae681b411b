from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cunzhan.core.errors import ApplicationError
from cunzhan.registry.idcard import (
    PROVINCE_CODES,
    check_char,
    is_valid,
    make_id_number,
    mask,
    parse_id_number,
)

regions = st.builds(
    lambda p, rest: p + rest,
    st.sampled_from(sorted(PROVINCE_CODES)),
    st.integers(min_value=1, max_value=9999).map(lambda n: f"{n:04d}"),
)
births = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2024, 12, 31))
sequences = st.integers(min_value=0, max_value=999)
valid_numbers = st.builds(
    lambda r, b, s: make_id_number(region=r, birth_date=b, sequence=s), regions, births, sequences
)


def test_published_example_number_is_valid():
    # The worked example of GB 11643-1999, appendix: 11010519491231002X.
    parsed = parse_id_number("11010519491231002x")
    assert parsed.number == "11010519491231002X"
    assert parsed.birth_date == dt.date(1949, 12, 31)
    assert parsed.sex == "female"
    assert check_char("44052418800101001") == "4"


@given(valid_numbers)
def test_every_generated_number_passes(number):
    parsed = parse_id_number(number)
    assert parsed.number == number
    assert parsed.sequence == int(number[14:17])


@given(valid_numbers, st.integers(min_value=0, max_value=16), st.integers(1, 9))
def test_changing_any_single_digit_breaks_the_check(number, pos, delta):
    changed = number[:pos] + str((int(number[pos]) + delta) % 10) + number[pos + 1 :]
    # ISO 7064 MOD 11-2 detects every single-digit substitution: the changed
    # number's check character no longer matches its first 17 digits.
    assert check_char(changed[:17]) != changed[17]
    assert not is_valid(changed)


@given(valid_numbers, st.sampled_from("0123456789X"))
def test_any_other_check_character_fails(number, char):
    if char == number[17]:
        return
    with pytest.raises(ApplicationError) as exc:
        parse_id_number(number[:17] + char)
    assert exc.value.details["rule"] == "check_digit"


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("52020419800517001", "length"),
        ("5202041980051700111", "length"),
        ("52020419800A17001X", "digits"),
        ("52020419800517001Y", "check_char"),
        ("99020419800517001X", "region"),
        ("52000019800517001X", "region"),
        ("520204198002300011", "birth_date"),
        ("520204188001010011", "birth_date"),
        ("520204299901010011", "birth_date"),
    ],
)
def test_each_rule_has_its_own_clear_error(raw, rule):
    with pytest.raises(ApplicationError) as exc:
        parse_id_number(raw)
    assert exc.value.code == "invalid_id_number"
    assert exc.value.details["rule"] == rule
    assert raw not in exc.value.message


def test_mask_shows_only_first_and_last_two():
    number = make_id_number(region="520204", birth_date=dt.date(1990, 1, 1), sequence=123)
    masked = mask(number)
    assert masked == number[:2] + "*" * 14 + number[-2:]
    assert mask(number[:4] + "*" * 10 + number[-4:]) == masked  # an old mask re-masks
    assert len(masked) == 18
    assert "19900101" not in masked
    assert mask("") == ""


def test_spaces_and_lower_case_x_are_normalised():
    number = make_id_number(region="520204", birth_date=dt.date(1990, 1, 1), sequence=2)
    spaced = f" {number[:6]} {number[6:14]} {number[14:].lower()} "
    assert parse_id_number(spaced).number == number
