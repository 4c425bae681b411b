from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cunzhan.logistics.planning.checker import check
from cunzhan.logistics.planning.loaders import load_instance

from .conftest import DATA


def _run(*args: str) -> dict:
    out = io.StringIO()
    call_command("plan_instance", *args, stdout=out)
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1  # exactly one JSON object
    return json.loads(lines[0])


def test_prints_one_json_object_with_a_feasible_plan():
    path = DATA / "vrptw_solomon/C101.txt"
    got = _run(str(path), "--time-limit", "1", "--seed", "5")
    assert set(got) == {"instance", "cost", "routes", "feasible", "seconds"}
    assert got["instance"] == "C101"
    assert got["feasible"] is True
    assert sorted(i for r in got["routes"] for i in r) == list(range(1, 101))
    # The routes are customer numbers: re-check them independently and re-cost them.
    p = load_instance(path)
    index = {c.ident: i for i, c in enumerate(p.clients)}
    result = check(p, [(0, [index[i] for i in r]) for r in got["routes"]])
    assert result.feasible
    assert round(result.cost, 1) == got["cost"]
    assert got["cost"] >= 827.3
    assert 0 < got["seconds"] < 10


def test_cvrp_cost_is_an_integer():
    got = _run(str(DATA / "cvrp_x/X-n101-k25.vrp"), "--time-limit", "1", "--workers", "1")
    assert isinstance(got["cost"], int) and got["cost"] >= 27591
    assert got["feasible"] is True


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["{tmp}/nope.vrp"], "no such file"),
        (["{tmp}/junk.txt"], "unknown instance format"),
        ([str(DATA / "vrpspdtw/rcdp1001.vrpspdtw"), "--time-limit", "0"], "--time-limit"),
        ([str(DATA / "vrpspdtw/rcdp1001.vrpspdtw"), "--workers", "0"], "--workers"),
    ],
)
def test_bad_input_is_a_clear_command_error(tmp_path, args, fragment):
    (tmp_path / "junk.txt").write_text("not an instance\n")
    with pytest.raises(CommandError, match=fragment):
        call_command("plan_instance", *[a.format(tmp=tmp_path) for a in args])


def test_cli_spelling_with_a_hyphen_and_exit_codes(tmp_path):
    exe = Path(sys.executable).with_name("cunzhan")
    env = {**os.environ, "CUNZHAN_TESTING": "1"}
    ok = subprocess.run(
        [str(exe), "plan-instance", str(DATA / "vrpspdtw/rcdp1001.vrpspdtw"), "--time-limit", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    got = json.loads(ok.stdout)
    assert got["instance"] == "rcdp1001" and got["feasible"] is True
    assert got["cost"] >= 348.98
    bad = tmp_path / "x.vrp"
    bad.write_text("NAME : x\nTYPE : TSP\n")
    err = subprocess.run(
        [str(exe), "plan-instance", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert err.returncode == 1
    assert str(bad) in err.stderr and "'TSP' is not supported" in err.stderr
    assert "Traceback" not in err.stderr


def test_an_instance_without_a_feasible_plan_is_reported_not_crashed(tmp_path):
    f = tmp_path / "inf.vrp"
    f.write_text(
        "NAME : inf\nTYPE : CVRP\nDIMENSION : 3\nEDGE_WEIGHT_TYPE : EUC_2D\nCAPACITY : 5\n"
        "NODE_COORD_SECTION\n1 0 0\n2 3 4\n3 6 8\nDEMAND_SECTION\n1 0\n2 9\n3 1\n"
        "DEPOT_SECTION\n1\n-1\nEOF\n"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = _run(str(f), "--time-limit", "0.5", "--workers", "1")
    assert got["feasible"] is False  # customer 1 needs 9 > capacity 5
    assert sorted(i for r in got["routes"] for i in r) == [1, 2]
    assert not [w for w in caught if "penalty" in str(w.message).lower()]
