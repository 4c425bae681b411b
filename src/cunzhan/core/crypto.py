"""Field encryption for personal data at rest, and keyed blind indexes for lookups.

Keys come from ``settings.FIELD_ENCRYPTION_KEYS`` (environment ``CUNZHAN_FIELD_KEYS``),
newest first; decryption tries every key so keys can be rotated.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k.encode()) for k in keys])


def _keys() -> tuple[str, ...]:
    return tuple(settings.FIELD_ENCRYPTION_KEYS)


def encrypt(plaintext: str) -> str:
    return _fernet(_keys()).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(_keys()).decrypt(token.encode()).decode()
    except InvalidToken as exc:  # pragma: no cover - only with a wrong key
        raise ValueError("cannot decrypt field: wrong CUNZHAN_FIELD_KEYS?") from exc


def blind_index(value: str, *, purpose: str) -> str:
    """A keyed hash to find equal values without storing them (HMAC-SHA256, hex)."""
    key = hashlib.sha256(("blind-index:" + _keys()[-1]).encode()).digest()
    return hmac.new(key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
