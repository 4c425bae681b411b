"""Solve a :class:`Problem` with PyVRP 0.14 (ADR 0008).

One PyVRP solve uses one core; :func:`solve` runs a portfolio of seeds in separate
processes (``workers``, default 2 = the machine's cores) and keeps the best plan the
independent checker accepts (lowest cost; a feasible plan always beats an infeasible one).
"""

from __future__ import annotations

import multiprocessing
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from cunzhan.logistics.planning.checker import CheckResult, check
from cunzhan.logistics.planning.problem import Problem, Route


@dataclass
class Plan:
    routes: list[Route]
    check: CheckResult
    seed: int
    seconds: float
    solver_cost: int  # PyVRP's objective on the integer data
    solver_feasible: bool

    @property
    def feasible(self) -> bool:
        return self.check.feasible

    @property
    def cost(self) -> float:
        return self.check.cost


def build_model(problem: Problem):  # -> pyvrp.Model (pyvrp is imported lazily)
    """Translate ``problem`` into a ``pyvrp.Model`` (integer data throughout)."""
    from pyvrp import Model

    m = Model()
    locations = [m.add_location(d.x, d.y, name=f"D{d.ident}") for d in problem.depots] + [
        m.add_location(c.x, c.y, name=str(c.ident)) for c in problem.clients
    ]
    depots = [
        m.add_depot(locations[i], tw_early=d.tw_early, tw_late=d.tw_late)
        for i, d in enumerate(problem.depots)
    ]
    for i, c in enumerate(problem.clients):
        m.add_client(
            locations[problem.loc(i)],
            delivery=list(c.delivery),
            pickup=list(c.pickup),
            service_duration=c.service,
            tw_early=c.tw_early,
            tw_late=c.tw_late,
            required=c.required,
            prize=c.prize,
            name=str(c.ident),
        )
    for vt in problem.vehicle_types:
        depot = depots[vt.depot]
        m.add_vehicle_type(
            num_available=vt.count,
            capacity=list(vt.capacity),
            start_depot=depot,
            end_depot=depot,
            fixed_cost=vt.fixed_cost,
            tw_early=max(vt.tw_early, problem.depots[vt.depot].tw_early),
            tw_late=min(vt.tw_late, problem.depots[vt.depot].tw_late),
            shift_duration=vt.max_duration,
            unit_distance_cost=vt.unit_distance_cost,
            name=vt.name,
        )
    dist, dur = problem.distance, problem.duration
    for a, frm in enumerate(locations):
        drow, trow = dist[a], dur[a]
        for b, to in enumerate(locations):
            if a != b:
                m.add_edge(frm, to, distance=drow[b], duration=trow[b])
    return m


def _params(problem: Problem):  # -> pyvrp.SolveParams
    """PyVRP's defaults, except that with optional clients the penalties for excess load
    and lateness may grow beyond the largest prize: otherwise breaking a capacity can
    look cheaper to the search than leaving a client out."""
    from pyvrp import PenaltyParams, SolveParams

    top = max((c.prize for c in problem.clients if not c.required), default=0)
    if not top:
        return SolveParams()
    return SolveParams(penalty=PenaltyParams(max_penalty=float(max(100_000, 10 * top))))


def solve_one(
    problem: Problem, time_limit: float, seed: int, deadline: float | None = None
) -> Plan:
    """One PyVRP run in this process; ``deadline`` (wall clock, ``time.time()``) also
    bounds it, so that starting a worker process counts against the caller's budget."""
    from pyvrp.stop import MaxRuntime

    started = time.monotonic()
    model = build_model(problem)
    remaining = time_limit - (time.monotonic() - started)
    if deadline is not None:
        remaining = min(remaining, deadline - time.time())
    remaining = max(0.05, remaining)
    with warnings.catch_warnings():
        # "penalty reached its maximum": the instance may have no feasible plan; the
        # checker's verdict (feasible: false) says so in the result instead.
        warnings.simplefilter("ignore", UserWarning)
        result = model.solve(
            MaxRuntime(remaining),
            seed=seed,
            display=False,
            collect_stats=False,
            params=_params(problem),
        )
    routes = [
        Route(
            vehicle_type=r.vehicle_type(),
            clients=tuple(a.idx for a in r if a.is_client()),
        )
        for r in result.best.routes()
    ]
    checked = check(problem, [(r.vehicle_type, r.clients) for r in routes])
    return Plan(
        routes=routes,
        check=checked,
        seed=seed,
        seconds=time.monotonic() - started,
        solver_cost=int(result.cost()) if result.is_feasible() else -1,
        solver_feasible=result.is_feasible(),
    )


def _better(a: Plan, b: Plan) -> Plan:
    if a.feasible != b.feasible:
        return a if a.feasible else b
    return a if a.cost <= b.cost else b


def solve(
    problem: Problem,
    time_limit: float,
    seed: int = 0,
    workers: int = 2,
    *,
    wall_clock: bool = False,
) -> Plan:
    """Portfolio: seeds ``seed … seed + workers − 1`` in parallel processes; the best plan.

    ``time_limit`` is each seed's search time; with ``wall_clock`` the whole call
    (process start-up included) keeps within it instead — what a person waiting for a
    plan is promised (the daily plan, the county benchmark)."""
    if time_limit <= 0:
        raise ValueError("time limit must be positive")
    if not problem.clients:
        return Plan([], check(problem, []), seed, 0.0, 0, True)
    started = time.monotonic()
    # the whole call within the budget: process start-up, the final check and the
    # answer's transfer take the margin
    deadline = time.time() + time_limit - min(3.0, 0.1 * time_limit) if wall_clock else None
    if workers <= 1:
        plan = solve_one(problem, time_limit, seed, deadline)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = [
                pool.submit(solve_one, problem, time_limit, seed + k, deadline)
                for k in range(workers)
            ]
            plans = [f.result() for f in futures]
        plan = plans[0]
        for other in plans[1:]:
            plan = _better(plan, other)
    plan.seconds = time.monotonic() - started
    return plan
