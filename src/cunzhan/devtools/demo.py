"""The demo network: 六盘水市 (5202) built from the real region data, through the services.

Deterministic from a seed and idempotent: running it again creates nothing new.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from cunzhan.accounts.models import User
from cunzhan.accounts.roles import Role
from cunzhan.accounts.services import user_create
from cunzhan.commerce.demo import demo_commerce
from cunzhan.commerce.simulation import COMMERCE_DAY_GENERATORS, demo_days, in_season
from cunzhan.core import simulation
from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.impact.demo import demo_impact
from cunzhan.logistics import aging
from cunzhan.logistics.plan_demo import plan_demo
from cunzhan.logistics.simulation import CHINA
from cunzhan.logistics.simulation import DEMO_COUNTIES as HISTORY_COUNTIES
from cunzhan.logistics.simulation import DEMO_PARAMS as HISTORY_PARAMS
from cunzhan.network.models import Kind, Level, Region, Station, StationKind, StationStatus
from cunzhan.network.regions_import import regions_import
from cunzhan.network.services import (
    station_activate,
    station_apply,
    station_review,
    station_submit_for_review,
)
from cunzhan.registry.simulation import PHONE_PREFIXES, person_name

DEMO_PREFECTURE = "5202"
DEMO_PASSWORD = "cunzhan-demo"  # noqa: S105 - printed for the demo, never used elsewhere
DEMO_DAY = dt.date(2026, 11, 2)
# Share of 村委会 that get a village station: most in the poverty counties, fewer elsewhere.
VILLAGE_SHARE_POVERTY = 0.85
VILLAGE_SHARE_OTHER = 0.35
# Of the villages without a station, the share with an application still in onboarding.
PENDING_SHARE = 0.08
# Days of history the simulator writes (every domain, up to today's 07:00 cut-off): this
# many in 水城区 (HISTORY_COUNTIES; in another selection of counties, its first one) and
# OTHER_HISTORY_DAYS in the other counties, so that the dashboards show months of data
HISTORY_DAYS = 90
OTHER_HISTORY_DAYS = 7


@dataclass
class DemoReport:
    regions_created: int = 0
    stations_created: int = 0
    stations_total: int = 0
    users_created: int = 0
    households: dict[str, Any] = field(default_factory=dict)
    logins: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0


def _pick(seed: int, code: str, share: float) -> bool:
    """Deterministic yes/no for a unit: stable across runs and machines."""
    digest = hashlib.sha256(f"{seed}:{code}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def _short_village_name(name: str) -> str:
    for suffix in ("村民委员会", "居民委员会", "委员会"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _ensure_user(
    username: str,
    role: str,
    display_name: str,
    password_hash: str,
    report: DemoReport,
    regions: list[str] | None = None,
) -> User:
    user = User.objects.filter(username=username).first()
    if user is None:
        user, _ = user_create(
            username=username,
            role=role,
            password_hash=password_hash,
            display_name=display_name,
            region_codes=regions or [],
        )
        report.users_created += 1
    return user


def _ensure_station(
    *,
    region: Region,
    kind: str,
    name: str,
    manager: User,
    seed: int,
    password_hash: str,
    report: DemoReport,
    stop_at: str = StationStatus.ACTIVE,
) -> Station:
    existing = Station.objects.filter(region=region, kind=kind).exclude(status=StationStatus.CLOSED)
    station = existing.first()
    if station is not None:
        return station
    digest = hashlib.sha256(f"{seed}:{region.code}:premises".encode()).digest()
    premises = 30 + digest[0] % 90 if kind == StationKind.VILLAGE_STATION else 200 + digest[0] * 4
    caps = ["parcels", "assisted_purchase", "bill_payment"]
    if digest[1] % 3 != 0:
        caps.append("produce_collection")
    if kind != StationKind.VILLAGE_STATION or digest[2] % 4 == 0:
        caps.append("training_venue")
    station = station_apply(
        region_code=region.code,
        kind=kind,
        name=name,
        address=name,
        applicant_name=person_name(
            random.Random(digest),
            sex="male" if digest[5] % 3 else "female",
            birth_year=1970 + digest[6] % 30,
        ),
        applicant_phone=PHONE_PREFIXES[digest[3] % len(PHONE_PREFIXES)]
        + f"{int.from_bytes(digest[4:8], 'big') % 10**8:08d}",
        premises_m2=premises,
        committee_recommendation=True,
        recommendation_note="村委会推荐" if kind == StationKind.VILLAGE_STATION else "",
        deposit_fen=300_000 if kind == StationKind.VILLAGE_STATION else 0,
        capabilities=caps,
        actor=manager,
    )
    report.stations_created += 1
    if stop_at == StationStatus.PROPOSED:
        return station
    station_submit_for_review(station=station, actor=manager)
    if stop_at == StationStatus.UNDER_REVIEW:
        return station
    station_review(station=station, approve=True, note="demo: approved", actor=manager)
    station, _operator, _pw = station_activate(
        station=station, actor=manager, operator_password_hash=password_hash
    )
    return station


def demo_build(
    *,
    seed: int = 2018,
    households_per_village: int = 12,
    import_regions: bool = True,
    only_counties: list[str] | None = None,
    history_days: int = HISTORY_DAYS,
    other_history_days: int = OTHER_HISTORY_DAYS,
    setup_only: bool = False,
    households_day: dt.date = DEMO_DAY,
    until: dt.datetime | None = None,
    echo: Callable[[str], None] = print,
) -> DemoReport:
    """Build (or complete) the demo; ``only_counties`` limits it to some county codes of
    5202; ``history_days``: the simulated days of 水城区 (the others get
    ``other_history_days``); ``setup_only``: stop once the stations and households are
    made (the impact benchmark simulates its own year on them, from ``households_day``:
    the day the households are drawn, their income records the three years before);
    ``until``: where the history stops (default today's cut-off, or now before it)."""
    started = time.perf_counter()
    report = DemoReport()
    if import_regions:
        echo("importing the region tree of 贵州省 (52) from data/cn …")
        imp = regions_import(provinces=["52"], data_dir=settings.DATA_DIR, progress=False)
        report.regions_created = imp.created
    prefecture = Region.objects.filter(code=DEMO_PREFECTURE).first()
    if prefecture is None:
        raise ApplicationError(
            f"region {DEMO_PREFECTURE} is not loaded: run `cunzhan regions import --province 52`",
            code="unknown_region",
        )
    counties = list(
        Region.objects.filter(parent=prefecture, level=Level.COUNTY, withdrawn_in="").order_by(
            "code"
        )
    )
    if only_counties is not None:
        unknown = set(only_counties) - {c.code for c in counties}
        if unknown:
            raise ApplicationError(
                f"not a county of {prefecture.name}: {', '.join(sorted(unknown))}",
                code="unknown_region",
            )
        counties = [c for c in counties if c.code in only_counties]
    password_hash = make_password(DEMO_PASSWORD)

    _ensure_user("admin", Role.NETWORK_ADMIN, "系统管理员", password_hash, report)
    report.logins.append(("admin", str(Role.NETWORK_ADMIN.label), "全国"))
    for username, role, display, regions in (
        ("registry-5202", Role.REGISTRY_OFFICER, "六盘水市建档立卡专员", [DEMO_PREFECTURE]),
        ("auditor-5202", Role.AUDITOR, "六盘水市审计员", [DEMO_PREFECTURE]),
    ):
        _ensure_user(username, role, display, password_hash, report, regions)
        report.logins.append((username, str(Role(role).label), prefecture.name))

    for county in counties:
        manager = _ensure_user(
            f"manager-{county.code}",
            Role.COUNTY_MANAGER,
            f"{county.name}运营经理",
            password_hash,
            report,
            [county.code],
        )
        report.logins.append((manager.username, str(Role.COUNTY_MANAGER.label), county.name))
        driver = _ensure_user(
            f"driver-{county.code}",
            Role.DRIVER,
            f"{county.name}司机",
            password_hash,
            report,
            [county.code],
        )
        report.logins.append((driver.username, str(Role.DRIVER.label), county.name))
        share = VILLAGE_SHARE_POVERTY if county.is_poverty_county else VILLAGE_SHARE_OTHER
        with transaction.atomic():
            _ensure_station(
                region=county,
                kind=StationKind.COUNTY_CENTRE,
                name=f"{county.name}农村电子商务服务中心",
                manager=manager,
                seed=seed,
                password_hash=password_hash,
                report=report,
            )
            townships = Region.objects.filter(
                parent=county, level=Level.TOWNSHIP, withdrawn_in=""
            ).exclude(kind=Kind.OTHER_TOWNSHIP)
            for township in townships:
                _ensure_station(
                    region=township,
                    kind=StationKind.TOWNSHIP_DEPOT,
                    name=f"{township.name}电商服务站",
                    manager=manager,
                    seed=seed,
                    password_hash=password_hash,
                    report=report,
                )
                villages = Region.objects.filter(
                    parent=township, level=Level.VILLAGE, kind=Kind.VILLAGE, withdrawn_in=""
                )
                for village in villages:
                    if _pick(seed, village.code, share):
                        stop_at = StationStatus.ACTIVE
                    elif _pick(seed + 1, village.code, PENDING_SHARE):
                        # a few villages still in onboarding: the county's review queue
                        stop_at = (
                            StationStatus.UNDER_REVIEW
                            if _pick(seed + 2, village.code, 0.5)
                            else StationStatus.PROPOSED
                        )
                    else:
                        continue
                    _ensure_station(
                        region=village,
                        kind=StationKind.VILLAGE_STATION,
                        name=f"{township.name}{_short_village_name(village.name)}村级服务站",
                        manager=manager,
                        seed=seed,
                        password_hash=password_hash,
                        report=report,
                        stop_at=stop_at,
                    )
        echo(f"  {county.name}: stations ready")
        result = simulation.run(
            seed=seed,
            county_code=county.code,
            day=households_day,
            only=simulation.setup_generators(),
            params={"households_per_village": households_per_village},
        )
        report.households[county.code] = result.results
        echo(f"  {county.name}: households ready")

    if setup_only:
        report.seconds = time.perf_counter() - started
        return report
    # months of history through the simulator (parcels, shipments, lots, orders, 代购,
    # payouts, income records), then per county its vans and today's plan, then the
    # produce catalogue, producers, graded lots and prices of the other counties
    codes = [c.code for c in counties]
    first_day = demo_history(
        seed=seed,
        county_codes=codes,
        days=history_days,
        other_days=min(other_history_days, history_days),
        until=until,
        echo=echo,
    )
    for county in counties:
        plan_demo(county_code=county.code, echo=echo)
    demo_commerce(seed=seed, county_codes=codes, echo=echo)
    # the indicators over all of the above, stored per region and period (impact)
    demo_impact(
        county_codes=codes,
        days=max(14, (timezone.localdate() - first_day).days + 1),
        echo=echo,
    )

    # one operator login: a village station in the first poverty county built (else any)
    built = sorted(counties, key=lambda c: (not c.is_poverty_county, c.code))
    for county in built:
        station = (
            Station.objects.filter(
                region__code__startswith=county.code, kind=StationKind.VILLAGE_STATION
            )
            .order_by("code")
            .first()
        )
        op_user = User.objects.filter(assignments__station=station).first() if station else None
        if station is not None and op_user is not None:
            report.logins.append((op_user.username, str(Role.STATION_OPERATOR.label), station.name))
            break
    report.stations_total = Station.objects.filter(region__code__startswith=DEMO_PREFECTURE).count()
    report.seconds = time.perf_counter() - started
    return report


def demo_history(
    *,
    seed: int,
    county_codes: list[str],
    days: int = HISTORY_DAYS,
    other_days: int = OTHER_HISTORY_DAYS,
    until: dt.datetime | None = None,
    echo: Callable[[str], None] | None = None,
) -> dt.date:
    """The simulator over the last ``days`` days up to ``until`` (default
    :func:`~cunzhan.core.simulation.demo_cut`: today's 06:59 China time, or now before
    it) in 水城区 (else the first county) and the last ``other_days`` in the other
    counties: every generator but the households (made before), the parcels and
    shipments moving on until ``until``; then aging and the fee sweep at ``until``. If
    the window holds no kiwifruit harvest day, the last harvest days of the season come
    first (the fruit keeps in cold store: graded stock to sell).
    Returns the first simulated day."""
    if until is None:
        until = simulation.demo_cut()
    today = until.astimezone(CHINA).date()
    main = [c for c in county_codes if c in HISTORY_COUNTIES] or county_codes[:1]
    generators = [g for g in simulation.generators() if g not in simulation.setup_generators()]
    # the logistics demo's parcel rate, and fewer 代购 than the default (both keep the
    # build within a few minutes)
    params = {**HISTORY_PARAMS, "assisted_share": 0.02, "until": until}
    first_day = today
    for code in county_codes:
        n = days if code in main else other_days
        if n < 1:
            continue
        start = today - dt.timedelta(days=n - 1)
        first_day = min(first_day, start)
        window = [start + dt.timedelta(days=i) for i in range(n)]
        if code in main and not any(in_season("kiwifruit-red", d) for d in window):
            for day in [d for d in demo_days(today, days=n) if d < start]:
                with transaction.atomic():
                    simulation.run(
                        seed=seed, county_code=code, day=day, only=list(COMMERCE_DAY_GENERATORS)
                    )
                first_day = min(first_day, day)
        summary = simulation.run_many(
            seed=seed,
            county_codes=[code],
            start=start,
            days=n,
            only=generators,
            params=params,
        )
        aging.aging_run(scope=RegionScope.for_regions([code]), county_code=code, at=until)
        if echo is not None:
            rows = summary.by_domain()
            echo(
                f"  {code}: {n} days simulated in {summary.seconds:.0f} s "
                + ", ".join(f"{domain} +{rows[domain]}" for domain in sorted(rows))
            )
    return first_day
