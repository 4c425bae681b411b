from __future__ import annotations

import math

import pytest

from cunzhan.logistics.planning.loaders import InstanceFormatError, load_instance

from .conftest import DATA, INSTANCES

# file → (customers, capacity, fleet, convention kind, scale, dimension label)
EXPECTED = {
    "cvrp_x/X-n101-k25.vrp": (100, 206, 100, "rounded_euc_2d", 1),
    "cvrp_x/X-n256-k16.vrp": (255, 1225, 255, "rounded_euc_2d", 1),
    "vrptw_solomon/C101.txt": (100, 200, 25, "truncated_1dec", 10),
    "vrptw_solomon/R101.txt": (100, 200, 25, "truncated_1dec", 10),
    "vrpspd/SCA3-0.vrpspd": (50, 8236853, 50, "explicit", 10_000),
    "vrpspd/r101.vrpspd": (100, 200, 100, "exact_2d", 1000),
    "vrpspd/C1_2_1.vrpspd": (200, 200, 200, "exact_2d", 1000),
    "vrpspdtw/rcdp1001.vrpspdtw": (10, 200, 3, "exact_2d", 1000),
    "vrpspdtw/rdp101.vrpspdtw": (100, 200, 19, "exact_2d", 1000),
}


def test_every_instance_file_is_covered():
    assert {str(p.relative_to(DATA)) for p in INSTANCES} == set(EXPECTED)


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_dimensions_and_header_values(load, rel):
    n, capacity, fleet, kind, scale = EXPECTED[rel]
    p = load(rel)
    assert len(p.clients) == n
    assert len(p.depots) == 1
    assert p.vehicle_types[0].capacity == (capacity,)
    assert p.vehicle_types[0].count == fleet
    assert p.convention.kind == kind
    assert p.convention.scale == scale
    size = n + 1
    assert len(p.distance) == size and all(len(r) == size for r in p.distance)
    assert all(isinstance(v, int) for row in p.distance for v in row)
    assert all(p.distance[i][i] == 0 for i in range(size))
    assert len({c.ident for c in p.clients}) == n


def test_cvrp_arcs_are_rounded_euclidean(load):
    p = load("cvrp_x/X-n101-k25.vrp")
    # node 1 (365, 689) is the depot, node 2 (146, 180) is client ident 1.
    assert (p.depots[0].x, p.depots[0].y) == (365, 689)
    c = p.clients[0]
    assert c.ident == 1 and (c.x, c.y) == (146, 180)
    assert p.distance[0][1] == round(math.hypot(365 - 146, 689 - 180))
    assert sum(cl.delivery[0] for cl in p.clients) > 206  # needs several routes
    assert all(cl.pickup == (0,) for cl in p.clients)


def test_solomon_is_scaled_by_ten_and_truncated(load):
    p = load("vrptw_solomon/R101.txt")
    assert p.depots[0].tw_late == 2300  # due date 230 → tenths
    c1 = p.clients[0]
    assert (c1.ident, c1.delivery, c1.tw_early, c1.tw_late, c1.service) == (
        1,
        (10,),
        1610,
        1710,
        100,
    )
    # depot (35, 35) → client 1 (41, 49): 15.2315… → 15.2 → 152 tenths
    assert p.distance[0][1] == 152 == p.duration[0][1]


def test_lkh_pickup_and_delivery_columns(load):
    # row "2 0 0 10000000 0 41 10": PICKUP 41, DELIVERY 10 (LKH-3 VRPSPD/README.txt)
    p = load("vrpspd/r101.vrpspd")
    c = p.clients[0]
    assert c.ident == 1 and c.pickup == (41,) and c.delivery == (10,)
    # row "2 0 74 104 10 10 10" of the VRPSPDTW file: windows and service ×1000
    q = load("vrpspdtw/rcdp1001.vrpspdtw")
    c = q.clients[0]
    assert (c.tw_early, c.tw_late, c.service) == (74_000, 104_000, 10_000)
    assert q.depots[0].tw_late == 240_000
    exact = math.hypot(40 - 88, 50 - 30) * 1000
    assert q.distance[0][1] == round(exact)
    assert q.duration[0][1] >= exact  # rounded up: integer-feasible ⇒ really feasible


def test_explicit_matrix_is_kept_as_is(load):
    p = load("vrpspd/SCA3-0.vrpspd")
    assert p.distance[0][1] == 154923
    assert p.clients[0].pickup == (18448,) and p.clients[0].delivery == (11010,)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("hello world\n", "unknown instance format"),
        ("NAME : x\nTYPE : TSP\nDIMENSION : 3\n", "'TSP' is not supported"),
        (
            "NAME : x\nTYPE : CVRP\nDIMENSION : 3\nEDGE_WEIGHT_TYPE : EUC_2D\nCAPACITY : 5\n"
            "NODE_COORD_SECTION\n1 0 0\n2 1 1\nEOF\n",
            "NODE_COORD_SECTION has 2 rows",
        ),
        (
            "NAME : x\nTYPE : VRPSPD\nDIMENSION : 2\nCAPACITY : 5\nEDGE_WEIGHT_TYPE : EXACT_2D\n"
            "NODE_COORD_SECTION\n1 0 0\n2 1 1\nDEPOT_SECTION\n1\n-1\nEOF\n",
            "without PICKUP_AND_DELIVERY_SECTION",
        ),
        ("NAME : x\nTYPE : CVRP\nDIMENSION : many\n", "DIMENSION missing or not an integer"),
        (
            "C1\n\nVEHICLE\nNUMBER CAPACITY\n 2 10\n\nCUSTOMER\nCUST NO. X Y D R DUE S\n"
            " 0 0 0 0 0 100\n",
            "7 columns",
        ),
        (
            "NAME : x\nTYPE : CVRP\nDIMENSION : 2\nEDGE_WEIGHT_TYPE : EUC_2D\nCAPACITY : 5\n"
            "NODE_COORD_SECTION\n1 0 0\n2 a b\nEOF\n",
            "malformed instance",
        ),
    ],
)
def test_bad_files_raise_a_clear_error_naming_the_file(tmp_path, content, fragment):
    f = tmp_path / "bad.vrp"
    f.write_text(content)
    with pytest.raises(InstanceFormatError) as err:
        load_instance(f)
    assert str(f) in str(err.value)
    assert fragment in str(err.value)


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(InstanceFormatError, match="no such file"):
        load_instance(tmp_path / "nope.vrp")
    b = tmp_path / "bin.vrp"
    b.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InstanceFormatError, match="not a text file"):
        load_instance(b)
    with pytest.raises(InstanceFormatError, match="directory"):
        load_instance(tmp_path)
