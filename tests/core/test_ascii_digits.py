"""Digits mean ASCII 0-9: ``str.isdigit()``, ``isdecimal()`` and ``isnumeric()`` also
accept '²', '٣' or '１', which then fail in ``int()`` (a 500) or match no code. Every
test of "is this a number" goes through ``cunzhan.core.validation``; a scan of the
source keeps it that way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from cunzhan.core.validation import ascii_digits, is_ascii_digits

SRC = Path(__file__).resolve().parents[2] / "src" / "cunzhan"
UNICODE_DIGIT_TESTS = frozenset({"isdigit", "isdecimal", "isnumeric"})


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


def unicode_digit_tests(source: str) -> list[tuple[int, str]]:
    """(line, name) of every ``.isdigit`` / ``.isdecimal`` / ``.isnumeric`` in ``source``,
    called or passed around (``filter(str.isdigit, ...)``); comments and strings aside."""
    return sorted(
        (node.lineno, node.attr)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Attribute) and node.attr in UNICODE_DIGIT_TESTS
    )


def test_no_module_tests_digits_with_the_unicode_aware_str_methods():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        for line, name in unicode_digit_tests(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(SRC.parent)}:{line}: .{name}()")
    assert offenders == [], (
        "use cunzhan.core.validation.is_ascii_digits / ascii_digits (ASCII 0-9 only):\n"
        + "\n".join(offenders)
    )


def test_the_scan_finds_what_it_is_meant_to_find():
    source = (
        "a = code.isdigit()\n"
        "b = raw.lstrip('-').isdecimal()\n"
        "c = [ch for ch in s if ch.isnumeric()]\n"
        "d = list(filter(str.isdigit, parts))\n"
        "# e = x.isdigit()\n"
        "f = 'x.isdigit()'\n"
    )
    assert unicode_digit_tests(source) == [
        (1, "isdigit"),
        (2, "isdecimal"),
        (3, "isnumeric"),
        (4, "isdigit"),
    ]
