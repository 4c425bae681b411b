"""The daily-plan engine: a solver-independent routing problem, loaders for benchmark
files, a PyVRP-backed solver, an independent feasibility checker and a naive baseline.

Pure Python (no Django models): the logistics services build a :class:`Problem` from
parcels, stations and vehicles; ``cunzhan plan-instance`` builds one from a file.
"""

from cunzhan.logistics.planning.checker import CheckResult, check
from cunzhan.logistics.planning.problem import (
    Client,
    Convention,
    Depot,
    Problem,
    Route,
    VehicleType,
)

__all__ = [
    "CheckResult",
    "Client",
    "Convention",
    "Depot",
    "Problem",
    "Route",
    "VehicleType",
    "check",
]
