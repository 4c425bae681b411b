"""Benchmark: the public trace page (issue 4) — p95 latency under load from a second
process.

    .venv/bin/python bench/trace_page.py [--lots 2000] [--seconds 20] [--clients 8]

Builds a scratch SQLite database (var/bench-trace.sqlite3, rebuilt each run) with the
small region tree of the tests, one village station and ``--lots`` lots of 红心猕猴桃,
each harvested, graded (3 samples) and packed, every third one shipped and scanned in at
the county centre (so its story also reads the logistics shipment). Then it serves the
app with ``cunzhan runserver`` (threaded, DEBUG off) and a SECOND PROCESS requests
``/t/<code>/`` for random codes from ``--clients`` threads for ``--seconds``: latency
percentiles (client side, wall clock), throughput, errors. Target: p95 ≤ 200 ms.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
DB = ROOT / "var" / "bench-trace.sqlite3"
ENV = {
    "DJANGO_SETTINGS_MODULE": "cunzhan.config.settings",
    "DEBUG": "1",  # the build only: the server below runs with DEBUG off
    "DATABASE_URL": f"sqlite:///{DB}",
}


def build(n_lots: int) -> list[str]:
    os.environ.update(ENV)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from tests.factories.regions import make_region_tree
    from tests.factories.stations import make_station

    from cunzhan.commerce import services
    from cunzhan.commerce.seed import catalogue_seed
    from cunzhan.core.scope import RegionScope
    from cunzhan.logistics import shipments
    from cunzhan.network.models import StationStatus

    national = RegionScope.national()
    make_region_tree()
    kiwi = {p.code: p for p in catalogue_seed()}["kiwifruit-red"]
    station = make_station("520204106201", StationStatus.ACTIVE)
    producer = services.producer_register(
        scope=national, station=station, kind="cooperative", name="米箩猕猴桃专业合作社"
    )
    samples = [{"weight_g": 110, "brix": 16, "defect_pct": 1}] * 3
    codes = []
    import datetime as dt

    for i in range(n_lots):
        lot = services.lot_record(
            scope=national,
            producer=producer,
            product=kiwi,
            harvest_date=dt.date.today() - dt.timedelta(days=i % 30),
            quantity=100 + i % 400,
        )
        services.lot_grade(scope=national, lot=lot, samples=samples)
        services.lot_pack(scope=national, lot=lot)
        if i % 3 == 0:
            lot = services.lot_ship(
                scope=national, lot=lot, destination="广州", pieces=10, weight_g=100_000
            )
            s = shipments.shipment_collect(scope=national, shipment=lot.shipment)
            shipments.shipment_scan_in(scope=national, shipment=s)
        codes.append(lot.code)
    return codes


def load(url: str, codes: list[str], seconds: float, clients: int, out: mp.Queue) -> None:
    """The second process: ``clients`` threads, each a request loop."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def worker(seed: int) -> None:
        rnd = random.Random(seed)
        mine: list[float] = []
        bad = 0
        while time.perf_counter() < stop:
            code = rnd.choice(codes)
            t0 = time.perf_counter()
            try:
                with urllib.request.urlopen(f"{url}/t/{code}/", timeout=10) as r:  # noqa: S310
                    body = r.read()
                    ok = r.status == 200 and code[:5].encode() in body
            except OSError:
                ok = False
            mine.append(time.perf_counter() - t0)
            bad += 0 if ok else 1
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put({"latencies": latencies, "errors": errors[0]})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lots", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--port", type=int, default=8765)
    a = ap.parse_args()
    DB.parent.mkdir(exist_ok=True)
    DB.unlink(missing_ok=True)
    t0 = time.perf_counter()
    codes = build(a.lots)
    print(f"built {len(codes)} lots in {time.perf_counter() - t0:.0f} s")
    env = {
        **os.environ,
        **ENV,
        "DEBUG": "0",
        "SECRET_KEY": "bench",
        "ALLOWED_HOSTS": "127.0.0.1",
        # plain HTTP on the loopback: no redirect to HTTPS (ADR 0023)
        "CUNZHAN_HTTPS": "0",
    }
    if not env.get("CUNZHAN_FIELD_KEYS"):
        from cryptography.fernet import Fernet

        env["CUNZHAN_FIELD_KEYS"] = Fernet.generate_key().decode()
    # with DEBUG off the pages name the hashed static files of the manifest
    subprocess.run(
        [sys.executable, "-m", "cunzhan", "collectstatic", "--no-input", "-v0"],
        env=env,
        check=True,
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "cunzhan", "runserver", f"127.0.0.1:{a.port}", "--noreload"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{a.port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/t/{codes[0]}/", timeout=2).read()  # noqa: S310
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("the server did not start")
        q: mp.Queue = mp.Queue()
        proc = mp.Process(target=load, args=(url, codes, a.seconds, a.clients, q))
        proc.start()
        result = q.get()
        proc.join()
    finally:
        server.terminate()
        server.wait(10)
    lat = sorted(result["latencies"])
    n = len(lat)

    def pct(p: float) -> float:
        return lat[min(n - 1, int(p * n))] * 1000

    report = {
        "lots": len(codes),
        "clients": a.clients,
        "seconds": a.seconds,
        "requests": n,
        "errors": result["errors"],
        "rps": round(n / a.seconds, 1),
        "p50_ms": round(pct(0.50), 1),
        "p95_ms": round(pct(0.95), 1),
        "p99_ms": round(pct(0.99), 1),
        "mean_ms": round(statistics.fmean(lat) * 1000, 1),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
    }
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
