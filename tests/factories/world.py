"""A small world for access tests, built through the services.

Three counties of the small region tree (tests/factories/regions.py):

- ``520204`` 水城区 — IN scope: every test user (one per role) is assigned here (the
  station operator to its village station);
- ``520203`` 六枝特区 — OUT of scope, a sibling county under the same prefecture (the
  sharpest leak test: same ``5202`` prefix);
- ``530102`` 五华区 — OUT of scope, another province.

Each county gets a county centre, a township depot and village stations in every
state an action needs (proposed, under review, approved, active, suspended), their
onboarding applications, a household with a person (valid ID number), a poverty
registration and an income record, a registry import batch, users and audit events.

Every OUT object carries :data:`OUT_MARKER` (names, addresses, display names, file
names) and the world lists further strings that only OUT objects have (station codes,
full ID numbers, region names): :meth:`World.out_markers`. A response body holding any
of them leaked something. None of these strings is ever sent in a request, so an echo
of the request cannot look like a leak.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from cunzhan.accounts.models import User
from cunzhan.accounts.roles import Role
from cunzhan.accounts.services import api_token_create, user_create
from cunzhan.core.audit import audit_record
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import fees as logistics_fees
from cunzhan.logistics import services as logistics_services
from cunzhan.logistics import shipments as logistics_shipments
from cunzhan.logistics.models import Parcel, ParcelException
from cunzhan.network import services as network_services
from cunzhan.network.models import Kind, Level, Region, Station, StationHelper, StationStatus
from cunzhan.registry import services as registry_services
from cunzhan.registry.idcard import make_id_number
from cunzhan.registry.importers import COLUMNS, registry_import
from cunzhan.registry.models import Consent, Household, ImportBatch, Person
from tests.factories.commerce import seed_catalogue
from tests.factories.plans import world_plan
from tests.factories.regions import make_region_tree
from tests.factories.stations import make_station

IN_COUNTY = "520204"
OUT_COUNTIES = ("520203", "530102")
OUT_PREFIXES = ("520203", "53")  # 53 云南省 is wholly outside the IN scope
OUT_MARKER = "OUTSIDE-MARKER"
IN_MARKER = "INSIDE-VISIBLE"
PASSWORD = "pw-secret-1"

# county -> (township, first village) in the small tree
TREE_POINTS = {
    "520204": ("520204106", "520204106201"),
    "520203": ("520203101", "520203101201"),
    "530102": ("530102001", "530102001001"),
}
# names of OUT regions: the IN users see 52/5202/520204 and below, never these
OUT_REGION_NAMES = (
    "六枝特区",
    "平寨镇",
    "那玉村",
    "云南省",
    "昆明市",
    "五华区",
    "华山街道",
    "光华社区",
)
# extra villages per OUT township, one per station state an action starts from, and
# one free village where an application can be filed
EXTRA_VILLAGES = ("291", "292", "293", "294", "295")


def world_day() -> dt.date:
    """The day the world's parcels move: ten local days before the clock's today, so that
    on whatever date the suite runs the world is recent (inside the exports' default 30
    days) and old enough for aging (a parcel waiting since then is due for return after
    the default 7 days). Probes that name a day or month derive it from this."""
    from django.utils import timezone

    return timezone.localdate() - dt.timedelta(days=10)


@dataclass
class County:
    code: str
    township: str
    village: str
    free_village: str  # no station yet: a new application fits here
    stations: dict[str, Station] = field(default_factory=dict)  # role in world -> station
    household: Household | None = None
    person: Person | None = None
    id_number: str = ""
    batch: ImportBatch | None = None
    consent: Consent | None = None  # in force: a withdrawal would change it
    helper: StationHelper | None = None  # a 淘帮手 still working at the village station
    users: list[User] = field(default_factory=list)
    parcel: Parcel | None = None  # waiting at the village station, with a pickup code
    loaded: Parcel | None = None  # on the van to the village station (to receive)
    exception: ParcelException | None = None  # an open exception on that parcel
    plan: dict[str, Any] = field(default_factory=dict)  # tests/factories/plans.world_plan
    # upward shipments at the village station: booked, collected (its fee accrued), at_county
    shipments: dict[str, Any] = field(default_factory=dict)
    # commerce: producers (person, cooperative), lots harvested/graded/packed, a price tier
    commerce: dict[str, Any] = field(default_factory=dict)
    # ledger: a producer's and the village station's accounts (both owed money), a
    # payout batch still exported (a mark can aim at it)
    ledger: dict[str, Any] = field(default_factory=dict)
    # commerce orders: pending (a payment open), paid, delivered; buyers are personal data
    orders: dict[str, Any] = field(default_factory=dict)
    # assisted purchase (代购): one recorded, one ordered whose parcel waits unlinked at
    # the village station (a sweep links it)
    assisted: dict[str, Any] = field(default_factory=dict)
    # relapse risk (ADR 0019): the household's case (2024 income far below the line),
    # assigned to the county's registry officer and visited (so it may be closed)
    risk: dict[str, Any] = field(default_factory=dict)


@dataclass
class World:
    regions: dict[str, Region]
    counties: dict[str, County]
    users: dict[str, User]  # role -> the IN user of that role
    day: dt.date = field(default_factory=world_day)  # when the world's parcels moved

    @property
    def month(self) -> str:
        """The world day's month, as the month filters take it (YYYY-MM)."""
        return f"{self.day:%Y-%m}"

    def on(self, days: int) -> str:
        """The world's day moved by ``days``, ISO formatted, for probes naming a day."""
        return (self.day + dt.timedelta(days=days)).isoformat()

    @property
    def inside(self) -> County:
        return self.counties[IN_COUNTY]

    @property
    def out(self) -> County:
        """The sibling county: the default OUT target."""
        return self.counties["520203"]

    @property
    def far(self) -> County:
        return self.counties["530102"]

    def out_markers(self) -> list[str]:
        markers = [OUT_MARKER, *OUT_REGION_NAMES]
        for code in OUT_COUNTIES:
            c = self.counties[code]
            markers += [s.code for s in c.stations.values()]
            markers.append(c.id_number)
        return markers

    def personal_markers(self) -> list[str]:
        """Personal data of OUT producers: never on a public page, whoever asks."""
        out = []
        for code in OUT_COUNTIES:
            out += self.counties[code].commerce.get("personal", [])
            out += self.counties[code].orders.get("personal", [])
            out += self.counties[code].assisted.get("personal", [])
        return out

    def leaked(self, text: str) -> list[str]:
        """The OUT markers found in ``text`` (case-insensitive: usernames are lowercased)."""
        low = text.lower()
        return [m for m in self.out_markers() if m and m.lower() in low]


def _add_villages(regions: dict[str, Region], township: str) -> list[str]:
    parent = regions[township]
    codes = []
    for suffix in EXTRA_VILLAGES:
        code = township + suffix
        kind = Kind.COMMUNITY if township.startswith("53") else Kind.VILLAGE
        regions[code] = Region.objects.create(
            code=code,
            name=f"{parent.name}{suffix}村",
            level=Level.VILLAGE,
            kind=kind,
            parent=parent,
        )
        codes.append(code)
    return codes


def _import_csv(village: str, number: str, name: str, id_number: str) -> bytes:
    header = [c.label for c in COLUMNS]
    row = {c.key: "" for c in COLUMNS}
    row.update(
        village_code=village,
        household_number=number,
        name=name,
        sex="男",
        relation="户主",
        birth_year=id_number[6:10],
        id_number=id_number,
    )
    # a row error whose report echoes the marker (an unknown relation is quoted)
    bad = dict(row, household_number=number + "X", relation=name, id_number="")
    lines = [",".join(header), ",".join(row[c.key] for c in COLUMNS)]
    lines.append(",".join(bad[c.key] for c in COLUMNS))
    return ("\n".join(lines) + "\n").encode()


def _parcel(c: County, tag: str, seq: int, upto: str = "at_station", tn: str = "") -> Parcel:
    """A ZTO parcel announced for the county's village and scanned to its station (or
    only up to ``upto``)."""
    national = RegionScope.national()
    tn = tn or f"W{c.code}{seq:02d}"
    logistics_services.manifest_intake(
        scope=national,
        carrier_code="ZTO",
        rows=[
            {
                "tracking_number": tn,
                "recipient_name": f"{tag}-收件人{seq}",
                "phone": f"1390000{seq:04d}",
                "village_code": c.village,
                "weight_g": 800,
                "size_class": "S",
            }
        ],
    )
    steps = ["received_at_county", "sorted", "loaded", "at_station"]
    steps = steps[: steps.index(upto) + 1]
    t0 = dt.datetime.combine(world_day(), dt.time(8), tzinfo=dt.UTC)
    logistics_services.scan_events_record(
        scope=national,
        events=[
            {
                "event_id": f"world-{tn}-{i}",
                "carrier": "ZTO",
                "tracking_number": tn,
                "type": t,
                "occurred_at": t0 + dt.timedelta(hours=i),
                "station_code": c.stations["village"].code if t == "at_station" else "",
            }
            for i, t in enumerate(steps)
        ],
    )
    return Parcel.objects.get(tracking_number=tn)


def _shipments(c: County, tag: str) -> dict[str, Any]:
    """Upward shipments at the village station, one per state a write starts from."""
    national = RegionScope.national()
    out: dict[str, Any] = {}
    for state in ("booked", "collected", "at_county"):
        s = logistics_shipments.shipment_book(
            scope=national,
            station=c.stations["village"],
            producer_name=f"{tag}-农户",
            contents=f"{tag} 猕猴桃",
            pieces=3,
            weight_g=15_000,
            destination=f"{tag} 广州",
        )
        if state != "booked":
            s = logistics_shipments.shipment_collect(scope=national, shipment=s)
        if state == "at_county":
            s = logistics_shipments.shipment_scan_in(scope=national, shipment=s)
        out[state] = s
    logistics_fees.accrue(scope=RegionScope.for_regions([c.code]))
    return out


def _commerce(c: County, tag: str, seq: int) -> dict[str, Any]:
    """A person producer and a cooperative at the village station; lots harvested,
    graded and packed (each the state a write starts from); a price tier."""
    from cunzhan.commerce import services as commerce_services
    from cunzhan.commerce.models import Product
    from tests.factories.commerce import KIWI_SPECIAL

    national = RegionScope.national()
    station = c.stations["village"]
    phone = f"1370000{seq:04d}"
    person = commerce_services.producer_register(
        scope=national, station=station, kind="person", name=f"{tag}-果农{seq}", phone=phone
    )
    coop = commerce_services.producer_register(
        scope=national,
        station=station,
        kind="cooperative",
        name=f"{tag} 合作社{seq}",
        members=[{"name": f"{tag}-社员{seq}"}],
    )
    kiwi = Product.objects.get(code="kiwifruit-red")
    lots = {}
    for state in ("harvested", "graded", "packed"):
        lot = commerce_services.lot_record(
            scope=national,
            producer=person,
            product=kiwi,
            harvest_date=world_day(),
            quantity=100 + seq,
            note=f"{tag} 批次",
        )
        if state != "harvested":
            commerce_services.lot_grade(scope=national, lot=lot, samples=KIWI_SPECIAL)
        if state == "packed":
            commerce_services.lot_pack(scope=national, lot=lot)
        lot.refresh_from_db()
        lots[state] = lot
    grade = kiwi.standards.get(active=True).grades.get(code="special")
    tier = commerce_services.price_tier_set(
        scope=national, grade=grade, county_code=c.code, price_fen=1000 + seq
    )
    return {
        "person": person,
        "coop": coop,
        "lots": lots,
        "grade": grade,
        "tier": tier,
        "personal": [person.name, phone],
    }


def _ledger(c: County, tag: str) -> dict[str, Any]:
    """Two paid and settled sales at the village station, a payout batch between them
    (so something is owed again afterwards); the fees stay owed (booking them is a
    write the matrix aims at)."""
    from cunzhan.ledger import models as ledger_models
    from cunzhan.ledger import payouts as ledger_payouts
    from cunzhan.ledger import services as ledger_services
    from cunzhan.ledger import simulation as ledger_simulation

    station = c.stations["village"]
    out: dict[str, Any] = {}
    for i, gross in enumerate((12_000, 8_000)):
        ledger_services.payment_receive(
            county=c.code,
            idempotency_key=f"world-pay-{c.code}-{i}",
            buyer_key=f"buyer:{c.code}-{i}",
            buyer_label=f"{tag}-买家",
            amount_fen=gross,
            provider="sandbox",
        )
        ledger_services.sale_settle(
            county=c.code,
            idempotency_key=f"world-sale-{c.code}-{i}",
            gross_fen=gross,
            producer_key=f"producer:{c.code}",
            producer_label=f"{tag}-农户",
            station=station,
            buyer_key=f"buyer:{c.code}-{i}",
        )
        if i == 0:
            # the county's paying account and the payees have confirmed bank details
            ledger_simulation.demo_bank_details(
                county=c.code,
                accounts=[
                    ledger_services.account_for(kind="cash", county=c.code),
                    *ledger_models.Account.objects.filter(
                        county_id=c.code, kind__in=ledger_models.PAYABLE_KINDS
                    ),
                ],
            )
            out["batch"] = ledger_payouts.payout_batch_create(
                scope=RegionScope.national(), county=c.code, note=f"{tag} 批次"
            )
    out["producer"] = ledger_services.account_for(
        kind="producer", county=c.code, owner_key=f"producer:{c.code}"
    )
    # the producer's new bank details, waiting for a second person's confirmation
    from cunzhan.ledger import bank_details as ledger_bank

    enterer, _ = ledger_simulation.demo_people(c.code)
    out["bank_pending"] = ledger_bank.bank_details_submit(
        scope=RegionScope.for_regions([c.code]),
        account=out["producer"],
        holder_name=f"{tag}-农户",
        bank_name=f"{tag}-银行",
        account_number="6228480000009999",
        actor=enterer,
    )
    out["station"] = ledger_services.account_for(kind="station", county=c.code, station=station)
    return out


def _orders(c: County, tag: str, seq: int) -> dict[str, Any]:
    """Storefront orders of the county's kiwifruit (its price tier): one waiting for
    payment (a sandbox payment open), one paid through the signed webhook, one
    delivered (its sales settled in the ledger), one shipped (its shipments handed to
    the carrier) and one fulfilling whose shipments were all handed over (ready to be
    marked shipped). The buyers' names and phones are
    personal data (never on a public page)."""
    from cunzhan.commerce import orders as order_services
    from tests.factories.orders import pay

    out: dict[str, Any] = {"personal": []}
    for i, name in enumerate(("pending", "paid", "delivered", "shipped", "handed")):
        buyer, phone = f"{tag}-买家{seq}{i}", f"1590000{seq:02d}{i:02d}"
        order = order_services.order_place(
            channel="storefront",
            county_code=c.code,
            lines=[{"product": "kiwifruit-red", "grade": "special", "quantity": 2}],
            buyer_name=buyer,
            buyer_phone=phone,
            address=f"{tag} 收货地址 {i}",
            note=f"{tag} 订单 {name}",
        )
        if name == "pending":
            from cunzhan.commerce.payments import payment_start

            out["payment"] = payment_start(order=order)
        else:
            pay(order)
        if name == "delivered":
            from tests.factories.orders import deliver

            deliver(order)
        elif name == "shipped":
            from tests.factories.orders import ship

            ship(order)
        elif name == "handed":  # every shipment handed to the carrier, not yet synced
            from tests.factories.orders import hand_over

            hand_over(order_services.order_fulfil(scope=RegionScope.national(), order=order))
        order.refresh_from_db()
        out[name] = order
        out["personal"] += [buyer, phone, f"{tag} 收货地址 {i}"]
    out["link"] = order_services.order_link(out["paid"])
    from cunzhan.commerce import wholesale

    out["buyer"] = wholesale.buyer_create(
        scope=RegionScope.national(),
        county_code=c.code,
        kind="school",
        organisation=f"{tag} 中学食堂",
        contact_name=f"{tag}-联系人{seq}",
        contact_phone=f"1580000{seq:02d}99",
        address=f"{tag} 学校地址",
    )
    out["personal"] += [f"{tag}-联系人{seq}", f"1580000{seq:02d}99"]
    return out


def _county(regions: dict[str, Region], code: str, seq: int) -> County:
    township, village = TREE_POINTS[code]
    extra = _add_villages(regions, township)
    tag = IN_MARKER if code == IN_COUNTY else OUT_MARKER
    c = County(code=code, township=township, village=village, free_village=extra[4])

    def station(region: str, status: str, label: str) -> Station:
        return make_station(
            region,
            status,
            name=f"{tag} {label} {region}",
            address=f"{tag} 地址 {region}",
            applicant_name=f"{tag}-申请人",
        )

    c.stations["centre"] = station(code, StationStatus.ACTIVE, "县级服务中心")
    c.stations["depot"] = station(township, StationStatus.SUSPENDED, "乡镇服务站")
    c.stations["village"] = station(village, StationStatus.ACTIVE, "村级服务站")
    c.stations["proposed"] = station(extra[0], StationStatus.PROPOSED, "待提交")
    c.stations["under_review"] = station(extra[1], StationStatus.UNDER_REVIEW, "审核中")
    c.stations["approved"] = station(extra[2], "approved", "已批准")
    c.stations["suspended"] = station(extra[3], StationStatus.SUSPENDED, "已暂停")

    national = RegionScope.national()
    c.helper = network_services.station_helper_add(
        scope=national,
        station=c.stations["village"],
        name=f"{tag}-帮手",
        phone=f"1390000{seq:02d}77",
        started_on=dt.date(2024, 3, 1),
    )
    c.parcel = _parcel(c, tag, seq)
    c.loaded = _parcel(c, tag, seq, upto="loaded", tn=f"L{c.code}{seq:02d}")
    c.exception = ParcelException.objects.create(
        parcel=c.parcel, problem="illegal_transition", detail=f"{tag} probe exception"
    )
    c.shipments = _shipments(c, tag)
    c.commerce = _commerce(c, tag, seq)
    c.ledger = _ledger(c, tag)
    c.orders = _orders(c, tag, seq)
    c.assisted = _assisted(c, tag, seq)
    c.household = registry_services.household_create(
        scope=national, village_code=village, address=f"{tag} {code} 1组"
    )
    c.id_number = make_id_number(
        region=code, birth_date=dt.date(1970 + seq, 3, 9), sequence=2 * (100 + seq) + 1
    )
    c.person = registry_services.person_create(
        household=c.household,
        name=f"{tag}-李{seq}",
        sex="male",
        relation="head",
        birth_year=1970 + seq,
        phone="13900000000",
        id_number=c.id_number,
    )
    registry_services.poverty_register(
        household=c.household, year_registered=2014, main_cause="illness"
    )
    c.consent = registry_services.consent_grant(
        person=c.person, purpose="data_processing", method="paper"
    )
    registry_services.income_record_set(
        household=c.household, year=2023, source="farming", amount_fen=1_234_500
    )

    # people of this county: a county manager and a registry officer (their display
    # names carry the marker), who uploads the county's import batch
    manager, _ = user_create(
        username=f"cm-{code}",
        role=Role.COUNTY_MANAGER,
        password=PASSWORD,
        display_name=f"{tag}-经理",
        region_codes=[code],
    )
    officer, _ = user_create(
        username=f"ro-{code}",
        role=Role.REGISTRY_OFFICER,
        password=PASSWORD,
        display_name=f"{tag}-专员",
        region_codes=[code],
    )
    # a deactivated driver (a reactivation can aim at it) and a token of the manager
    driver, _ = user_create(
        username=f"drv-{code}",
        role=Role.DRIVER,
        password=PASSWORD,
        display_name=f"{tag}-司机",
        region_codes=[code],
    )
    User.objects.filter(pk=driver.pk).update(is_active=False)
    api_token_create(user=manager, name=f"{tag}-token")
    c.users = [manager, officer, driver]
    c.risk = _risk(c, officer)
    c.plan = world_plan(code, c.stations["village"], manager)
    id2 = make_id_number(region=code, birth_date=dt.date(1990, 1, 1), sequence=2 * (200 + seq) + 1)
    c.batch = registry_import(
        scope=RegionScope.for_regions([code]),
        user=officer,
        file_name=f"{tag}-{code}.csv",
        data=_import_csv(extra[0], f"{code[-3:]}IMP", f"{tag}-王{seq}", id2),
    )
    audit_record(
        action="update",
        object_type="tests.Probe",
        object_id=f"probe-{code}",
        object_repr=f"{tag} audit {code}",
        region_code=village,
        personal_data=True,
        note=f"{tag} note",
    )
    return c


def _plan_rows(out_q: Any, rows: Any) -> dict[str, Any]:
    from cunzhan.logistics.models import DailyPlan, PlanItem, PlanStop, Run, Shipment, Vehicle

    return {
        "vehicles": rows(
            Vehicle.objects.filter(out_q("county_id")), "name", "capacity_kg", "updated_at"
        ),
        "plans": rows(DailyPlan.objects.filter(out_q("county_id")), "status", "built_at"),
        "plan_stops": rows(
            PlanStop.objects.filter(out_q("route__plan__county_id")), "arrived_at", "dropped"
        ),
        "plan_items": rows(
            PlanItem.objects.filter(out_q("stop__route__plan__county_id")), "loaded_at", "done_at"
        ),
        "runs": rows(Run.objects.filter(out_q("route__plan__county_id")), "status", "loaded_at"),
        "shipments": rows(Shipment.objects.filter(out_q("station__region_id")), "state"),
    }


def _ledger_rows(out_q: Any, rows: Any) -> dict[str, Any]:
    from cunzhan.ledger.models import (
        Account,
        BankDetails,
        PayoutBatch,
        SettlementRule,
        Transaction,
    )

    return {
        "ledger_bank_details": rows(
            BankDetails.objects.filter(out_q("account__county_id")), "status", "holder_name"
        ),
        "ledger_accounts": rows(Account.objects.filter(out_q("county_id")), "balance_fen", "label"),
        "ledger_transactions": rows(Transaction.objects.filter(out_q("county_id")), "kind"),
        "ledger_payouts": rows(PayoutBatch.objects.filter(out_q("county_id")), "status"),
        "ledger_rules": rows(
            SettlementRule.objects.filter(out_q("county_id")),
            "platform_fee_bp",
            "station_commission_bp",
            "assisted_commission_bp",
        ),
    }


def _assisted(c: County, tag: str, seq: int) -> dict[str, Any]:
    """A recorded purchase, and an ordered one whose parcel (by tracking number) waits
    at the village station, not linked yet."""
    from cunzhan.commerce import assisted

    national = RegionScope.national()
    station = c.stations["village"]
    phone = f"1390000{seq:04d}"  # the recipient of the county's parcels (_parcel)
    out: dict[str, Any] = {"personal": [phone]}
    for key, tn, price in (
        ("recorded", "", "199.9"),
        ("ordered", f"A{c.code}{seq:02d}", "199.9"),
        ("pending", "", "1500"),  # above the default review threshold (¥800)
    ):
        out[key] = assisted.assisted_record(
            scope=national,
            station=station,
            villager_name=f"{tag}-村民{seq}",
            villager_phone=phone,
            item=f"{tag} 电饭煲",
            price=price,
            shop="taobao",
            shop_order_no=f"TB{seq}" if tn else "",
            tracking_number=tn,
        )
        if tn:
            _parcel(c, tag, seq, tn=tn)
    # the recorded purchase's delivery: the same villager, announced after the record
    out["parcel"] = _parcel(c, tag, seq, tn=f"B{c.code}{seq:02d}")
    return out


def _assisted_rows(out_q: Any, rows: Any) -> dict[str, Any]:
    from cunzhan.commerce.models import AssistedLimits, AssistedPurchase

    return {
        "assisted": rows(
            AssistedPurchase.objects.filter(out_q("village_id")),
            "status",
            "parcel_id",
            "shop_order_no",
            "commission_fen",
            "review_state",
            "updated_at",
        ),
        "assisted_total": AssistedPurchase.objects.count(),
        "assisted_limits": rows(
            AssistedLimits.objects.filter(out_q("county_id")),
            "max_price_fen",
            "review_above_fen",
            "shop_max_fen",
        ),
    }


RISK_YEAR = 2024


def _risk(c: County, officer: User) -> dict[str, Any]:
    """The county's household earns ¥1,000 in 2024 (1 person, ¥12,345 in 2023): a case
    scanned, assigned to the county's registry officer and visited."""
    from cunzhan.impact import risk

    registry_services.income_record_set(
        household=c.household,  # type: ignore[arg-type]
        year=RISK_YEAR,
        source="wages",
        amount_fen=100_000,
    )
    result = risk.risk_scan(county_code=c.code, year=RISK_YEAR)
    from cunzhan.impact.risk_models import RiskCase

    case = RiskCase.objects.get(uuid=result.case_ids[0])
    case = risk.case_assign(
        case=case, assignee=officer, actor=officer, scope=RegionScope.for_regions([c.code])
    )
    case = risk.case_visit(case=case, day=world_day(), findings="probe", actor=officer)
    return {"case": case, "assignee": officer}


def _risk_rows(out_q: Any, rows: Any) -> dict[str, Any]:
    from cunzhan.impact.risk_models import RiskCase, RiskCaseEvent

    return {
        "risk_cases": rows(
            RiskCase.objects.filter(out_q("village_id")),
            "status",
            "score",
            "reasons",
            "assignee_id",
            "scanned_at",
            "updated_at",
        ),
        "risk_events": rows(RiskCaseEvent.objects.filter(out_q("case__village_id")), "kind"),
        "risk_cases_total": RiskCase.objects.count(),
    }


def make_world() -> World:
    regions = make_region_tree()
    seed_catalogue()
    counties = {
        code: _county(regions, code, seq)
        for seq, code in enumerate((IN_COUNTY, *OUT_COUNTIES), start=1)
    }
    inside = counties[IN_COUNTY]
    # impact: every county's indicator values (the parcels of the world's day, the
    # stations, the registered-poor households), so that dashboards and drill-downs have
    # OUT rows
    from cunzhan.impact.services import indicators_refresh

    for code in (IN_COUNTY, *OUT_COUNTIES):
        indicators_refresh(county_code=code, since=world_day().replace(day=1))
    users: dict[str, User] = {}
    for role in Role.values:
        kwargs: dict[str, Any] = {}
        if role == Role.STATION_OPERATOR:
            kwargs["station_ids"] = [inside.stations["village"].pk]
        elif role != Role.NETWORK_ADMIN:
            kwargs["region_codes"] = [IN_COUNTY]
        users[role], _ = user_create(
            username=f"matrix-{role}", role=role, password=PASSWORD, **kwargs
        )
    return World(regions=regions, counties=counties, users=users)


def out_snapshot() -> dict[str, Any]:
    """Every OUT row that a write could touch, plus global counts (users, stations)."""
    from django.db.models import Q

    from cunzhan.accounts.models import ApiToken, Assignment
    from cunzhan.logistics.models import (
        CountyLogisticsSettings,
        ParcelReminder,
        ScanEvent,
        Shipment,
        SmsMessage,
        StationFee,
    )
    from cunzhan.network.models import StationApplication
    from cunzhan.registry.models import IncomeRecord, PovertyRegistration

    def out_q(field_name: str) -> Q:
        return RegionScope.for_regions(OUT_PREFIXES).q(field_name)

    def rows(qs: Any, *fields: str) -> list[tuple]:
        return sorted(qs.values_list("pk", *fields))

    return {
        "stations": rows(
            Station.objects.filter(out_q("region_id")),
            "status",
            "updated_at",
            "name",
            "address",
            "region_id",
        ),
        "applications": rows(
            StationApplication.objects.filter(out_q("station__region_id")),
            "decision",
            "updated_at",
            "review_note",
        ),
        "households": rows(
            Household.objects.filter(out_q("village_id")), "address", "number", "updated_at"
        ),
        "persons": rows(
            Person.objects.filter(out_q("household__village_id")),
            "name",
            "updated_at",
            "id_number_index",
            "household_id",
        ),
        "registrations": rows(
            PovertyRegistration.objects.filter(out_q("household__village_id")),
            "year_registered",
            "year_exited",
            "updated_at",
        ),
        "incomes": rows(
            IncomeRecord.objects.filter(out_q("household__village_id")), "amount_fen", "updated_at"
        ),
        "consents": rows(
            Consent.objects.filter(out_q("person__household__village_id")),
            "purpose",
            "withdrawn_at",
            "updated_at",
        ),
        "batches": rows(ImportBatch.objects.filter(out_q("region_code")), "updated_at"),
        "helpers": rows(
            StationHelper.objects.filter(out_q("station__region_id")),
            "name",
            "phone",
            "ended_on",
            "updated_at",
        ),
        "helpers_total": StationHelper.objects.count(),
        "users": rows(User.objects.all(), "password", "is_active", "role", "updated_at"),
        "assignments": rows(Assignment.objects.all(), "region_id", "station_id"),
        "out_tokens": rows(
            ApiToken.objects.filter(user__assignments__region_id__in=OUT_COUNTIES), "revoked_at"
        ),
        "parcels": rows(
            Parcel.objects.filter(out_q("village_id")),
            "state",
            "updated_at",
            "pickup_code",
            "station_id",
        ),
        "scan_events": rows(ScanEvent.objects.filter(out_q("parcel__village_id")), "type"),
        "parcels_total": Parcel.objects.count(),
        "sms": rows(SmsMessage.objects.filter(out_q("parcel__village_id")), "text"),
        "parcel_exceptions": rows(
            ParcelException.objects.filter(out_q("parcel__village_id")), "status", "note"
        ),
        **_plan_rows(out_q, rows),
        "shipments": rows(
            Shipment.objects.filter(out_q("station__region_id")),
            "state",
            "updated_at",
            "outbound_tracking",
        ),
        "shipments_total": Shipment.objects.count(),
        "station_fees": rows(
            StationFee.objects.filter(out_q("station__region_id")), "amount_fen", "status"
        ),
        "reminders": rows(ParcelReminder.objects.filter(out_q("parcel__village_id")), "sent_at"),
        "county_logistics_settings": rows(
            CountyLogisticsSettings.objects.filter(out_q("county_id")),
            "reminder_days",
            "return_days",
            "fee_down_fen",
            "updated_at",
        ),
        **_commerce_rows(out_q, rows),
        **_ledger_rows(out_q, rows),
        **_orders_rows(out_q, rows),
        **_assisted_rows(out_q, rows),
        **_risk_rows(out_q, rows),
        "stations_total": Station.objects.count(),
        "households_total": Household.objects.count(),
        "persons_total": Person.objects.count(),
    }


def _orders_rows(out_q: Any, rows: Any) -> dict[str, Any]:
    from cunzhan.commerce.models import (
        Buyer,
        Order,
        OrderAllocation,
        OrderShipment,
        Payment,
        PaymentEvent,
    )

    return {
        "orders": rows(
            Order.objects.filter(out_q("county_id")), "state", "paid_fen", "refunded_fen"
        ),
        "orders_total": Order.objects.count(),
        "order_allocations": rows(
            OrderAllocation.objects.filter(out_q("line__order__county_id")),
            "released",
            "settled_key",
            "refunded_fen",
        ),
        "payments": rows(Payment.objects.filter(out_q("order__county_id")), "status"),
        "order_shipments_total": OrderShipment.objects.count(),
        "buyers": rows(Buyer.objects.filter(out_q("county_id")), "organisation"),
        "buyers_total": Buyer.objects.count(),
        "payment_events_total": PaymentEvent.objects.count(),
    }


def _commerce_rows(out_q: Any, rows: Any) -> dict[str, Any]:
    from cunzhan.commerce.models import (
        GradeStandard,
        Lot,
        LotEvent,
        LotGrading,
        PriceTier,
        Producer,
        ProducerMember,
    )

    return {
        "producers": rows(Producer.objects.filter(out_q("village_id")), "name", "updated_at"),
        "producers_total": Producer.objects.count(),
        # national reference data: a standard written by anyone changes every county
        "grade_standards": rows(GradeStandard.objects.all(), "active", "name"),
        "producer_members": rows(
            ProducerMember.objects.filter(out_q("cooperative__village_id")), "name"
        ),
        "lots": rows(
            Lot.objects.filter(out_q("village_id")),
            "status",
            "grade_id",
            "quantity_available",
            "shipment_id",
            "updated_at",
        ),
        "lots_total": Lot.objects.count(),
        "lot_events": rows(LotEvent.objects.filter(out_q("lot__village_id")), "type"),
        "lot_gradings": rows(LotGrading.objects.filter(out_q("lot__village_id")), "grade_id"),
        "price_tiers": rows(
            PriceTier.objects.filter(out_q("county_id")), "price_fen", "valid_from", "updated_at"
        ),
    }
