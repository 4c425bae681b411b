"""The simulation framework: each domain plugs in a generator.

A generator makes one domain's synthetic data for one county and one day,
through that domain's services, deterministically from a seed. Generators
register themselves with :func:`register` (in their app's ``simulation.py``,
imported by ``AppConfig.ready``); :func:`run` calls them in dependency order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SimulationContext:
    seed: int
    county_code: str
    day: dt.date
    params: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)

    def rng(self, name: str) -> random.Random:
        """A random stream for (seed, county, day, name): independent of call order."""
        material = f"{self.seed}:{self.county_code}:{self.day.isoformat()}:{name}".encode()
        return random.Random(int.from_bytes(hashlib.sha256(material).digest()[:8], "big"))


Generator = Callable[[SimulationContext], Any]


@dataclass(frozen=True)
class _Entry:
    name: str
    func: Generator
    after: tuple[str, ...]


_GENERATORS: dict[str, _Entry] = {}


def register(name: str, *, after: tuple[str, ...] = ()) -> Callable[[Generator], Generator]:
    def deco(func: Generator) -> Generator:
        _GENERATORS[name] = _Entry(name=name, func=func, after=after)
        return func

    return deco


def generators() -> list[str]:
    """Registered generator names in dependency order."""
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(name: str, path: tuple[str, ...] = ()) -> None:
        if name in seen:
            return
        if name in path:
            raise ValueError(f"simulation generators form a cycle: {' -> '.join((*path, name))}")
        entry = _GENERATORS[name]
        for dep in entry.after:
            if dep in _GENERATORS:
                visit(dep, (*path, name))
        seen.add(name)
        ordered.append(name)

    for name in sorted(_GENERATORS):
        visit(name)
    return ordered


def run(
    *,
    seed: int,
    county_code: str,
    day: dt.date,
    only: list[str] | None = None,
    params: dict[str, Any] | None = None,
) -> SimulationContext:
    ctx = SimulationContext(seed=seed, county_code=county_code, day=day, params=params or {})
    for name in generators():
        if only is not None and name not in only:
            continue
        ctx.results[name] = _GENERATORS[name].func(ctx)
    return ctx
