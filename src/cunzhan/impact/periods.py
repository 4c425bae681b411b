"""Periods: pure date arithmetic (day, ISO week from Monday, month, quarter, year)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from cunzhan.core.errors import ApplicationError, Unprocessable
from cunzhan.impact.models import PERIOD_ORDER

MIN_DATE = dt.date(2000, 1, 1)
MAX_PERIODS = 400  # one request's series at most


def check_period_type(period_type: str) -> str:
    if period_type not in PERIOD_ORDER:
        raise ApplicationError(
            f"unknown period type {period_type!r}: one of {', '.join(PERIOD_ORDER)}",
            code="invalid_period",
            details={"period_type": period_type},
        )
    return period_type


def types_from(finest: str) -> list[str]:
    """The period types an indicator computed at ``finest`` is stored for."""
    return PERIOD_ORDER[PERIOD_ORDER.index(check_period_type(finest)) :]


def period_start(day: dt.date, period_type: str) -> dt.date:
    if period_type == "day":
        return day
    if period_type == "week":
        return day - dt.timedelta(days=day.weekday())
    if period_type == "month":
        return day.replace(day=1)
    if period_type == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    if period_type == "year":
        return day.replace(month=1, day=1)
    check_period_type(period_type)
    raise AssertionError  # pragma: no cover


def next_start(start: dt.date, period_type: str) -> dt.date:
    if period_type == "day":
        return start + dt.timedelta(days=1)
    if period_type == "week":
        return start + dt.timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[check_period_type(period_type)]
    m = start.month - 1 + months
    return dt.date(start.year + m // 12, m % 12 + 1, 1)


def period_end(start: dt.date, period_type: str) -> dt.date:
    """The last day of the period that begins on ``start``."""
    return next_start(start, period_type) - dt.timedelta(days=1)


def period_starts(first: dt.date, last: dt.date, period_type: str) -> list[dt.date]:
    """The starts of the periods from the one holding ``first`` to the one holding
    ``last``; a clear error when the range is reversed, too old or too long."""
    check_period_type(period_type)
    if first > last:
        raise Unprocessable(
            f"the period range is reversed: {first} is after {last}",
            code="period_out_of_range",
            details={"start": str(first), "end": str(last)},
        )
    if first < MIN_DATE or last > timezone.localdate() + dt.timedelta(days=366):
        raise Unprocessable(
            f"the period range {first}..{last} is out of range (from {MIN_DATE}, "
            "at most a year ahead)",
            code="period_out_of_range",
            details={"start": str(first), "end": str(last)},
        )
    out = []
    s = period_start(first, period_type)
    while s <= last:
        out.append(s)
        if len(out) > MAX_PERIODS:
            raise Unprocessable(
                f"more than {MAX_PERIODS} {period_type} periods requested; "
                "narrow the range or use a longer period type",
                code="period_out_of_range",
                details={"start": str(first), "end": str(last), "period_type": period_type},
            )
        s = next_start(s, period_type)
    return out


def check_aligned(start: dt.date, period_type: str) -> dt.date:
    if period_start(start, period_type) != start:
        raise Unprocessable(
            f"{start} is not the first day of a {period_type} period "
            f"(that period starts on {period_start(start, period_type)})",
            code="period_not_aligned",
            details={"period_start": str(start), "period_type": period_type},
        )
    if start < MIN_DATE or start > timezone.localdate() + dt.timedelta(days=366):
        raise Unprocessable(f"the period {start} is out of range", code="period_out_of_range")
    return start
