"""Digits mean ASCII 0-9: ``str.isdigit()``, ``isdecimal()`` and ``isnumeric()`` also
accept '²', '٣' or '１', which then fail in ``int()`` (a 500) or match no code."""

from __future__ import annotations

import pytest

from cunzhan.core.validation import ascii_digits, is_ascii_digits


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123", True),
        ("0", True),
        ("520204106201", True),
        ("", False),
        ("²", False),
        ("١٢", False),  # Arabic-Indic
        ("１２", False),  # fullwidth
        ("12³", False),
        ("-1", False),
        ("+1", False),
        (" 12", False),
        ("12\n", False),
        ("1_2", False),
        ("1.5", False),
        ("一二", False),
    ],
)
def test_is_ascii_digits(text, expected):
    assert is_ascii_digits(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5202-04 １０٣²", "520204"),
        ("SC-0042", "0042"),
        ("", ""),
        ("²١", ""),
    ],
)
def test_ascii_digits_keeps_only_0_to_9(text, expected):
    assert ascii_digits(text) == expected
