"""Benchmark: the daily planner on every instance in data/vrp.

    .venv/bin/python bench/planner.py [--time-limit 30] [--seed 0] [--workers 2] [--json out.json]

For each file: load it with ``cunzhan.logistics.planning.loaders``, solve it with the
PyVRP portfolio (``--workers`` seeds in parallel processes, ``--time-limit`` seconds
each, wall clock measured around the whole call), check the plan with the independent
checker, and run the nearest-neighbour baseline (also checked). The gap is
``(cost − best known) / best known`` with the best-known values read from the tables in
``data/vrp/README.md`` (VRPSPDTW: LKH-3's distance-only column). Prints a Markdown table
for ``docs/benchmarks.md``. Targets (issue 3): mean gap ≤ 0.5 %, none above 1.5 %.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "vrp"
sys.path.insert(0, str(ROOT / "src"))

from cunzhan.logistics.planning.baseline import nearest_neighbour  # noqa: E402
from cunzhan.logistics.planning.loaders import load_instance  # noqa: E402
from cunzhan.logistics.planning.solver import solve  # noqa: E402


def best_known() -> dict[str, float]:
    """``{"cvrp_x/X-n101-k25": 27591.0, …}`` from the README's tables (last column)."""
    best: dict[str, float] = {}
    folder = ""
    for line in (DATA / "README.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"## `([^`]+)/`", line)
        if m:
            folder = m.group(1)
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not folder or len(cells) < 3 or not re.match(r"^[\w-]+\.", cells[0]):
            continue
        number = re.match(r"[\d.]+", cells[-1])
        if number:
            best[f"{folder}/{cells[0].split('.')[0]}"] = float(number.group(0))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the rows as JSON to this file")
    args = parser.parse_args()
    best = best_known()
    files = sorted(p for p in DATA.glob("*/*") if p.is_file() and p.suffix not in (".md", ".sol"))
    rows = []
    for path in files:
        key = f"{path.parent.name}/{path.name.split('.')[0]}"
        problem = load_instance(path)
        started = time.perf_counter()
        plan = solve(problem, args.time_limit, seed=args.seed, workers=args.workers)
        seconds = time.perf_counter() - started
        base = nearest_neighbour(problem)
        ref = best.get(key)
        rows.append(
            {
                "instance": key,
                "n": len(problem.clients),
                "best_known": ref,
                "cost": round(plan.cost, 3),
                "gap_pct": None if ref is None else round(100 * (plan.cost - ref) / ref, 2),
                "feasible": plan.feasible,
                "routes": sum(1 for r in plan.routes if r.clients),
                "seconds": round(seconds, 1),
                "baseline_cost": round(base.cost, 3),
                "baseline_gap_pct": None
                if ref is None
                else round(100 * (base.cost - ref) / ref, 1),
                "baseline_feasible": base.feasible,
                "baseline_routes": len(base.routes),
            }
        )
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    gaps = [r["gap_pct"] for r in rows if r["gap_pct"] is not None]
    print(
        f"PyVRP 0.14 portfolio, {args.workers} seeds × {args.time_limit:g} s "
        f"(seed {args.seed}…), {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}\n"
    )
    print(
        "| instance | n | best known | cost | gap | feasible | routes | s "
        "| NN baseline | NN gap | NN feasible (routes) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['instance']} | {r['n']} | {r['best_known']:g} | {r['cost']:g} "
            f"| {r['gap_pct']:+.2f} % | {'yes' if r['feasible'] else 'NO'} | {r['routes']} "
            f"| {r['seconds']} | {r['baseline_cost']:g} | {r['baseline_gap_pct']:+.1f} % "
            f"| {'yes' if r['baseline_feasible'] else 'no'} ({r['baseline_routes']}) |"
        )
    if gaps:
        print(
            f"\nMean gap {sum(gaps) / len(gaps):+.2f} %, worst {max(gaps):+.2f} %; "
            f"feasible {sum(r['feasible'] for r in rows)}/{len(rows)}."
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
