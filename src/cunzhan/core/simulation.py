"""The simulation framework: each domain plugs in a generator.

A generator makes one domain's synthetic data for one county and one day,
through that domain's services, deterministically from a seed. Generators
register themselves with :func:`register` (in their app's ``simulation.py``,
imported by ``AppConfig.ready``); :func:`run` calls them in dependency order.

A generator registered with ``once=True`` sets a county up (e.g. its households): a run
over many days (``cunzhan simulate --days``) calls it on the county's first day only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

CHINA = ZoneInfo("Asia/Shanghai")


@dataclass
class SimulationContext:
    seed: int
    county_code: str
    day: dt.date
    params: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    # what a generator hands to a later one of the same county-day (not printed), e.g.
    # the day's tracking numbers
    shared: dict[str, Any] = field(default_factory=dict)

    def rng(self, name: str) -> random.Random:
        """A random stream for (seed, county, day, name): independent of call order."""
        material = f"{self.seed}:{self.county_code}:{self.day.isoformat()}:{name}".encode()
        return random.Random(int.from_bytes(hashlib.sha256(material).digest()[:8], "big"))

    def until(self) -> dt.datetime | None:
        """The ``until`` parameter (an ISO time or a datetime; China time when it has
        no zone): nothing after it is recorded. None when the run is not cut."""
        raw = self.params.get("until")
        if isinstance(raw, str) and raw:
            raw = dt.datetime.fromisoformat(raw)
        if not isinstance(raw, dt.datetime):
            return None
        return raw if raw.tzinfo else raw.replace(tzinfo=CHINA)

    def county_rng(self, name: str) -> random.Random:
        """A random stream for (seed, county, name), the same on every day: what a
        county is (its households) does not depend on the day it is first simulated."""
        material = f"{self.seed}:{self.county_code}:{name}".encode()
        return random.Random(int.from_bytes(hashlib.sha256(material).digest()[:8], "big"))


def demo_cut(now: dt.datetime | None = None) -> dt.datetime:
    """Where the demo's history stops: today's 06:59 (China time), before the 07:00
    cut-off of the day's runs, or ``now`` when that is still ahead (a build at 01:00):
    no simulated step lies in the future."""
    now = (now or timezone.now()).astimezone(CHINA).replace(microsecond=0)
    return min(dt.datetime.combine(now.date(), dt.time(6, 59), tzinfo=CHINA), now)


Generator = Callable[[SimulationContext], Any]


@dataclass(frozen=True)
class _Entry:
    name: str
    func: Generator
    after: tuple[str, ...]
    once: bool = False


_GENERATORS: dict[str, _Entry] = {}


def register(
    name: str, *, after: tuple[str, ...] = (), once: bool = False
) -> Callable[[Generator], Generator]:
    def deco(func: Generator) -> Generator:
        _GENERATORS[name] = _Entry(name=name, func=func, after=after, once=once)
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


def setup_generators() -> list[str]:
    """The generators registered with ``once=True`` (run on a county's first day)."""
    return [name for name in generators() if _GENERATORS[name].once]


def run(
    *,
    seed: int,
    county_code: str,
    day: dt.date,
    only: list[str] | None = None,
    params: dict[str, Any] | None = None,
    skip: tuple[str, ...] | list[str] = (),
) -> SimulationContext:
    """Run the generators (``only`` those, less ``skip``) for one county and day."""
    ctx = SimulationContext(seed=seed, county_code=county_code, day=day, params=params or {})
    for name in generators():
        if (only is not None and name not in only) or name in skip:
            continue
        ctx.results[name] = _GENERATORS[name].func(ctx)
    return ctx


# -- many counties × many days (``cunzhan simulate``, the demo, the benchmark) ---------

# the domains whose rows the summary counts (app labels), in layer order
DOMAINS = ("registry", "logistics", "commerce", "ledger")


@dataclass
class RunSummary:
    county_days: int = 0
    seconds: float = 0.0
    rows: dict[str, int] = field(default_factory=dict)  # "app.Model" -> rows created
    generator_seconds: dict[str, float] = field(default_factory=dict)

    def by_domain(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for key, n in self.rows.items():
            out[key.split(".")[0]] = out.get(key.split(".")[0], 0) + n
        return out


def row_counts(domains: tuple[str, ...] = DOMAINS) -> dict[str, int]:
    """Rows per model of the domains' apps ("app.Model" -> count)."""
    from django.apps import apps

    out: dict[str, int] = {}
    for label in domains:
        if label not in apps.app_configs:
            continue
        for model in apps.get_app_config(label).get_models():
            out[model._meta.label] = model._default_manager.count()
    return out


def run_many(
    *,
    seed: int,
    county_codes: list[str],
    start: dt.date,
    days: int,
    only: list[str] | None = None,
    params: dict[str, Any] | None = None,
    progress: bool = False,
    on_day: Callable[[SimulationContext], None] | None = None,
    count_rows: bool = True,
) -> RunSummary:
    """Every county over ``days`` days from ``start``: county by county, day by day, each
    county-day in one database transaction. The ``once`` generators run on a county's
    first day only. ``progress``: a tqdm bar on stderr (counties × days, the county and
    the day shown)."""
    import sys
    import time

    from django.db import transaction

    started = time.perf_counter()
    before = row_counts() if count_rows else {}
    summary = RunSummary()
    setup = setup_generators()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(
            total=len(county_codes) * days, file=sys.stderr, unit="county-day", smoothing=0.1
        )
    try:
        for code in county_codes:
            for offset in range(days):
                day = start + dt.timedelta(days=offset)
                if bar is not None:
                    bar.set_postfix_str(f"{code} {day.isoformat()}", refresh=False)
                with transaction.atomic():
                    ctx = _run_timed(
                        seed=seed,
                        county_code=code,
                        day=day,
                        only=only,
                        params=params,
                        skip=setup if offset else (),
                        timings=summary.generator_seconds,
                    )
                summary.county_days += 1
                if on_day is not None:
                    on_day(ctx)
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if count_rows:
        after = row_counts()
        summary.rows = {
            k: after[k] - before.get(k, 0) for k in sorted(after) if after[k] != before.get(k, 0)
        }
    summary.seconds = time.perf_counter() - started
    return summary


def _run_timed(
    *,
    seed: int,
    county_code: str,
    day: dt.date,
    only: list[str] | None,
    params: dict[str, Any] | None,
    skip: tuple[str, ...] | list[str],
    timings: dict[str, float],
) -> SimulationContext:
    import time

    ctx = SimulationContext(seed=seed, county_code=county_code, day=day, params=params or {})
    for name in generators():
        if (only is not None and name not in only) or name in skip:
            continue
        t0 = time.perf_counter()
        ctx.results[name] = _GENERATORS[name].func(ctx)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
    return ctx
