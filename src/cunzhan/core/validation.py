"""Input rules shared by every domain: text a database can store, phone numbers."""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext as _

from cunzhan.core.errors import ApplicationError, Unprocessable

# A mainland mobile number (11 digits, 13x–19x) or a landline with its area code.
PHONE_RE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


def reject_nul(**values: Any) -> None:
    """Refuse text with NUL characters (PostgreSQL cannot store them), naming the field."""
    for field, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            raise Unprocessable(
                _("文本中含有不允许的控制字符"), code="invalid_text", details={"field": field}
            )


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
