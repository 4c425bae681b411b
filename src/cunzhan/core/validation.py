"""Input rules shared by every domain: text a database can store, ASCII digits, phone
numbers."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _

from cunzhan.core.errors import ApplicationError, Unprocessable

# ASCII 0-9 written out: ``\d`` in a str pattern matches every Unicode digit.
_ASCII_DIGITS_RE = re.compile(r"[0-9]+")
_NOT_ASCII_DIGITS_RE = re.compile(r"[^0-9]+")

# A mainland mobile number (11 digits, 13x–19x) or a landline with its area code.
PHONE_RE = re.compile(r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$")


def reject_nul(**values: Any) -> None:
    """Refuse text with NUL characters (PostgreSQL cannot store them), naming the field."""
    for field, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            raise Unprocessable(
                _("文本中含有不允许的控制字符"), code="invalid_text", details={"field": field}
            )


def is_ascii_digits(text: str) -> bool:
    """True for a non-empty string of ASCII 0-9 only.

    ``str.isdigit()`` (and ``isdecimal()``, ``isnumeric()``) also accept '²', '٣' or
    '１': such text then fails in ``int()`` or matches no code in the database.
    """
    return _ASCII_DIGITS_RE.fullmatch(text) is not None


def ascii_digits(text: str) -> str:
    """The ASCII digits 0-9 of ``text``, in order; every other character dropped."""
    return _NOT_ASCII_DIGITS_RE.sub("", text)


def clean_phone(phone: str, *, field: str = "phone") -> str:
    """A normalised phone number (spaces removed), or ApplicationError naming ``field``."""
    phone = (phone or "").strip().replace(" ", "")
    if not PHONE_RE.match(phone):
        raise ApplicationError(
            _("手机号码格式不正确：%(p)s（11位手机号或带区号的固话）") % {"p": phone},
            code="invalid_phone",
            details={"field": field},
        )
    return phone
