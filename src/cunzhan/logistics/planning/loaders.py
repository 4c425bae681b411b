"""Readers for benchmark instances → :class:`Problem` with integer data.

* VRPLIB CVRP (``TYPE : CVRP``, ``EDGE_WEIGHT_TYPE : EUC_2D``): arcs rounded to the
  nearest integer (``nint``), scale 1, unlimited fleet.
* Solomon VRPTW text: DIMACS convention, distances and times truncated to one decimal
  → integers ×10; fleet and capacity from the ``VEHICLE`` block.
* LKH-3 ``VRPSPD`` / ``VRPSPDTW``: ``PICKUP_AND_DELIVERY_SECTION`` rows are
  ``node, demand (unused), earliest, latest, service, PICKUP, DELIVERY``. ``EXPLICIT``
  integer matrices (distance ×10⁴) are kept as they are (scale 10⁴); ``EXACT_2D``
  coordinates → distances ×1000 rounded, travel times ×1000 rounded *up* (so a plan
  feasible on integers is feasible on the real values).

Anything else raises :class:`InstanceFormatError` naming the file and the problem.
"""

from __future__ import annotations

import math
from pathlib import Path

from cunzhan.logistics.planning.problem import (
    UNLIMITED,
    Client,
    Convention,
    Depot,
    Problem,
    VehicleType,
)

EXACT_2D_SCALE = 1000


class InstanceFormatError(ValueError):
    """The file is not an instance this module can read; the message says why."""


def load_instance(path: str | Path) -> Problem:
    """Detect the format of ``path`` and load it."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InstanceFormatError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise InstanceFormatError(f"{p}: is a directory, not an instance file") from None
    except UnicodeDecodeError:
        raise InstanceFormatError(f"{p}: not a text file (not UTF-8)") from None
    except OSError as exc:
        raise InstanceFormatError(f"{p}: cannot be read ({exc.strerror})") from None
    try:
        header = _vrplib_header(text)
        if header:
            kind = header.get("TYPE", "").upper()
            if kind == "CVRP":
                return _load_cvrp(p, text, header)
            if kind in ("VRPSPD", "VRPSPDTW"):
                return _load_lkh_spd(p, text, header)
            raise InstanceFormatError(
                f"{p}: VRPLIB TYPE {kind or '(missing)'!r} is not supported "
                "(CVRP, VRPSPD, VRPSPDTW are)"
            )
        if _looks_solomon(text):
            return _load_solomon(p, text)
    except InstanceFormatError:
        raise
    except (ValueError, IndexError, KeyError) as exc:
        raise InstanceFormatError(f"{p}: malformed instance ({exc})") from None
    raise InstanceFormatError(
        f"{p}: unknown instance format (expected VRPLIB CVRP, Solomon VRPTW, "
        "or LKH-3 VRPSPD/VRPSPDTW)"
    )


# --- VRPLIB-style files --------------------------------------------------------------


def _vrplib_header(text: str) -> dict[str, str]:
    header: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if ":" not in line or line.split()[0].endswith("SECTION"):
            break
        key, _, value = line.partition(":")
        header[key.strip().upper()] = value.strip()
    return header if "TYPE" in header or "DIMENSION" in header else {}


def _sections(text: str) -> dict[str, list[list[str]]]:
    """Rows (split on whitespace) of every ``*_SECTION`` up to the next keyword."""
    sections: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for raw in text.splitlines():
        tokens = raw.split()
        if not tokens:
            continue
        head = tokens[0].upper().rstrip(":")
        if head.endswith("_SECTION"):
            current = sections.setdefault(head, [])
            continue
        if head == "EOF" or (":" in raw and not _is_number(tokens[0])):
            current = None
            continue
        if current is not None:
            current.append(tokens)
    return sections


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _dimension(p: Path, header: dict[str, str]) -> int:
    try:
        n = int(header["DIMENSION"])
    except (KeyError, ValueError):
        raise InstanceFormatError(f"{p}: DIMENSION missing or not an integer") from None
    if n < 2:
        raise InstanceFormatError(f"{p}: DIMENSION {n} leaves no customer")
    return n


def _coords(p: Path, sections: dict[str, list[list[str]]], n: int) -> list[tuple[float, float]]:
    rows = sections.get("NODE_COORD_SECTION")
    if rows is None:
        raise InstanceFormatError(f"{p}: NODE_COORD_SECTION missing")
    if len(rows) != n:
        raise InstanceFormatError(f"{p}: NODE_COORD_SECTION has {len(rows)} rows, DIMENSION {n}")
    out: list[tuple[float, float]] = []
    for i, row in enumerate(rows, start=1):
        if int(row[0]) != i:
            raise InstanceFormatError(f"{p}: NODE_COORD_SECTION row {i} is numbered {row[0]}")
        out.append((float(row[1]), float(row[2])))
    return out


def _depot_node(p: Path, sections: dict[str, list[list[str]]]) -> int:
    rows = [r for r in sections.get("DEPOT_SECTION", []) if r[0] != "-1"]
    if len(rows) != 1:
        raise InstanceFormatError(f"{p}: exactly one depot expected in DEPOT_SECTION")
    return int(rows[0][0])


def _load_cvrp(p: Path, text: str, header: dict[str, str]) -> Problem:
    n = _dimension(p, header)
    if header.get("EDGE_WEIGHT_TYPE", "").upper() != "EUC_2D":
        raise InstanceFormatError(f"{p}: CVRP with EDGE_WEIGHT_TYPE other than EUC_2D")
    capacity = int(header["CAPACITY"])
    sections = _sections(text)
    xy = _coords(p, sections, n)
    demand_rows = sections.get("DEMAND_SECTION")
    if demand_rows is None or len(demand_rows) != n:
        raise InstanceFormatError(f"{p}: DEMAND_SECTION missing or not {n} rows")
    demand = {int(r[0]): int(r[1]) for r in demand_rows}
    depot_node = _depot_node(p, sections)
    # Order: depot first, then the other nodes in file order. ident = node - 1 (.sol numbering).
    order = [depot_node] + [i for i in range(1, n + 1) if i != depot_node]
    pts = [xy[i - 1] for i in order]
    matrix = [[0 if a == b else round(math.dist(a, b)) for b in pts] for a in pts]
    dx, dy = pts[0]
    clients = [
        Client(ident=i - 1, delivery=(demand[i],), pickup=(0,), x=xy[i - 1][0], y=xy[i - 1][1])
        for i in order[1:]
    ]
    return Problem(
        name=header.get("NAME", p.stem),
        depots=[Depot(ident=depot_node - 1, x=dx, y=dy)],
        clients=clients,
        vehicle_types=[VehicleType(count=n - 1, capacity=(capacity,))],
        distance=matrix,
        duration=[row[:] for row in matrix],
        convention=Convention("rounded_euc_2d", 1),
        dimensions=("demand",),
        source_format="vrplib-cvrp",
    )


def _load_lkh_spd(p: Path, text: str, header: dict[str, str]) -> Problem:
    kind = header["TYPE"].upper()
    n = _dimension(p, header)
    capacity = int(header["CAPACITY"])
    sections = _sections(text)
    rows = sections.get("PICKUP_AND_DELIVERY_SECTION")
    if rows is None:
        raise InstanceFormatError(f"{p}: {kind} without PICKUP_AND_DELIVERY_SECTION")
    if len(rows) != n or any(len(r) != 7 for r in rows):
        raise InstanceFormatError(
            f"{p}: PICKUP_AND_DELIVERY_SECTION must have {n} rows of 7 columns "
            "(node, demand, earliest, latest, service, pickup, delivery)"
        )
    weight_type = header.get("EDGE_WEIGHT_TYPE", "").upper()
    xy: list[tuple[float, float]] = [(0.0, 0.0)] * n
    if weight_type == "EXPLICIT":
        if header.get("EDGE_WEIGHT_FORMAT", "").upper() != "FULL_MATRIX":
            raise InstanceFormatError(f"{p}: only EDGE_WEIGHT_FORMAT FULL_MATRIX is supported")
        flat = [int(t) for r in sections.get("EDGE_WEIGHT_SECTION", []) for t in r]
        if len(flat) != n * n:
            raise InstanceFormatError(f"{p}: EDGE_WEIGHT_SECTION has {len(flat)} values, not {n}²")
        raw = [flat[i * n : (i + 1) * n] for i in range(n)]
        scale = 10_000  # Dethloff's matrices are distance × 10⁴
        convention = Convention("explicit", scale)
        dist_raw = raw
        dur_raw = raw
    elif weight_type == "EXACT_2D":
        xy = _coords(p, sections, n)
        scale = EXACT_2D_SCALE
        convention = Convention("exact_2d", scale)
        real = [[math.dist(a, b) * scale for b in xy] for a in xy]
        dist_raw = [[round(v) for v in row] for row in real]
        dur_raw = [[math.ceil(v - 1e-9) for v in row] for row in real]
    else:
        raise InstanceFormatError(f"{p}: EDGE_WEIGHT_TYPE {weight_type!r} is not supported")

    by_node = {int(r[0]): r for r in rows}
    depot_node = _depot_node(p, sections)
    order = [depot_node] + [i for i in range(1, n + 1) if i != depot_node]
    idx = [i - 1 for i in order]
    distance = [[dist_raw[a][b] if a != b else 0 for b in idx] for a in idx]
    duration = [[dur_raw[a][b] if a != b else 0 for b in idx] for a in idx]
    time_scale = scale  # windows and service times share the distance units

    def window(r: list[str]) -> tuple[int, int]:
        return (
            min(int(float(r[2]) * time_scale), UNLIMITED),
            min(int(float(r[3]) * time_scale), UNLIMITED),
        )

    drow = by_node[depot_node]
    d_early, d_late = window(drow)
    clients = []
    for node in order[1:]:
        r = by_node[node]
        early, late = window(r)
        clients.append(
            Client(
                ident=node - 1,
                delivery=(int(r[6]),),
                pickup=(int(r[5]),),
                service=int(float(r[4]) * time_scale),
                tw_early=early,
                tw_late=late,
                x=xy[node - 1][0],
                y=xy[node - 1][1],
            )
        )
    vehicles = int(header.get("VEHICLES", n - 1))
    # VRPSPD: distance objective with an unlimited fleet; VRPSPDTW: the file's VEHICLES
    # (the route count the reference distance-only values were obtained with).
    count = vehicles if kind == "VRPSPDTW" else n - 1
    return Problem(
        name=header.get("NAME", p.stem),
        depots=[Depot(depot_node - 1, d_early, d_late, *xy[depot_node - 1])],
        clients=clients,
        vehicle_types=[
            VehicleType(count=count, capacity=(capacity,), tw_early=d_early, tw_late=d_late)
        ],
        distance=distance,
        duration=duration,
        convention=convention,
        dimensions=("load",),
        source_format=f"lkh3-{kind.lower()}",
        meta={"vehicles_in_file": vehicles},
    )


# --- Solomon ---------------------------------------------------------------------------


def _looks_solomon(text: str) -> bool:
    upper = text.upper()
    return "VEHICLE" in upper and "CUSTOMER" in upper and "CAPACITY" in upper


def _load_solomon(p: Path, text: str) -> Problem:
    lines = [line.strip() for line in text.splitlines()]
    name = next((line for line in lines if line), p.stem)
    try:
        v = next(i for i, line in enumerate(lines) if line.upper().startswith("NUMBER"))
        fleet, capacity = (int(t) for t in lines[v + 1].split()[:2])
    except (StopIteration, ValueError):
        raise InstanceFormatError(
            f"{p}: Solomon VEHICLE block (NUMBER CAPACITY) unreadable"
        ) from None
    c = next(i for i, line in enumerate(lines) if line.upper().startswith("CUST NO"))
    rows = [line.split() for line in lines[c + 1 :] if line]
    if any(len(r) != 7 for r in rows):
        raise InstanceFormatError(f"{p}: Solomon customer rows must have 7 columns")
    if len(rows) < 2:
        raise InstanceFormatError(f"{p}: Solomon file without customers")
    if int(rows[0][0]) != 0:
        raise InstanceFormatError(f"{p}: Solomon depot must be customer 0")
    pts = [(float(r[1]), float(r[2])) for r in rows]
    # DIMACS: truncate each distance to one decimal → integer tenths.
    matrix = [[math.floor(math.dist(a, b) * 10 + 1e-9) if a != b else 0 for b in pts] for a in pts]
    for i in range(len(pts)):
        matrix[i][i] = 0

    def t10(x: str) -> int:
        return round(float(x) * 10)

    d = rows[0]
    depot = Depot(ident=0, tw_early=t10(d[4]), tw_late=t10(d[5]), x=pts[0][0], y=pts[0][1])
    clients = [
        Client(
            ident=int(r[0]),
            delivery=(int(r[3]),),
            pickup=(0,),
            service=t10(r[6]),
            tw_early=t10(r[4]),
            tw_late=t10(r[5]),
            x=pts[i][0],
            y=pts[i][1],
        )
        for i, r in enumerate(rows)
        if i > 0
    ]
    return Problem(
        name=name,
        depots=[depot],
        clients=clients,
        vehicle_types=[
            VehicleType(
                count=fleet,
                capacity=(capacity,),
                tw_early=depot.tw_early,
                tw_late=depot.tw_late,
            )
        ],
        distance=matrix,
        duration=[row[:] for row in matrix],
        convention=Convention("truncated_1dec", 10),
        dimensions=("demand",),
        source_format="solomon",
    )


def load_routes(path: str | Path, problem: Problem) -> list[list[int]]:
    """Read a ``.sol`` file (``Route #k: ids…``) as lists of client *indices*."""
    by_ident = {c.ident: i for i, c in enumerate(problem.clients)}
    routes: list[list[int]] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.upper().startswith("ROUTE"):
            ids = line.partition(":")[2].split()
            try:
                routes.append([by_ident[int(t)] for t in ids])
            except (KeyError, ValueError):
                raise InstanceFormatError(f"{path}: unknown customer in {line!r}") from None
    return routes
