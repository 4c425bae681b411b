"""Benchmark-only adapters: VROOM (pyvroom) and OR-Tools routing on the planner's `Problem`.

Not part of the platform (ADR 0008: the daily plan is solved by PyVRP). These adapters
exist so that ``bench/planner_compare.py`` can run the other two libraries on exactly the
integer data PyVRP gets: the same ``Problem.distance`` matrix as the cost, the same
``Problem.duration`` matrix as travel time, the same integer service times, windows,
loads and capacities per dimension, the same fleet (vehicle types × count). Every
solution is re-costed and judged by the project's independent checker
(``planning.checker.check``); what a library says about its own solution is kept only as
``solver_cost`` / ``solver_feasible``.

Install the libraries with ``pip install -e '.[bench]'`` (they are not in ``.[dev]``).

Modelling notes:

* **Simultaneous pickup and delivery.** VROOM has it natively: a single job with a
  ``delivery`` amount (loaded at the depot) and a ``pickup`` amount (carried back), the
  load checked on every leg. OR-Tools has no such notion; per load dimension we use two
  dimensions: ``delivered`` (start 0, +delivery at each stop, so its end value is the
  route's total delivery) and ``load`` (start free in [0, capacity], +pickup − delivery at
  each stop, every cumul in [0, capacity]) tied by ``load(start) == delivered(end)``: the
  vehicle leaves with exactly what it drops, and ``load`` is then the true load after each
  stop. Dimensions with only deliveries (CVRP, VRPTW) or only pickups are a plain
  capacity dimension.
* **Time.** OR-Tools: a ``time`` dimension with transit ``service(from) + duration(from,
  to)``, waiting as slack, client windows on the cumuls, the shift window on the start and
  end cumuls, ``max_duration`` as a span bound. VROOM: job windows, vehicle time window,
  ``default_service``; a route duration limit (``max_duration``) has no equivalent in VROOM
  (its ``max_travel_time`` excludes waiting and service) and is refused.
* **Fleet.** One vehicle per unit of ``VehicleType.count`` (capped at the number of
  clients); per-type ``unit_distance_cost`` and ``fixed_cost``. OR-Tools gets every client
  as a droppable node with a penalty larger than any detour, so it always returns a plan;
  a dropped client makes the checker say "not served" (infeasible).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from cunzhan.logistics.planning.checker import check
from cunzhan.logistics.planning.problem import UNLIMITED, Problem, Route
from cunzhan.logistics.planning.solver import Plan

INSTALL_HINT = (
    "pip install -e '.[bench]'  (from the repository root: "
    + str(Path(__file__).resolve().parents[1])
    + ")"
)

#: VROOM reads matrices, windows and amounts as unsigned 32-bit integers.
UINT32_MAX = 2**32 - 1


class MissingLibrary(RuntimeError):
    """A benchmark library is not installed; the message says how to install it."""


def require(module: str) -> None:
    """Import ``module`` or raise :class:`MissingLibrary` with the install command."""
    try:
        __import__(module)
    except ImportError as exc:
        raise MissingLibrary(
            f"{module} is not installed ({exc}); install the benchmark extras: {INSTALL_HINT}"
        ) from None


def _plan(
    problem: Problem, routes: list[Route], started: float, tag: int, cost: int, ok: bool
) -> Plan:
    checked = check(problem, [(r.vehicle_type, r.clients) for r in routes])
    return Plan(
        routes=routes,
        check=checked,
        seed=tag,
        seconds=time.monotonic() - started,
        solver_cost=cost,
        solver_feasible=ok,
    )


def fleet_offered(problem: Problem) -> list[int]:
    """Vehicle type of every vehicle offered to VROOM and OR-Tools.

    A type's ``count`` is kept when it is a real limit. An *unlimited* fleet (the loaders
    give CVRP and VRPSPD files ``count`` = number of clients) is offered as
    ``2 × LB + 2`` vehicles, ``LB = ⌈max(total delivery, total pickup) / capacity⌉`` (the
    largest over load dimensions): far above any route count a good plan uses (the
    best-known plans use LB to LB + 1 routes), and it keeps OR-Tools' model from carrying
    hundreds of idle vehicles. Only with a single vehicle type; PyVRP gets the full count.
    """
    ncl = len(problem.clients)
    counts = [min(vt.count, ncl) for vt in problem.vehicle_types]
    if len(problem.vehicle_types) == 1 and counts[0] >= ncl:
        vt = problem.vehicle_types[0]
        lb = max(
            -(
                -max(
                    sum(c.delivery[k] for c in problem.clients),
                    sum(c.pickup[k] for c in problem.clients),
                )
                // max(1, vt.capacity[k])
            )
            for k in range(len(problem.dimensions))
        )
        counts[0] = min(counts[0], 2 * lb + 2)
    return [t for t, n in enumerate(counts) for _ in range(n)]


def _shift(problem: Problem, t: int) -> tuple[int, int]:
    vt = problem.vehicle_types[t]
    depot = problem.depots[vt.depot]
    return max(vt.tw_early, depot.tw_early), min(vt.tw_late, depot.tw_late)


# --- VROOM ---------------------------------------------------------------------------


def solve_vroom(
    problem: Problem, time_limit: float, threads: int = 2, exploration: int = 5
) -> Plan:
    """Solve with VROOM (``exploration`` 1–5, ``threads`` threads), stopping at ``time_limit``.

    VROOM is deterministic and usually finishes its search before the limit; the wall clock
    actually used is in ``Plan.seconds``.
    """
    require("vroom")
    import vroom

    started = time.monotonic()
    if any(vt.max_duration < UNLIMITED for vt in problem.vehicle_types):
        raise ValueError(f"{problem.name}: VROOM has no route-duration limit (max_duration)")
    if not problem.clients:
        return _plan(problem, [], started, 0, 0, True)
    for label, matrix in (("distance", problem.distance), ("duration", problem.duration)):
        top = max(max(row) for row in matrix)
        if top * max(vt.unit_distance_cost for vt in problem.vehicle_types) > UINT32_MAX:
            raise ValueError(f"{problem.name}: {label} matrix exceeds VROOM's 32-bit values")

    def window(early: int, late: int) -> list[Any]:
        if early <= 0 and late >= UINT32_MAX:
            return []
        return [vroom.TimeWindow(max(0, early), min(late, UINT32_MAX))]

    inp = vroom.Input()
    for t, vt in enumerate(problem.vehicle_types):
        profile = f"type{t}"
        inp.set_durations_matrix(profile, problem.duration)
        inp.set_costs_matrix(
            profile, [[d * vt.unit_distance_cost for d in row] for row in problem.distance]
        )
    vehicle_type: dict[int, int] = {}
    for v, t in enumerate(fleet_offered(problem), start=1):
        vt = problem.vehicle_types[t]
        early, late = _shift(problem, t)
        tw = window(early, late)
        inp.add_vehicle(
            vroom.Vehicle(
                v,
                start=vt.depot,
                end=vt.depot,
                profile=f"type{t}",
                capacity=vroom.Amount(list(vt.capacity)),
                time_window=tw[0] if tw else None,
                costs=vroom.VehicleCosts(fixed=vt.fixed_cost),
            )
        )
        vehicle_type[v] = t
    for i, c in enumerate(problem.clients):
        inp.add_job(
            vroom.Job(
                i + 1,
                location=problem.loc(i),
                default_service=c.service,
                delivery=vroom.Amount(list(c.delivery)),
                pickup=vroom.Amount(list(c.pickup)),
                time_windows=window(c.tw_early, c.tw_late),
            )
        )
    remaining = max(0.1, time_limit - (time.monotonic() - started))
    solution = inp.solve(
        exploration_level=exploration,
        nb_threads=threads,
        timeout=timedelta(seconds=remaining),
    )
    out = solution.to_dict()
    routes = [
        Route(
            vehicle_type[int(r["vehicle"])],
            tuple(int(s["id"]) - 1 for s in r["steps"] if s["type"] == "job"),
        )
        for r in out.get("routes", [])
    ]
    unassigned = len(out.get("unassigned", []))
    cost = int(out.get("summary", {}).get("cost", -1))
    return _plan(problem, routes, started, 0, cost, unassigned == 0)


# --- OR-Tools ------------------------------------------------------------------------

#: (first solution strategy, local search metaheuristic) per worker process.
#: ``NEAREST_NEIGHBOUR_START`` is not an OR-Tools strategy: the search starts from the
#: project's nearest-neighbour plan (``planning.baseline``, built inside the budget) and
#: falls back to ``SAVINGS`` when that plan needs more vehicles than the fleet has. With
#: OR-Tools' own constructions alone, the cross-dimension load constraint of
#: simultaneous pickup and delivery made the first solution take most of the budget on a
#: loaded machine (clients left unserved on the 200-client VRPSPD file).
ORTOOLS_STRATEGIES: tuple[tuple[str, str], ...] = (
    ("PARALLEL_CHEAPEST_INSERTION", "GUIDED_LOCAL_SEARCH"),
    ("NEAREST_NEIGHBOUR_START", "GUIDED_LOCAL_SEARCH"),
)


def _ortools_routes(
    problem: Problem, time_limit: float, strategy: tuple[str, str]
) -> tuple[list[Route], int, bool]:
    """One OR-Tools routing search in this process: (routes, objective, all clients served)."""
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    started = time.monotonic()
    ndep = len(problem.depots)
    n = problem.num_locations
    fleet = fleet_offered(problem)
    starts = [problem.vehicle_types[t].depot for t in fleet]
    manager = pywrapcp.RoutingIndexManager(n, len(fleet), starts, starts)
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()

    # Cost: distance × unit cost of the vehicle's type, fixed cost per used vehicle.
    cost_cb: dict[int, int] = {}
    for t, vt in enumerate(problem.vehicle_types):
        if t in fleet:
            cost_cb[t] = routing.RegisterTransitMatrix(
                [[d * vt.unit_distance_cost for d in row] for row in problem.distance]
            )
    for v, t in enumerate(fleet):
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[t], v)
        routing.SetFixedCostOfVehicle(problem.vehicle_types[t].fixed_cost, v)

    # Every client may be dropped, at a price above any saving from dropping it.
    top = max(max(row) for row in problem.distance)
    unit = max(vt.unit_distance_cost for vt in problem.vehicle_types)
    fixed = max(vt.fixed_cost for vt in problem.vehicle_types)
    penalty = 2 * (2 * top * unit + fixed + 1)
    for i in range(len(problem.clients)):
        routing.AddDisjunction([manager.NodeToIndex(problem.loc(i))], penalty)
    for d in range(ndep):  # a depot no vehicle starts from is not a stop
        if d not in starts:
            index = manager.NodeToIndex(d)
            routing.AddDisjunction([index], 0)
            solver.Add(routing.ActiveVar(index) == 0)

    # Loads, per dimension.
    for k, name in enumerate(problem.dimensions):
        caps = [problem.vehicle_types[t].capacity[k] for t in fleet]
        delivery = [0] * ndep + [c.delivery[k] for c in problem.clients]
        pickup = [0] * ndep + [c.pickup[k] for c in problem.clients]
        if not any(pickup) or not any(delivery):
            cb = routing.RegisterUnaryTransitVector(pickup if any(pickup) else delivery)
            routing.AddDimensionWithVehicleCapacity(cb, 0, caps, True, f"load_{name}")
            continue
        dcb = routing.RegisterUnaryTransitVector(delivery)
        routing.AddDimensionWithVehicleCapacity(dcb, 0, caps, True, f"delivered_{name}")
        lcb = routing.RegisterUnaryTransitVector(
            [p - d for p, d in zip(pickup, delivery, strict=True)]
        )
        routing.AddDimensionWithVehicleCapacity(lcb, 0, caps, False, f"load_{name}")
        delivered = routing.GetDimensionOrDie(f"delivered_{name}")
        load = routing.GetDimensionOrDie(f"load_{name}")
        for v in range(len(fleet)):
            solver.Add(load.CumulVar(routing.Start(v)) == delivered.CumulVar(routing.End(v)))

    # Time: travel + service at the origin, waiting as slack.
    shifts = [_shift(problem, t) for t in fleet]
    timed = (
        any(c.tw_late < UNLIMITED or c.tw_early > 0 for c in problem.clients)
        or any(late < UNLIMITED for _, late in shifts)
        or any(problem.vehicle_types[t].max_duration < UNLIMITED for t in fleet)
    )
    if timed:
        service = [0] * ndep + [c.service for c in problem.clients]
        transit = [[service[a] + problem.duration[a][b] for b in range(n)] for a in range(n)]
        horizon = max(
            [late for _, late in shifts if late < UNLIMITED]
            + [c.tw_late + c.service for c in problem.clients if c.tw_late < UNLIMITED],
            default=0,
        )
        if horizon == 0 or any(late >= UNLIMITED for _, late in shifts):
            horizon = max(horizon, sum(max(row) for row in transit) + horizon)
        tcb = routing.RegisterTransitMatrix(transit)
        routing.AddDimension(tcb, horizon, horizon, False, "time")
        tdim = routing.GetDimensionOrDie("time")
        for i, c in enumerate(problem.clients):
            tdim.CumulVar(manager.NodeToIndex(problem.loc(i))).SetRange(
                c.tw_early, min(c.tw_late, horizon)
            )
        for v, t in enumerate(fleet):
            early, late = shifts[v]
            late = min(late, horizon)
            tdim.CumulVar(routing.Start(v)).SetRange(early, late)
            tdim.CumulVar(routing.End(v)).SetRange(early, late)
            if problem.vehicle_types[t].max_duration < UNLIMITED:
                tdim.SetSpanUpperBoundForVehicle(problem.vehicle_types[t].max_duration, v)
            routing.AddVariableMinimizedByFinalizer(tdim.CumulVar(routing.End(v)))

    params = pywrapcp.DefaultRoutingSearchParameters()
    first, meta = strategy
    start_routes: list[list[int]] | None = None
    if first == "NEAREST_NEIGHBOUR_START":
        first = "SAVINGS"
        start_routes = _nearest_neighbour_start(problem, fleet)
    params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, first)
    params.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, meta)
    remaining = max(0.1, time_limit - (time.monotonic() - started))
    params.time_limit.FromMilliseconds(int(remaining * 1000))
    initial = None
    if start_routes is not None:
        routing.CloseModelWithParameters(params)
        initial = routing.ReadAssignmentFromRoutes(
            [[manager.NodeToIndex(node) for node in r] for r in start_routes], True
        )
    if initial is not None:
        solution = routing.SolveFromAssignmentWithParameters(initial, params)
    else:
        solution = routing.SolveWithParameters(params)
    if solution is None:
        return [], -1, False
    routes: list[Route] = []
    for v, t in enumerate(fleet):
        index = solution.Value(routing.NextVar(routing.Start(v)))
        stops: list[int] = []
        while not routing.IsEnd(index):
            stops.append(manager.IndexToNode(index) - ndep)
            index = solution.Value(routing.NextVar(index))
        if stops:
            routes.append(Route(t, tuple(stops)))
    served = sum(len(r.clients) for r in routes)
    return routes, int(solution.ObjectiveValue()), served == len(problem.clients)


def _nearest_neighbour_start(problem: Problem, fleet: list[int]) -> list[list[int]] | None:
    """The baseline plan as location lists per offered vehicle, or None if it does not fit."""
    from cunzhan.logistics.planning.baseline import nearest_neighbour

    plan = nearest_neighbour(problem)
    if not plan.feasible:
        return None
    free: dict[int, list[int]] = {}
    for v, t in enumerate(fleet):
        free.setdefault(t, []).append(v)
    out: list[list[int]] = [[] for _ in fleet]
    for r in plan.routes:
        if not free.get(r.vehicle_type):
            return None
        out[free[r.vehicle_type].pop(0)] = [problem.loc(c) for c in r.clients]
    return out


def solve_ortools(
    problem: Problem,
    time_limit: float,
    workers: int = 2,
    strategies: Sequence[tuple[str, str]] = ORTOOLS_STRATEGIES,
) -> Plan:
    """OR-Tools routing (one thread per search): ``workers`` searches with different
    first-solution strategies in parallel processes; the best plan the checker accepts."""
    require("ortools")
    started = time.monotonic()
    if not problem.clients:
        return _plan(problem, [], started, 0, 0, True)
    chosen = list(strategies)[: max(1, workers)]
    if len(chosen) == 1:
        results = [_ortools_routes(problem, time_limit, chosen[0])]
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=len(chosen), mp_context=ctx) as pool:
            # The process start-up counts against the budget: each search gets the
            # remaining time minus a margin for collecting the result.
            futures = [
                pool.submit(
                    _ortools_routes,
                    problem,
                    time_limit - (time.monotonic() - started) - 0.5,
                    s,
                )
                for s in chosen
            ]
            results = [f.result() for f in futures]
    best: Plan | None = None
    for k, (routes, cost, ok) in enumerate(results):
        plan = _plan(problem, routes, started, k, cost, ok)
        if (
            best is None
            or (plan.feasible and not best.feasible)
            or (plan.feasible == best.feasible and plan.cost < best.cost)
        ):
            best = plan
    assert best is not None
    best.seconds = time.monotonic() - started
    return best
