"""Ingest benchmark: simulated scan events through the real bulk API, next to a raw load.

    .venv/bin/python bench/ingest.py --db sqlite   [--parcels 200000]
    .venv/bin/python bench/ingest.py --db postgres [--parcels 200000]

1. A fresh database (SQLite file under /tmp, or the PostgreSQL database of
   ``--pg-url``, dropped and created again) with the demo network (``cunzhan demo``).
2. ``--parcels`` parcels announced by manifest (the carriers' realistic mix) for the
   village stations of the demo, each then scanned 5 times: received at the county,
   sorted, loaded, at the station, picked up (3% refused instead). ``--parcels 200000``
   gives 1,000,000 events. The events go out in waves of one run (``--batch`` parcels
   scanned at one step per batch), the bodies prepared before the clock starts.
3. A real HTTP server process (``cunzhan runserver --noreload``, DEBUG off) takes the
   batches of ``--batch`` events as NDJSON from this process (the client), one after
   another; events/s over the whole run, the server's resident memory sampled every
   0.2 s (peak, and the mean of the first and of the last quarter: flat or growing).
   ``--workers N``: N server processes (one per port) and N client connections, one
   per server, each sending whole waves (disjoint parcels; wave i goes to connection
   i mod N), in step order within a wave; the RSS figures are per process (the max).
   Each server answers one request before the clock starts (its first request imports
   the URL configuration); ``api_cpu_seconds``: the CPU time of the server processes,
   of every PostgreSQL process and of this client during the timed run.
4. In the same run the same rows (new event ids) are loaded into the same table with
   ``COPY`` (PostgreSQL) or ``executemany`` in one transaction (SQLite): the reference.

``--reuse-setup`` keeps the migrated demo of step 1 (a template database, or a file
next to the SQLite one), keyed by a digest of the migrations and of the demo's code, and
copies it on the next run instead of building it again (the demo takes minutes).

Prints one JSON object. Run it under ``nice`` on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CARRIERS = [  # share of the rural parcel volume (rough 2025 order of magnitude)
    ("ZTO", 0.22),
    ("YTO", 0.17),
    ("YUNDA", 0.14),
    ("JT", 0.14),
    ("STO", 0.12),
    ("EMS", 0.12),
    ("JD", 0.05),
    ("SF", 0.04),
]
FIELD_KEY = "ZGV2LW9ubHktZmllbGQta2V5LWN1bnpoYW4tMDAwMDA="
T0 = dt.datetime(2026, 11, 2, 6, tzinfo=dt.UTC)
# the fifth step was ``picked_up`` until issue 12: the bulk ingest now refuses a pickup
# without its proof (the hand-out, ADR 0028), so the benchmark's fifth scan is the aging
# sweep's ``return_due`` (same count of events; figures before 2026-12-07 used picked_up)
STEPS = ["received_at_county", "sorted", "loaded", "at_station", "return_due"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "CUNZHAN_TESTING")}
    env.update(
        DATABASE_URL=db_url,
        SECRET_KEY="bench-ingest-secret-key-not-for-production-0123456789",  # noqa: S106
        CUNZHAN_FIELD_KEYS=FIELD_KEY,
        CUNZHAN_PAYMENT_SANDBOX_SECRET="bench-ingest-sandbox-secret",  # noqa: S106
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CUNZHAN_HTTPS="0",  # plain HTTP on the loopback: no redirect to HTTPS (ADR 0023)
    )
    return env


def fresh_database(args: argparse.Namespace) -> str:
    if args.db == "sqlite":
        path = Path(tempfile.gettempdir()) / "cunzhan-bench-ingest.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg

    base, _, name = args.pg_url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return args.pg_url


def setup_key() -> str:
    """A digest of the migrations and of the demo's and simulators' modules: a kept
    set-up is used again only while none has changed (a change elsewhere that alters
    what the demo builds is not seen: drop the kept copy by hand then). The benchmark's
    own parcels are announced by the current code in every run."""
    h = hashlib.sha256()
    src = ROOT / "src" / "cunzhan"
    files = sorted(
        {
            *src.glob("*/migrations/*.py"),
            *src.glob("devtools/**/*.py"),
            *src.glob("*/*demo*.py"),
            *src.glob("*/*simulation*.py"),
        }
    )
    for f in files:
        h.update(str(f.relative_to(src)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:10]


def migrate_and_demo(db_url: str) -> None:
    env = server_env(db_url)
    subprocess.run([str(BIN / "cunzhan"), "migrate", "--no-input", "-v0"], env=env, check=True)
    subprocess.run([str(BIN / "cunzhan"), "demo"], env=env, check=True, stdout=subprocess.DEVNULL)


def sqlite_copy(src: Path, dst: Path) -> None:
    """A consistent copy of a SQLite database in WAL mode (the backup API, not a
    copy of the file, which may lack what is still in its WAL)."""
    import sqlite3

    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    source, target = sqlite3.connect(src), sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()


def demo_database(args: argparse.Namespace, db_url: str) -> None:
    """The migrated demo in the fresh database. With ``--reuse-setup`` a copy of it is
    kept (PostgreSQL: a template database; SQLite: a file), keyed by the migrations and
    the demo's code, and copied instead of built again (the demo takes minutes)."""
    if not args.reuse_setup:
        migrate_and_demo(db_url)
        return
    key = setup_key()
    if args.db == "sqlite":
        path = Path(db_url.removeprefix("sqlite:///"))
        kept = path.with_name(f"cunzhan-bench-ingest-setup-{key}.sqlite3")
        if not kept.exists():
            migrate_and_demo(db_url)
            sqlite_copy(path, kept)
        else:
            sqlite_copy(kept, path)
        return
    import psycopg

    base, _, name = db_url.rpartition("/")
    kept_name = f"{name}_setup_{key}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [kept_name]
        ).fetchone()
        if exists:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{kept_name}"')
            return
    migrate_and_demo(db_url)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{kept_name}" TEMPLATE "{name}"')


def prepare(
    args: argparse.Namespace, db_url: str, parcels: int, seed: int
) -> tuple[str, list[tuple[str, str, str]]]:
    """Migrate, demo, announce the parcels; returns an admin token and the parcels
    (carrier, tracking number, station code)."""
    env = server_env(db_url)
    demo_database(args, db_url)
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "cunzhan.config.settings"
    import django

    django.setup()
    from cunzhan.accounts.models import User
    from cunzhan.accounts.services import api_token_create
    from cunzhan.core.scope import RegionScope
    from cunzhan.logistics import services
    from cunzhan.network.models import Station, StationKind, StationStatus

    stations = list(
        Station.objects.filter(kind=StationKind.VILLAGE_STATION, status=StationStatus.ACTIVE)
        .order_by("code")
        .values_list("code", "region_id")
    )
    rnd = random.Random(seed)
    names, weights = zip(*CARRIERS, strict=True)
    by_carrier: dict[str, list[dict]] = {}
    out: list[tuple[str, str, str]] = []
    for n in range(parcels):
        carrier = rnd.choices(names, weights)[0]
        st_code, village = stations[n % len(stations)]
        tn = f"{carrier[:2]}{n:012d}"
        by_carrier.setdefault(carrier, []).append(
            {
                "tracking_number": tn,
                "recipient_name": "收件人",
                "phone": f"138{rnd.randrange(10**8):08d}",
                "village_code": village,
                "weight_g": int(rnd.lognormvariate(7.0, 0.8)) + 50,
                "size_class": rnd.choices(["S", "M", "L", "XL"], [55, 30, 12, 3])[0],
            }
        )
        out.append((carrier, tn, st_code))
    scope = RegionScope.national()
    t = time.perf_counter()
    for carrier, rows in by_carrier.items():
        for i in range(0, len(rows), services.MAX_BATCH):
            services.manifest_intake(
                scope=scope,
                carrier_code=carrier,
                rows=rows[i : i + services.MAX_BATCH],
                occurred_at=T0,
            )
    print(f"announced {parcels} parcels in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    # the statistics a database in operation has (autovacuum's ANALYZE): without them
    # the planner takes the freshly filled tables for empty ones
    from django.db import connection as conn

    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE" if conn.vendor == "postgresql" else "ANALYZE")
    admin = User.objects.get(username="admin")
    _token, raw = api_token_create(user=admin, name="bench-ingest")
    conn.close()
    return raw, out


def event_batches(parcels: list[tuple[str, str, str]], batch: int, seed: int) -> list[list[dict]]:
    """Waves of ``batch`` parcels; in each wave one batch per step, in step order."""
    rnd = random.Random(seed + 1)
    steps = STEPS
    batches: list[list[dict]] = []
    for w in range(0, len(parcels), batch):
        wave = parcels[w : w + batch]
        refused = {tn for _c, tn, _s in wave if rnd.random() < 0.03}
        base = T0 + dt.timedelta(hours=1 + w // batch)
        for k, step in enumerate(steps):
            out = []
            for carrier, tn, st in wave:
                t = "refused" if step == STEPS[-1] and tn in refused else step
                out.append(
                    {
                        "event_id": f"{carrier}-{tn}-{k}",
                        "carrier": carrier,
                        "tracking_number": tn,
                        "type": t,
                        "occurred_at": (base + dt.timedelta(minutes=10 * k)).isoformat(),
                        "station_code": st if t in ("at_station", "picked_up", "refused") else "",
                        "device": f"pda-{rnd.randrange(1000):03d}",
                    }
                )
            batches.append(out)
    return batches


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        start = time.perf_counter()
        while not self.stop.is_set():
            try:
                with open(f"/proc/{self.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            kib = int(line.split()[1])
                            self.samples.append((time.perf_counter() - start, kib))
            except OSError:
                return
            self.stop.wait(0.2)


def serve(db_url: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(BIN / "cunzhan"), "runserver", "--noreload", f"127.0.0.1:{port}"],
        env=server_env(db_url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def cpu_seconds(server_pids: list[int]) -> dict[str, float]:
    """CPU seconds (user + system) used so far by the server processes, by every
    PostgreSQL process of the machine, and by this process (the client)."""
    hz = os.sysconf("SC_CLK_TCK")
    out = {"server": 0.0, "postgres": 0.0, "client": 0.0}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])
        if int(pid) in server_pids:
            out["server"] += ticks / hz
        elif comm.startswith("postgres"):
            out["postgres"] += ticks / hz
        elif int(pid) == os.getpid():
            out["client"] += ticks / hz
    return out


def warm_up(port: int, token: str) -> None:
    """One request before the clock starts: the server imports its URL
    configuration (and the API) on the first request."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(
        "GET", "/api/v1/logistics/parcels?limit=1", headers={"Authorization": f"Bearer {token}"}
    )
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        raise RuntimeError(f"warm-up refused: {resp.status}")
    conn.close()


def post_many(
    ports: list[int], token: str, bodies: list[bytes], per_wave: int
) -> tuple[float, list[float], int]:
    """Wave i (``per_wave`` consecutive bodies) to connection i mod len(ports), all
    connections at once; the wall-clock seconds of the whole."""
    n = len(ports)
    waves = [bodies[i : i + per_wave] for i in range(0, len(bodies), per_wave)]
    shares = [[b for w in waves[k::n] for b in w] for k in range(n)]
    results: list[tuple[float, list[float], int] | BaseException] = [RuntimeError()] * n

    def run(k: int) -> None:
        try:
            results[k] = post_all(ports[k], token, shares[k])
        except BaseException as exc:  # reported below
            results[k] = exc

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    seconds = time.perf_counter() - t0
    times: list[float] = []
    applied = 0
    for r in results:
        if isinstance(r, BaseException):
            raise r
        times += r[1]
        applied += r[2]
    return seconds, times, applied


def post_all(port: int, token: str, bodies: list[bytes]) -> tuple[float, list[float], int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    times: list[float] = []
    applied = 0
    t0 = time.perf_counter()
    for body in bodies:
        t = time.perf_counter()
        conn.request("POST", "/api/v1/logistics/events", body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"batch refused: {resp.status} {data[:300]!r}")
        out = json.loads(data)
        applied += out["applied"] + out["illegal"]
        times.append(time.perf_counter() - t)
    return time.perf_counter() - t0, times, applied


def reference_load(batches: list[list[dict]]) -> tuple[float, int]:
    """The same rows (new ids) into the same table: COPY / executemany, one transaction."""
    from django.db import connection, transaction
    from django.utils import timezone

    from cunzhan.logistics.models import Carrier, Parcel, ScanEvent
    from cunzhan.network.models import Station

    carriers = dict(Carrier.objects.values_list("code", "pk"))
    pid = {
        (c, tn): pk
        for pk, c, tn in Parcel.objects.values_list("pk", "carrier_id", "tracking_number")
    }
    stations = {
        code: (pk, region)
        for pk, code, region in Station.objects.values_list("pk", "code", "region_id")
    }
    now = timezone.now()
    rows = []
    for b in batches:
        for e in b:
            st = stations.get(e["station_code"]) if e["station_code"] else None
            rows.append(
                (
                    "ref:" + e["event_id"],
                    pid[(carriers[e["carrier"]], e["tracking_number"])],
                    e["type"],
                    dt.datetime.fromisoformat(e["occurred_at"]),
                    st[1] if st else None,
                    st[0] if st else None,
                    None,
                    e["device"],
                    now,
                )
            )
    cols = (
        "event_id, parcel_id, type, occurred_at, region_id, station_id, actor_id, device, "
        "recorded_at"
    )
    table = ScanEvent._meta.db_table
    t = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            with cur.cursor.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        else:
            adapt = connection.ops.adapt_datetimefield_value
            cur.executemany(
                f"INSERT INTO {table} ({cols}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
                [(*r[:3], adapt(r[3]), *r[4:8], adapt(r[8])) for r in rows],
            )
    seconds = time.perf_counter() - t
    with transaction.atomic(), connection.cursor() as cur:  # not the ORM: no collector
        cur.execute(f"DELETE FROM {table} WHERE event_id LIKE 'ref:%%'")  # noqa: S608
    return seconds, len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/cunzhan_ingest")
    ap.add_argument("--parcels", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1, help="server processes = connections")
    ap.add_argument(
        "--reuse-setup",
        action="store_true",
        help="keep the migrated demo (a template database / a file) and copy it next time",
    )
    args = ap.parse_args()

    db_url = fresh_database(args)
    t = time.perf_counter()
    token, parcels = prepare(args, db_url, args.parcels, args.seed)
    setup_s = time.perf_counter() - t
    batches = event_batches(parcels, args.batch, args.seed)
    bodies = [
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in b).encode() for b in batches
    ]
    total = sum(len(b) for b in batches)

    ports = [free_port() for _ in range(args.workers)]
    procs = [serve(db_url, port) for port in ports]
    samplers = [RssSampler(proc.pid) for proc in procs]
    for sampler in samplers:
        sampler.start()
    try:
        for port in ports:
            warm_up(port, token)
        cpu0 = cpu_seconds([proc.pid for proc in procs])
        seconds, times, applied = post_many(ports, token, bodies, len(STEPS))
        cpu1 = cpu_seconds([proc.pid for proc in procs])
    finally:
        for sampler in samplers:
            sampler.stop.set()
            sampler.join()
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    if applied != total:
        raise RuntimeError(f"{applied} events applied of {total}")

    from cunzhan.logistics.models import Parcel, ScanEvent

    states: dict[str, int] = {}
    for s in Parcel.objects.values_list("state", flat=True).iterator():
        states[s] = states.get(s, 0) + 1
    stored = ScanEvent.objects.exclude(type="announced").count()
    ref_s, ref_rows = reference_load(batches)

    # the process with the highest peak (one per worker)
    rss = max(([kib for _t, kib in s.samples] for s in samplers), key=lambda r: max(r, default=0))
    q = max(1, len(rss) // 4)
    times.sort()
    rate = total / seconds
    ref_rate = ref_rows / ref_s
    print(
        json.dumps(
            {
                "db": args.db,
                "events": total,
                "batches": len(batches),
                "workers": args.workers,
                "setup_seconds": round(setup_s, 1),
                "api_seconds": round(seconds, 1),
                "api_events_per_s": round(rate),
                "batch_seconds_p50": round(times[len(times) // 2], 3),
                "batch_seconds_max": round(times[-1], 3),
                "reference": "COPY" if args.db == "postgres" else "executemany",
                "reference_seconds": round(ref_s, 2),
                "reference_events_per_s": round(ref_rate),
                "api_over_reference": round(rate / ref_rate, 3),
                # CPU seconds during the API run (PostgreSQL: every server process of
                # the machine, so another database's work would count too)
                "api_cpu_seconds": {k: round(cpu1[k] - cpu0[k], 2) for k in cpu0},
                "server_rss_peak_mib": round(max(rss) / 1024, 1),
                "server_rss_first_quarter_mib": round(sum(rss[:q]) / q / 1024, 1),
                "server_rss_last_quarter_mib": round(sum(rss[-q:]) / q / 1024, 1),
                "rss_samples": len(rss),
                "stored_events": stored,
                "parcel_states": states,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
