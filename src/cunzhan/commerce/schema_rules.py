"""Rules about one value alone, stated in the published schema of the commerce API
(ADR 0032): ninja refuses a value that breaks one with 422 ``validation_error`` naming
the field, before a service sees it. The services keep their own checks as defence.

Patterns use explicit character classes only: the shorthand classes for spaces and
digits mean different things to the schema's readers (ECMA-262), to the validator
(Rust regex) and to Python.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, Field

# What ``str.strip()`` removes (``str.isspace``): a text the services strip must hold
# one character outside this class to be "not blank".
_SPACE = "\\t-\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
NONBLANK = f"[^{_SPACE}]"

# core.validation.clean_phone (after removing spaces): a mainland mobile number or a
# landline with its area code
PHONE = r"^(1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$"
PHONE_OR_EMPTY = r"^(|1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})$"
COUNTY_CODE = r"^[0-9]{6}$"
# YYYY-MM of this century (the platform's months)
MONTH = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"
# a parcel's tracking number (assisted.TRACKING_RE), or none
TRACKING_OR_EMPTY = r"^([A-Za-z0-9-]{4,40})?$"
# yuan with at most two decimals, more than 0 and at most ¥10,000,000
# (assisted.price_parse, MAX_PRICE_FEN)
PRICE_YUAN = r"^([1-9][0-9]{0,6}(\.[0-9]{1,2})?|10000000(\.00?)?|0?\.([1-9][0-9]?|0[1-9]))$"

# a moment the platform can mean
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def _plausible(value: dt.datetime) -> dt.datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError("a moment from 2000 to 2099")
    return value


Moment = Annotated[AwareDatetime, AfterValidator(_plausible)]


def text(max_length: int, **kw: Any) -> Any:
    """A required text that is not blank."""
    return Field(..., min_length=1, max_length=max_length, pattern=NONBLANK, **kw)
