"""Counts rolled up the region tree, contributed by each domain.

The region browser (in ``network``) shows counts that belong to higher domains
(households, registered-poor households ...). Those domains register a counter
here, so ``network`` never imports them.

A counter takes ``(scope, parent_code, child_code_length)`` and returns
``{child_code: count}`` for the children of ``parent_code`` that have any.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cunzhan.core.scope import RegionScope

Counter = Callable[[RegionScope, str, int], dict[str, int]]


@dataclass(frozen=True)
class RegionCounter:
    key: str
    label: str
    func: Counter
    order: int
    perm: str | None


_COUNTERS: dict[str, RegionCounter] = {}


def register_region_counter(
    key: str, *, label: str, order: int = 100, perm: str | None = None
) -> Callable[[Counter], Counter]:
    def deco(func: Counter) -> Counter:
        _COUNTERS[key] = RegionCounter(key=key, label=label, func=func, order=order, perm=perm)
        return func

    return deco


def region_counters() -> list[RegionCounter]:
    return sorted(_COUNTERS.values(), key=lambda c: (c.order, c.key))
