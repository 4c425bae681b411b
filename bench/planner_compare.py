"""Benchmark: the planner (PyVRP portfolio) beside VROOM, OR-Tools and a naive baseline.

    make bench-planner        # installs the benchmark extras, then runs this at 30 s
    nice .venv/bin/python bench/planner_compare.py [--time-limit 30] [--workers 2]
        [--solvers pyvrp,vroom,ortools,baseline] [--only SUBSTRING] [--json out.json]

VROOM and OR-Tools are not in the ``dev`` install: ``pip install -e '.[bench]'``.

Every file in ``data/vrp`` is loaded once with ``cunzhan.logistics.planning.loaders`` into
the integer ``Problem``; each library is given that same problem (same integer distance
and duration matrices, loads, windows, service times, fleet; see ``planner_others.py``)
and the same wall-clock budget ``--time-limit``, measured around the whole call (model
build, process start-up, search). Cores: PyVRP runs ``--workers`` seeds in parallel
processes; VROOM runs with ``--workers`` threads; OR-Tools routing is single-threaded, so
``--workers`` searches with different first-solution strategies run in parallel
processes. The libraries run one after the other, never at the same time.

Every plan — whatever the library says about it — is re-checked here by the project's
independent checker (``planning.checker.check``): ``feasible`` and ``cost`` (in the
instance's own convention) come from the checker only. A library that calls a plan
feasible when the checker does not is reported on stderr and in the table.

The gap is ``(cost − best known) / best known`` with the values of ``data/vrp/README.md``
(VRPSPDTW: LKH-3's distance-only column). Targets (issue 3), for PyVRP: mean gap ≤ 0.5 %,
none above 1.5 %, never worse than either other library on any family.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from planner import DATA, best_known  # noqa: E402
from planner_others import MissingLibrary, require, solve_ortools, solve_vroom  # noqa: E402

from cunzhan.logistics.planning.baseline import nearest_neighbour  # noqa: E402
from cunzhan.logistics.planning.checker import check  # noqa: E402
from cunzhan.logistics.planning.loaders import load_instance  # noqa: E402
from cunzhan.logistics.planning.problem import Problem  # noqa: E402
from cunzhan.logistics.planning.solver import Plan, solve  # noqa: E402

FAMILIES = {
    "cvrp_x": "CVRP",
    "vrptw_solomon": "VRPTW",
    "vrpspd": "VRPSPD",
    "vrpspdtw": "VRPSPDTW",
}
SOLVERS = ("pyvrp", "vroom", "ortools", "baseline")
LABEL = {"pyvrp": "PyVRP", "vroom": "VROOM", "ortools": "OR-Tools", "baseline": "NN baseline"}
LIBRARY = {"vroom": "vroom", "ortools": "ortools"}


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def runners(time_limit: float, seed: int, workers: int) -> dict[str, Callable[[Problem], Plan]]:
    return {
        "pyvrp": lambda p: solve(p, time_limit, seed=seed, workers=workers),
        "vroom": lambda p: solve_vroom(p, time_limit, threads=workers),
        "ortools": lambda p: solve_ortools(p, time_limit, workers=workers),
        "baseline": nearest_neighbour,
    }


def run_one(name: str, problem: Problem, runner: Callable[[Problem], Plan]) -> dict:
    started = time.perf_counter()
    plan = runner(problem)
    seconds = time.perf_counter() - started
    # The verdict is recomputed here from the routes alone, not taken from the adapter.
    verdict = check(problem, [(r.vehicle_type, r.clients) for r in plan.routes])
    lied = plan.solver_feasible and not verdict.feasible and name != "baseline"
    if lied:
        print(
            f"WARNING {problem.name} {name}: the library calls its plan feasible, the checker "
            f"does not: {verdict.violations[:5]}",
            file=sys.stderr,
            flush=True,
        )
    served = {c for r in plan.routes for c in r.clients}
    return {
        "cost": round(verdict.cost, 3),
        "unserved": len(problem.clients) - len(served),
        "feasible": verdict.feasible,
        "violations": verdict.violations[:5],
        "library_says_feasible": plan.solver_feasible,
        "library_cost": plan.solver_cost,
        "routes": sum(1 for r in plan.routes if r.clients),
        "seconds": round(seconds, 1),
        "load_1min": round(os.getloadavg()[0], 1),
    }


def cell(r: dict | None, ref: float | None) -> str:
    if r is None:
        return "—"
    if r.get("unserved"):  # a partial plan's cost means nothing
        return f"**infeasible**: {r['unserved']} clients not served"
    text = f"{r['cost']:g}"
    if ref:
        text += f" ({100 * (r['cost'] - ref) / ref:+.2f} %)"
    if not r["feasible"]:
        text += " **infeasible**"
    return text


def gap(r: dict | None, ref: float | None) -> float | None:
    """Gap in %, or None when there is no plan, no reference, or the plan is infeasible."""
    if r is None or not ref or not r["feasible"]:
        return None
    return 100 * (r["cost"] - ref) / ref


def report(rows: list[dict], solvers: list[str], args: argparse.Namespace) -> str:
    out: list[str] = []
    libs = [s for s in solvers if s != "baseline"]
    out.append(
        f"Budget {args.time_limit:g} s wall clock per library and instance, "
        f"{args.workers} cores each (PyVRP {version('pyvrp')}: {args.workers} seeds in "
        f"processes; VROOM/pyvroom {version('pyvroom')}: {args.workers} threads; OR-Tools "
        f"{version('ortools')}: {args.workers} single-threaded searches in processes). "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n"
    )
    head = ["instance", "family", "n", "best known", *(LABEL[s] for s in solvers)]
    head.append("s (" + " / ".join(LABEL[s] for s in solvers) + ")")
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "---|" * len(head))
    for row in rows:
        ref = row["best_known"]
        cells = [row["instance"], row["family"], str(row["n"]), f"{ref:g}" if ref else "—"]
        cells += [cell(row.get(s), ref) for s in solvers]
        cells.append(" / ".join(f"{row[s]['seconds']:g}" if s in row else "—" for s in solvers))
        out.append("| " + " | ".join(cells) + " |")

    out.append("\nPer family: mean gap over the family's files (infeasible = no value).\n")
    out.append("| family | files | " + " | ".join(LABEL[s] for s in solvers) + " | best |")
    out.append("|---|---|" + "---|" * (len(solvers) + 1))
    families = sorted({r["family"] for r in rows}, key=list(FAMILIES.values()).index)
    per_family: dict[str, dict[str, float | None]] = {}
    for fam in families:
        frows = [r for r in rows if r["family"] == fam]
        means: dict[str, float | None] = {}
        for s in solvers:
            gaps = [gap(r.get(s), r["best_known"]) for r in frows]
            means[s] = None if any(g is None for g in gaps) else sum(gaps) / len(gaps)  # type: ignore[arg-type]
        per_family[fam] = means
        ranked = [s for s in libs if means[s] is not None]
        top = min((means[s] for s in ranked), default=None)  # type: ignore[type-var]
        best = " = ".join(
            LABEL[s]
            for s in ranked
            if top is not None and means[s] <= top + 0.005  # type: ignore[operator]
        )
        out.append(
            f"| {fam} | {len(frows)} | "
            + " | ".join("—" if means[s] is None else f"{means[s]:+.2f} %" for s in solvers)
            + f" | {best or '—'} |"
        )

    out.append("")
    for s in solvers:
        gaps = [gap(r.get(s), r["best_known"]) for r in rows if s in r]
        ok = [g for g in gaps if g is not None]
        feasible = sum(1 for r in rows if s in r and r[s]["feasible"])
        lied = sum(
            1 for r in rows if s in r and r[s]["library_says_feasible"] and not r[s]["feasible"]
        )
        line = f"- {LABEL[s]}: feasible {feasible}/{len(gaps)}"
        if ok:
            line += (
                f"; over feasible plans mean gap {sum(ok) / len(ok):+.2f} %, worst {max(ok):+.2f} %"
            )
        if lied and s != "baseline":
            line += f"; **{lied} plan(s) the library called feasible were not**"
        out.append(line + ".")
    if "pyvrp" in solvers:
        gaps = [gap(r.get("pyvrp"), r["best_known"]) for r in rows]
        all_ok = all(g is not None for g in gaps)
        ok = [g for g in gaps if g is not None]
        mean_ok = all_ok and bool(ok) and sum(ok) / len(ok) <= 0.5
        worst_ok = all_ok and bool(ok) and max(ok) <= 1.5
        beaten = [
            f"{fam} by {LABEL[s]}"
            for fam, means in per_family.items()
            for s in libs
            if s != "pyvrp"
            and means[s] is not None
            and (means["pyvrp"] is None or means["pyvrp"] > means[s] + 1e-9)
        ]
        out.append(
            f"\nTargets for PyVRP: mean gap ≤ 0.5 % — {'met' if mean_ok else 'NOT met'}; "
            f"none above 1.5 % — {'met' if worst_ok else 'NOT met'}; never worse than "
            "another library on a family — "
            + ("met" if not beaten else "NOT met (" + ", ".join(beaten) + ")")
            + "."
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="cores given to each library")
    parser.add_argument("--solvers", default=",".join(SOLVERS))
    parser.add_argument("--only", help="only files whose path contains this")
    parser.add_argument("--json", help="also write the rows as JSON to this file (after each file)")
    args = parser.parse_args()
    solvers = [s.strip() for s in args.solvers.split(",") if s.strip()]
    unknown = [s for s in solvers if s not in SOLVERS]
    if unknown:
        parser.error(f"unknown solver(s) {unknown}; choose from {', '.join(SOLVERS)}")
    for s in solvers:
        if s in LIBRARY:
            try:
                require(LIBRARY[s])
            except MissingLibrary as exc:
                sys.exit(f"{exc}\n(or leave it out: --solvers pyvrp,baseline)")
    best = best_known()
    run = runners(args.time_limit, args.seed, args.workers)
    files = sorted(
        p
        for p in DATA.glob("*/*")
        if p.is_file() and p.suffix not in (".md", ".sol") and (args.only or "") in str(p)
    )
    rows: list[dict] = []
    for path in files:
        key = f"{path.parent.name}/{path.name.split('.')[0]}"
        problem = load_instance(path)
        row: dict = {
            "instance": key,
            "family": FAMILIES.get(path.parent.name, path.parent.name),
            "n": len(problem.clients),
            "best_known": best.get(key),
        }
        for s in solvers:
            row[s] = run_one(s, problem, run[s])
            print(json.dumps({"instance": key, "solver": s, **row[s]}), file=sys.stderr, flush=True)
        rows.append(row)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(report(rows, solvers, args))


if __name__ == "__main__":
    main()
