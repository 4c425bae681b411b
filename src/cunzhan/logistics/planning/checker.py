"""An independent feasibility checker (no PyVRP): the referee for every plan.

It re-derives travel distances and times from the instance's own convention where it
can (coordinates for EUC_2D, Solomon and EXACT_2D; the matrix for explicit and platform
problems), so a mistake in the loader's scaling or in the solver shows up here.

Rules checked, for each route:

* every required client served exactly once over all routes (an optional one at most
  once); no more routes of a type than its count;
* load: the vehicle leaves the depot with the sum of the route's deliveries; after each
  stop ``load += pickup − delivery``; the load on **every arc** must not exceed the
  capacity, in every dimension;
* time: leave at the shift start; arrive, wait for the window to open if early, start
  service by ``tw_late``; back at the depot by the depot's and the shift's end; the route's
  duration (leaving as late as possible without arriving later anywhere) ≤ max duration.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cunzhan.logistics.planning.problem import Problem

EPS = 1e-6


@dataclass
class CheckResult:
    feasible: bool
    cost: float  # in the instance's own convention (platform: metres of driving)
    violations: list[str] = field(default_factory=list)
    distance: float = 0.0  # same units as cost, without fixed costs / unit factors


def _metric(problem: Problem) -> tuple[Callable[[int, int], float], Callable[[int, int], float]]:
    """(distance, travel time) between locations, in the instance's own units."""
    kind = problem.convention.kind
    scale = problem.convention.scale
    pts = [(d.x, d.y) for d in problem.depots] + [(c.x, c.y) for c in problem.clients]

    if kind == "rounded_euc_2d":

        def dist(a: int, b: int) -> float:
            return 0.0 if a == b else float(math.floor(math.dist(pts[a], pts[b]) + 0.5))

        return dist, dist
    if kind == "truncated_1dec":

        def trunc(a: int, b: int) -> float:
            return 0.0 if a == b else math.floor(math.dist(pts[a], pts[b]) * 10 + 1e-9) / 10

        return trunc, trunc
    if kind == "exact_2d":

        def exact(a: int, b: int) -> float:
            return math.dist(pts[a], pts[b])

        return exact, exact

    def matrix_dist(a: int, b: int) -> float:
        return problem.distance[a][b] / scale

    def matrix_time(a: int, b: int) -> float:
        return problem.duration[a][b] / scale

    return matrix_dist, matrix_time


def check(problem: Problem, routes: Sequence[tuple[int, Sequence[int]]]) -> CheckResult:
    """Check ``routes`` — ``(vehicle_type, [client indices…])`` pairs — against ``problem``.

    Empty routes are ignored. The cost is the travelled distance weighted by each type's
    unit distance cost plus fixed costs, divided back into the instance's units.
    """
    violations: list[str] = []
    dist, travel = _metric(problem)
    # Time values of the problem are integers × (scale for time); bring them to the same
    # units as `travel`.
    tscale = problem.convention.scale
    ncl = len(problem.clients)
    seen: Counter[int] = Counter()
    used: Counter[int] = Counter()
    total = 0.0
    total_distance = 0.0
    for r, (vt_index, stops) in enumerate(routes):
        if not stops:
            continue
        if not 0 <= vt_index < len(problem.vehicle_types):
            violations.append(f"route {r}: unknown vehicle type {vt_index}")
            continue
        vt = problem.vehicle_types[vt_index]
        used[vt_index] += 1
        bad = [c for c in stops if not 0 <= c < ncl]
        if bad:
            violations.append(f"route {r}: unknown clients {bad}")
            continue
        seen.update(stops)
        depot = problem.depots[vt.depot]
        dloc = vt.depot
        locs = [dloc, *(problem.loc(c) for c in stops), dloc]
        route_distance = sum(dist(a, b) for a, b in itertools.pairwise(locs))
        total_distance += route_distance
        total += route_distance * vt.unit_distance_cost + vt.fixed_cost / problem.convention.scale

        # Load on every arc.
        dims = len(problem.dimensions)
        load = [sum(problem.clients[c].delivery[k] for c in stops) for k in range(dims)]
        for k in range(dims):
            if load[k] > vt.capacity[k]:
                violations.append(
                    f"route {r}: leaves the depot with {load[k]} {problem.dimensions[k]}"
                    f" > capacity {vt.capacity[k]}"
                )
        for pos, c in enumerate(stops):
            cl = problem.clients[c]
            for k in range(dims):
                load[k] += cl.pickup[k] - cl.delivery[k]
                if load[k] > vt.capacity[k]:
                    violations.append(
                        f"route {r}: after stop {pos} (client {cl.ident}) carries {load[k]}"
                        f" {problem.dimensions[k]} > capacity {vt.capacity[k]}"
                    )

        # Time windows with waiting, shift end, duration.
        start = max(vt.tw_early, depot.tw_early) / tscale
        t = start
        waited = 0.0
        delay_room = math.inf  # how much later we could leave without being late anywhere
        prev = dloc
        for pos, c in enumerate(stops):
            cl = problem.clients[c]
            arrive = t + travel(prev, problem.loc(c))
            begin = max(arrive, cl.tw_early / tscale)
            waited += begin - arrive
            if begin > cl.tw_late / tscale + EPS:
                violations.append(
                    f"route {r}: stop {pos} (client {cl.ident}) starts at {begin:g}"
                    f" after its window closes at {cl.tw_late / tscale:g}"
                )
            delay_room = min(delay_room, waited + cl.tw_late / tscale - begin)
            t = begin + cl.service / tscale
            prev = problem.loc(c)
        end = t + travel(prev, dloc)
        latest = min(depot.tw_late, vt.tw_late) / tscale
        if end > latest + EPS:
            violations.append(f"route {r}: back at the depot at {end:g} after {latest:g}")
        delay_room = min(delay_room, waited + latest - end)
        duration = end - start - max(0.0, min(waited, delay_room))
        if duration > vt.max_duration / tscale + EPS:
            violations.append(
                f"route {r}: lasts {duration:g} > max duration {vt.max_duration / tscale:g}"
            )

    for vt_index, n in used.items():
        if n > problem.vehicle_types[vt_index].count:
            violations.append(
                f"vehicle type {vt_index}: {n} routes > {problem.vehicle_types[vt_index].count}"
                " vehicles"
            )
    missing = [
        problem.clients[i].ident for i in range(ncl) if seen[i] == 0 and problem.clients[i].required
    ]
    twice = [problem.clients[i].ident for i in range(ncl) if seen[i] > 1]
    if missing:
        violations.append(f"clients not served: {missing[:20]}{'…' if len(missing) > 20 else ''}")
    if twice:
        violations.append(f"clients served more than once: {twice[:20]}")
    return CheckResult(
        feasible=not violations, cost=total, violations=violations, distance=total_distance
    )
