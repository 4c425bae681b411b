"""Digits mean ASCII 0-9: ``str.isdigit()``, ``isdecimal()`` and ``isnumeric()`` also
accept '²', '٣' or '１', and ``\\d`` in a pattern matches '٣' or '１'; such text then fails
in ``int()`` or in a region code's range (a 500) or matches no code. Every test of "is
this a number" goes through ``cunzhan.core.validation`` or spells ``[0-9]``; a scan of
the source keeps it that way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from cunzhan.core.errors import ApplicationError
from cunzhan.core.validation import ascii_digits, clean_phone, is_ascii_digits

SRC = Path(__file__).resolve().parents[2] / "src" / "cunzhan"
UNICODE_DIGIT_TESTS = frozenset({"isdigit", "isdecimal", "isnumeric"})
# ``\\d`` kept on purpose: ID numbers are masked in free text, in any digits
UNICODE_DIGIT_PATTERNS_KEPT = {"cunzhan/registry/importers.py": 1}


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


def test_clean_phone_takes_ascii_digits_only():
    assert clean_phone("138 0013 8000") == "13800138000"
    for phone in ("１３８００１３８０００", "1380013800٠", "0858-８２２１２３４"):
        with pytest.raises(ApplicationError):
            clean_phone(phone)


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


def unicode_digit_patterns(source: str) -> list[int]:
    """Lines of string literals holding ``\\d`` (in a ``str`` pattern: any Unicode digit)."""
    return sorted(
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\\d" in node.value
    )


def test_no_pattern_matches_digits_with_backslash_d():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        name = str(path.relative_to(SRC.parent))
        lines = unicode_digit_patterns(path.read_text(encoding="utf-8"))
        if len(lines) != UNICODE_DIGIT_PATTERNS_KEPT.get(name, 0):
            offenders += [f"{name}:{line}" for line in lines]
    assert offenders == [], "spell ASCII digits [0-9] (\\d is any Unicode digit):\n" + "\n".join(
        offenders
    )


def test_the_pattern_scan_finds_what_it_is_meant_to_find():
    source = (
        'A = re.compile(r"^\\d{6}$")\n'
        'b = re.fullmatch("[0-9]{6}", code)\n'
        "# c = re.compile(r'\\d')\n"
        'D = re.compile(r"^1[3-9]\\d{9}$")\n'
    )
    assert unicode_digit_patterns(source) == [1, 4]
