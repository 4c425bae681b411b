"""Money is integer fen (分). These helpers only parse and format."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from cunzhan.core.errors import ApplicationError

# Larger than any amount the platform handles (a trillion yuan): a typing error.
MAX_YUAN = Decimal(10) ** 12


def yuan_to_fen(text: str | int | float | Decimal) -> int:
    """'12.5' -> 1250. Raises ApplicationError for anything that is not an amount."""
    try:
        value = Decimal(str(text).strip().replace(",", "").replace("¥", "").replace("元", ""))
    except (InvalidOperation, ValueError) as exc:
        raise ApplicationError(f"not an amount of money: {text!r}", code="invalid_amount") from exc
    if not value.is_finite() or abs(value) > MAX_YUAN:
        raise ApplicationError(f"not an amount of money: {text!r}", code="invalid_amount")
    fen = (value * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP)
    return int(fen)


def format_fen(fen: int | None) -> str:
    """1250 -> '¥12.50'."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"
