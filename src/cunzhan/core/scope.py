"""Region scope: what part of the administrative tree a caller may see and act on.

Region codes are NBS statistical codes used as a materialized path: every
descendant of ``5202`` has a code starting with ``5202``. A prefix is turned
into a half-open range ``[prefix, successor(prefix))`` so that a plain b-tree
index serves the query on SQLite and on PostgreSQL whatever the collation
(codes are digits only, and digits collate the same everywhere).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q

from cunzhan.core.validation import is_ascii_digits


def code_successor(prefix: str) -> str | None:
    """The smallest digit string of the same length greater than ``prefix``.

    ``None`` when ``prefix`` is all nines: every code >= it then shares the prefix.
    """
    if not prefix or not is_ascii_digits(prefix):
        raise ValueError(f"region code must be digits, got {prefix!r}")
    n = int(prefix) + 1
    text = str(n).zfill(len(prefix))
    if len(text) > len(prefix):
        return None
    return text


def prefix_q(field_name: str, prefix: str) -> Q:
    """Q for ``field_name`` starting with ``prefix`` (a digit string), index-friendly."""
    upper = code_successor(prefix)
    q = Q(**{f"{field_name}__gte": prefix})
    if upper is not None:
        q &= Q(**{f"{field_name}__lt": upper})
    return q


def minimal_prefixes(codes: Iterable[str]) -> tuple[str, ...]:
    """Drop codes that are already covered by a shorter code in the set."""
    result: list[str] = []
    for code in sorted(set(codes), key=lambda c: (len(c), c)):
        if not any(code.startswith(p) for p in result):
            result.append(code)
    return tuple(sorted(result))


@dataclass(frozen=True)
class RegionScope:
    """The part of the tree a caller may see.

    ``everything`` is the national scope (network admins, the system itself).
    Otherwise ``prefixes`` are the region codes whose subtrees are visible and
    ``station_ids`` (when set) narrow station-level objects to those stations.
    """

    everything: bool = False
    prefixes: tuple[str, ...] = ()
    station_ids: tuple[int, ...] | None = None
    label: str = field(default="", compare=False)

    @classmethod
    def national(cls) -> RegionScope:
        return cls(everything=True, label="national")

    @classmethod
    def nothing(cls) -> RegionScope:
        return cls(everything=False, prefixes=(), label="nothing")

    @classmethod
    def for_regions(cls, codes: Iterable[str]) -> RegionScope:
        return cls(prefixes=minimal_prefixes(codes))

    def contains_code(self, code: str | None) -> bool:
        if self.everything:
            return True
        if not code:
            return False
        return any(code.startswith(p) for p in self.prefixes)

    def q(self, field_name: str) -> Q:
        """Q restricting a region-code field (``region_id``, ``village__code`` ...)."""
        if self.everything:
            return Q()
        if not self.prefixes:
            return Q(pk__in=[])
        q = Q()
        for p in self.prefixes:
            q |= prefix_q(field_name, p)
        return q

    def station_q(self, field_name: str = "pk") -> Q:
        """Q restricting station ids, when the scope is a set of stations."""
        if self.everything or self.station_ids is None:
            return Q()
        return Q(**{f"{field_name}__in": list(self.station_ids)})

    def narrowed_to(self, code: str) -> RegionScope:
        """This scope intersected with the subtree of ``code``."""
        if self.everything or any(code.startswith(p) for p in self.prefixes):
            return RegionScope(prefixes=(code,), station_ids=self.station_ids)
        inner = tuple(p for p in self.prefixes if p.startswith(code))
        return RegionScope(prefixes=inner, station_ids=self.station_ids)


# Installed by ``cunzhan.accounts`` at start-up: user -> RegionScope. Lets core's own
# pages (the audit log) scope by user without importing accounts.
USER_SCOPE_RESOLVER: Callable[[Any], RegionScope] | None = None
