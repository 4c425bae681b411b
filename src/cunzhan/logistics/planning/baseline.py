"""A naive baseline: nearest feasible neighbour, one route after another.

From the depot, repeatedly go to the nearest unserved client whose insertion at the end
keeps the route feasible for the independent checker (loads on every arc with
simultaneous pickup and delivery, windows, shift); when none fits, close the route and
open the next vehicle. If the fleet runs out, the remaining clients go on extra routes of
the last type, and the checker then reports the plan infeasible.
"""

from __future__ import annotations

import time

from cunzhan.logistics.planning.checker import check
from cunzhan.logistics.planning.problem import Problem, Route
from cunzhan.logistics.planning.solver import Plan


def _route_ok(problem: Problem, vt: int, stops: list[int]) -> bool:
    result = check(problem, [(vt, stops)])
    # Only this route's own rules: "clients not served" is expected while building.
    return not any(not v.startswith("clients not served") for v in result.violations)


def nearest_neighbour(problem: Problem) -> Plan:
    started = time.monotonic()
    unserved = set(range(len(problem.clients)))
    routes: list[Route] = []
    fleet = [i for i, vt in enumerate(problem.vehicle_types) for _ in range(vt.count)]
    last = len(problem.vehicle_types) - 1
    while unserved:
        vt = fleet.pop(0) if fleet else last
        depot_loc = problem.vehicle_types[vt].depot
        stops: list[int] = []
        here = depot_loc
        vtype = problem.vehicle_types[vt]
        now = max(vtype.tw_early, problem.depots[vtype.depot].tw_early)
        while True:
            # "Nearest" in time: travel plus any wait for the window to open (= the
            # distance when there are no windows and times follow distances).
            row = problem.duration[here]

            def begin(c: int, row: list[int] = row, now: int = now) -> int:
                return max(now + row[problem.loc(c)], problem.clients[c].tw_early)

            for c in sorted(
                unserved, key=lambda c: (begin(c), problem.distance[here][problem.loc(c)])
            ):
                if _route_ok(problem, vt, [*stops, c]):
                    stops.append(c)
                    unserved.discard(c)
                    now = begin(c) + problem.clients[c].service
                    here = problem.loc(c)
                    break
            else:
                break
        if not stops:  # a client no vehicle can serve alone: put it on its own route
            c = min(unserved)
            stops = [c]
            unserved.discard(c)
        routes.append(Route(vt, tuple(stops)))
    result = check(problem, [(r.vehicle_type, r.clients) for r in routes])
    return Plan(routes, result, 0, time.monotonic() - started, -1, result.feasible)
