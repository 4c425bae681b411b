"""``cunzhan plan-instance PATH --time-limit S [--seed N]``: solve a benchmark file.

Prints one JSON object ``{"instance", "cost", "routes", "feasible", "seconds"}``: the
cost in the instance's own distance convention, ``routes`` as the instance's customer
numbers, ``feasible`` from the independent checker (not from the solver).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cunzhan.logistics.planning.loaders import InstanceFormatError, load_instance
from cunzhan.logistics.planning.solver import solve


class Command(BaseCommand):
    help = (
        "Solve a vehicle-routing benchmark file (VRPLIB CVRP, Solomon VRPTW, LKH-3 "
        "VRPSPD/VRPSPDTW) with the daily planner and print one JSON object."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("path", help="the instance file")
        parser.add_argument("--time-limit", type=float, default=10.0, help="seconds per seed")
        parser.add_argument("--seed", type=int, default=0, help="first seed of the portfolio")
        parser.add_argument(
            "--workers", type=int, default=2, help="seeds solved in parallel processes"
        )

    def handle(self, *args: Any, **o: Any) -> None:
        if not o["time_limit"] > 0:
            raise CommandError("--time-limit must be a positive number of seconds")
        if o["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        try:
            problem = load_instance(o["path"])
        except InstanceFormatError as exc:
            raise CommandError(str(exc)) from exc
        plan = solve(problem, time_limit=o["time_limit"], seed=o["seed"], workers=o["workers"])
        cost: float | int = plan.cost
        if problem.convention.kind == "rounded_euc_2d":
            cost = round(cost)
        elif problem.convention.kind == "truncated_1dec":
            cost = round(cost, 1)
        else:
            cost = round(cost, 3)
        out = {
            "instance": problem.name,
            "cost": cost,
            "routes": [
                [problem.clients[c].ident for c in r.clients] for r in plan.routes if r.clients
            ],
            "feasible": plan.feasible,
            "seconds": round(plan.seconds, 2),
        }
        self.stdout.write(json.dumps(out, ensure_ascii=False))
