"""Money: yuan text in, integer fen out."""

from __future__ import annotations

import pytest

from cunzhan.core.errors import ApplicationError
from cunzhan.core.money import format_fen, yuan_to_fen


@pytest.mark.parametrize(
    ("text", "fen"), [("12.5", 1250), ("3000.50", 300050), ("¥1,234.56", 123456), ("0.005", 1)]
)
def test_yuan_to_fen(text, fen):
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["abc", "", "1e30", "-1e13", "NaN", "Infinity"])
def test_not_an_amount(text):
    with pytest.raises(ApplicationError) as exc:
        yuan_to_fen(text)
    assert exc.value.code == "invalid_amount"


def test_format_fen():
    assert format_fen(123456) == "¥1,234.56"
    assert format_fen(-5) == "-¥0.05"
