"""Traceability codes: 10 random Crockford base32 characters (50 bits), printed as
``XXXXX-XXXXX``. Easy to type: no I, L, O or U; typed input is normalised (case,
hyphens and spaces ignored, I/L read as 1 and O as 0)."""

from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 10
_CODE_RE = re.compile(f"^[{ALPHABET}]{{{LENGTH}}}$")
_TYPO = str.maketrans({"I": "1", "L": "1", "O": "0"})


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(text: str) -> str | None:
    """The stored form of a typed code, or None when it cannot be one."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    code = re.sub(r"[\s\-]", "", text).upper().translate(_TYPO)
    return code if _CODE_RE.match(code) else None


def display(code: str) -> str:
    return f"{code[:5]}-{code[5:]}" if len(code) == LENGTH else code
