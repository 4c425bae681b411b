"""Citizen identity numbers (公民身份号码), GB 11643-1999.

Structure of the 18 characters::

    RRRRRR YYYYMMDD SSS C
    region birth    seq check

- ``RRRRRR``: the administrative division code of the place of first registration
  (GB/T 2260); the first two digits are a province code.
- ``YYYYMMDD``: date of birth.
- ``SSS``: sequence number; odd for men, even for women.
- ``C``: check character, ISO 7064 MOD 11-2 over the first 17 digits
  (weights 2^(17-i) mod 11), written ``0``-``9`` or ``X`` (for 10).

Masking (the form shown everywhere a user lacks ``view_id_numbers``): only the first
two characters (the province, which the household's village already tells) and the
last two (the last digit of the sequence and the check character) stay; the fourteen
in between are replaced by ``*``: ``52**************3X``. The mask is shown beside
the person's birth year, sex and village, so it must not combine with them into the
number: with the old four-and-four mask (``5202**********123X``) the whole sequence
and the check character were visible, and knowing the county (from the village) and
the birth year left only the day of birth, cut by the check character to about
366 / 11 ≈ 33 candidates. Now the county, the day of birth and two of the three
sequence digits are hidden: about 366 × 100 / 11 ≈ 3,300 candidates even for someone
who knows the county, the birth year and the sex (a test counts them). Two
characters are still enough to tell the members of one household apart on the phone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext as _

from cunzhan.core.errors import ApplicationError
from cunzhan.core.validation import is_ascii_digits

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"  # index = weighted sum mod 11

# GB/T 2260 province-level codes (plus 71 Taiwan, 81 Hong Kong, 82 Macau, 83 used
# in residence permits for Taiwan residents).
PROVINCE_CODES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
        "83",
    ]
)
MASK_HEAD = 2  # the province
MASK_TAIL = 2  # the last sequence digit and the check character


@dataclass(frozen=True)
class IdNumber:
    number: str
    region: str
    birth_date: dt.date
    sequence: int

    @property
    def sex(self) -> str:
        return "male" if self.sequence % 2 == 1 else "female"


def check_char(first17: str) -> str:
    """The GB 11643 check character for 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def _fail(rule: str, message: str) -> ApplicationError:
    return ApplicationError(message, code="invalid_id_number", details={"rule": rule})


def parse_id_number(raw: str, *, today: dt.date | None = None) -> IdNumber:
    """Validate and normalise (upper-case ``X``, no spaces), or raise
    ApplicationError(code="invalid_id_number", details={"rule": ...}).

    The error message never repeats the number itself.
    """
    text = "".join(str(raw or "").split()).upper()
    if len(text) != 18:
        raise _fail(
            "length",
            _("身份证号应为18位，实际为%(n)d位") % {"n": len(text)},
        )
    if not is_ascii_digits(text[:17]):
        raise _fail("digits", _("身份证号前17位必须是数字"))
    if text[17] not in "0123456789X":
        raise _fail("check_char", _("身份证号第18位必须是数字或X"))
    if text[:2] not in PROVINCE_CODES:
        raise _fail("region", _("身份证号前两位不是有效的省级行政区划代码"))
    if text[2:6] == "0000":
        raise _fail("region", _("身份证号前6位不是有效的行政区划代码"))
    try:
        born = dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError as exc:
        raise _fail("birth_date", _("身份证号中的出生日期无效")) from exc
    today = today or timezone.localdate()
    if born.year < 1890 or born > today:
        raise _fail("birth_date", _("身份证号中的出生日期不在合理范围内"))
    if check_char(text[:17]) != text[17]:
        raise _fail("check_digit", _("身份证号校验位错误（GB 11643 校验码不符）"))
    return IdNumber(number=text, region=text[:6], birth_date=born, sequence=int(text[14:17]))


def is_valid(raw: str) -> bool:
    try:
        parse_id_number(raw)
    except ApplicationError:
        return False
    return True


def mask(number: str) -> str:
    """``520221199001011234`` -> ``52**************34`` (empty stays empty).

    Also re-masks an older, wider mask (``5202**********1234``): the result depends
    only on the characters this mask keeps."""
    if not number:
        return ""
    if len(number) <= MASK_HEAD + MASK_TAIL:
        return "*" * len(number)
    return number[:MASK_HEAD] + "*" * (len(number) - MASK_HEAD - MASK_TAIL) + number[-MASK_TAIL:]


def make_id_number(*, region: str, birth_date: dt.date, sequence: int) -> str:
    """A valid number from its parts (for the simulation and tests)."""
    if len(region) != 6 or not is_ascii_digits(region):
        raise ValueError("region must be 6 digits")
    if not 0 <= sequence <= 999:
        raise ValueError("sequence must be 0-999")
    first17 = f"{region}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + check_char(first17)
