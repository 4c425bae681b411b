"""Every write to the registry. Each service validates, writes in a transaction and
records an audit event. A plain ID number never reaches the audit log: persons are
snapshotted with the masked form only (``id_masked``)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cunzhan.core import crypto
from cunzhan.core.audit import audit_record, snapshot
from cunzhan.core.errors import ApplicationError, Conflict, Unprocessable
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import clean_phone, is_ascii_digits, reject_nul
from cunzhan.network.models import Level, Region
from cunzhan.registry import idcard
from cunzhan.registry.models import (
    Consent,
    ConsentMethod,
    ConsentPurpose,
    Household,
    IncomeRecord,
    IncomeSource,
    Person,
    PovertyCause,
    PovertyRegistration,
    Relation,
    Sex,
)

ID_INDEX_PURPOSE = "registry.person.id_number"
# never in an audit snapshot: the number, its index, and its last four characters (with
# the birth year and the village's county they narrow a number to a few dozen, ADR 0030)
PERSON_SECRET_FIELDS = ("id_number_enc", "id_number_index", "id_last4")
# One household's income from one source in one year: anything above is a typing error.
INCOME_MAX_FEN = 100_000_000_00  # 100 million yuan
MIN_YEAR = 1900


def id_number_index(number: str) -> str:
    """The blind index of a normalised ID number."""
    return crypto.blind_index(number, purpose=ID_INDEX_PURPOSE)


def _person_snapshot(person: Person) -> dict:
    return snapshot(person, exclude=PERSON_SECRET_FIELDS)


def _field_error(field_name: str, message: str, code: str = "invalid") -> Unprocessable:
    """A value refused, naming its field: 422. A rule about one value alone is also in the
    API's published schema (ADR 0032); this is its defence (and the forms' check), and the
    answer for rules the schema cannot state (the clock, other fields, stored data)."""
    return Unprocessable(message, code=code, details={"field": field_name})


def _duplicate(field_name: str, message: str, code: str) -> Conflict:
    """The value is already taken by a stored record: a conflict (409)."""
    return Conflict(message, code=code, details={"field": field_name})


def _this_year() -> int:
    today = timezone.localdate()
    return today.year


def clean_year(value: Any, *, field_name: str, allow_none: bool = False) -> int | None:
    if value in (None, ""):
        if allow_none:
            return None
        raise _field_error(field_name, _("年份不能为空"), "required")
    try:
        year = int(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise _field_error(field_name, _("年份必须是四位数字"), "invalid_year") from exc
    if not MIN_YEAR <= year <= _this_year():
        raise _field_error(
            field_name,
            _("年份应在 %(a)d 至 %(b)d 之间") % {"a": MIN_YEAR, "b": _this_year()},
            "invalid_year",
        )
    return year


@cache
def _values(choices: Any) -> frozenset[str]:
    return frozenset(choices.values)


def _choice(value: str, choices: Any, field_name: str) -> str:
    if value not in _values(choices):
        raise _field_error(
            field_name,
            _("“%(v)s”不是有效选项，可选：%(c)s") % {"v": value, "c": "、".join(choices.values)},
            "invalid_choice",
        )
    return value


def village_for_write(*, scope: RegionScope, village_code: str) -> Region:
    """The village (level 5) ``village_code`` if it is in ``scope``, else Unprocessable.

    Unknown and out-of-scope codes get the same message, so nothing leaks.
    """
    code = str(village_code or "").strip()
    region = Region.objects.filter(code=code).first() if is_ascii_digits(code) else None
    if region is None or not scope.contains_code(region.code):
        # a code in the body that names nothing the caller may write to: 422 (a 404 is
        # for the path), the same for unknown and out-of-scope codes
        raise Unprocessable(
            _("村代码“%(c)s”不存在或不在您的管辖范围内") % {"c": code},
            code="invalid_village",
            details={"field": "village"},
        )
    if region.level != Level.VILLAGE:
        raise _field_error(
            "village",
            _("“%(c)s”不是村级单位（需要12位村/居委会代码）") % {"c": code},
            "invalid_village",
        )
    return region


def _next_household_number(village_id: str) -> str:
    numbers = Household.objects.filter(village_id=village_id).values_list("number", flat=True)
    highest = max((int(n) for n in numbers if is_ascii_digits(n)), default=0)
    return f"{highest + 1:04d}"


def _audit_household(
    action: str,
    object_type: str,
    household: Household,
    before: dict | None,
    after: dict,
    actor: Any,
) -> None:
    """Audit a write to the household or its poverty registration (keyed by the household)."""
    audit_record(
        action=action,
        object_type=object_type,
        object_id=household.uuid,
        object_repr=str(household),
        region_code=household.village_id,
        before=before,
        after=after,
        actor=actor,
    )


@transaction.atomic
def household_create(
    *,
    scope: RegionScope,
    village_code: str,
    number: str = "",
    address: str = "",
    actor: Any = None,
) -> Household:
    reject_nul(village_code=village_code, number=number, address=address)
    village = village_for_write(scope=scope, village_code=village_code)
    # serialise numbering within the village (the next free number, the uniqueness check)
    Region.objects.select_for_update().filter(pk=village.pk).first()
    number = (number or "").strip() or _next_household_number(village.code)
    if len(number) > 20:
        raise _field_error("number", _("户编号最多20个字符"))
    if Household.objects.filter(village=village, number=number).exists():
        raise _duplicate(
            "number",
            _("本村已有户编号为“%(n)s”的户") % {"n": number},
            "duplicate_household_number",
        )
    household = Household.objects.create(
        village=village, number=number, address=(address or "").strip()[:200]
    )
    _audit_household("create", "registry.Household", household, None, snapshot(household), actor)
    return household


@transaction.atomic
def household_update(*, household: Household, address: str, actor: Any = None) -> Household:
    reject_nul(address=address)
    before = snapshot(household)
    address = (address or "").strip()[:200]
    if address == household.address:
        return household
    household.address = address
    household.save(update_fields=["address", "updated_at"])
    _audit_household("update", "registry.Household", household, before, snapshot(household), actor)
    return household


@dataclass(frozen=True)
class PersonData:
    """Validated person fields; ``id_number`` normalised or ''."""

    name: str
    sex: str
    birth_year: int
    relation: str
    phone: str
    id_number: str


def person_validate(
    *,
    name: str,
    sex: str,
    birth_year: Any,
    relation: str,
    phone: str = "",
    id_number: str = "",
) -> PersonData:
    """Validate person fields (without touching the database). Raises ApplicationError
    with ``details.field`` naming the first field at fault."""
    name = " ".join(str(name or "").split())
    if not name:
        raise _field_error("name", _("姓名不能为空"), "required")
    if len(name) > 40:
        raise _field_error("name", _("姓名最多40个字符"))
    sex = _choice(str(sex or "").strip(), Sex, "sex")
    relation = _choice(str(relation or "").strip(), Relation, "relation")
    reject_nul(name=name, phone=phone)
    phone = str(phone or "").strip()
    if phone:
        phone = clean_phone(phone)
    number = ""
    year = clean_year(birth_year, field_name="birth_year", allow_none=True)
    if id_number and str(id_number).strip():
        try:
            parsed = idcard.parse_id_number(str(id_number))
        except ApplicationError as exc:
            # the GB 11643 check digit, a real birth date: rules a pattern cannot state
            given = exc.details if isinstance(exc.details, dict) else {}
            raise Unprocessable(
                exc.message, code=exc.code, details={**given, "field": "id_number"}
            ) from exc
        number = parsed.number
        if year is None:
            year = parsed.birth_date.year
        elif year != parsed.birth_date.year:
            raise _field_error(
                "birth_year",
                _("出生年份 %(y)d 与身份证号中的出生年份 %(i)d 不一致")
                % {"y": year, "i": parsed.birth_date.year},
                "id_birth_year_mismatch",
            )
        if parsed.sex != sex:
            raise _field_error(
                "sex", _("性别与身份证号（第17位奇男偶女）不一致"), "id_sex_mismatch"
            )
    if year is None:
        raise _field_error("birth_year", _("出生年份不能为空"), "required")
    return PersonData(
        name=name, sex=sex, birth_year=year, relation=relation, phone=phone, id_number=number
    )


def _lock_household(household: Household) -> Household:
    """Lock the household row: writes that check the household's members, registration
    or income first (one head, one registration) are serialised per household."""
    return Household.objects.select_for_update().get(pk=household.pk)


def _check_unique_id(number: str, *, exclude_pk: int | None = None) -> str:
    index = id_number_index(number)
    qs = Person.objects.filter(id_number_index=index)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise _duplicate("id_number", _("该身份证号已登记在系统中（重复）"), "duplicate_id_number")
    return index


def _check_single_head(household: Household, relation: str, exclude_pk: int | None) -> None:
    if relation != Relation.HEAD:
        return
    qs = Person.objects.filter(household=household, relation=Relation.HEAD)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    if qs.exists():
        raise _duplicate("relation", _("该户已有户主"), "duplicate_head")


def _set_id_number(person: Person, number: str, index: str | None) -> None:
    person.id_number_enc = crypto.encrypt(number) if number else ""
    person.id_number_index = index
    person.id_masked = idcard.mask(number)
    person.id_last4 = number[-4:] if number else ""


@transaction.atomic
def person_create(
    *,
    household: Household,
    name: str,
    sex: str,
    relation: str,
    birth_year: Any = None,
    phone: str = "",
    id_number: str = "",
    actor: Any = None,
) -> Person:
    data = person_validate(
        name=name,
        sex=sex,
        birth_year=birth_year,
        relation=relation,
        phone=phone,
        id_number=id_number,
    )
    household = _lock_household(household)
    index = _check_unique_id(data.id_number) if data.id_number else None
    _check_single_head(household, data.relation, None)
    person = Person(
        household=household,
        name=data.name,
        sex=data.sex,
        birth_year=data.birth_year,
        relation=data.relation,
        phone=data.phone,
    )
    _set_id_number(person, data.id_number, index)
    person.save()
    audit_record(
        action="create",
        object_type="registry.Person",
        object_id=person.uuid,
        object_repr=person.name,
        region_code=household.village_id,
        after=_person_snapshot(person),
        personal_data=True,
        actor=actor,
    )
    return person


@transaction.atomic
def person_update(
    *,
    person: Person,
    name: str,
    sex: str,
    relation: str,
    birth_year: Any = None,
    phone: str = "",
    id_number: str = "",
    actor: Any = None,
) -> tuple[Person, bool]:
    """Set the person's fields; returns ``(person, changed)``. An empty ``id_number``
    keeps the number on record (numbers are corrected, never blanked by omission)."""
    data = person_validate(
        name=name,
        sex=sex,
        birth_year=birth_year,
        relation=relation,
        phone=phone,
        id_number=id_number,
    )
    _lock_household(person.household)
    person = Person.objects.select_for_update().select_related("household").get(pk=person.pk)
    before = _person_snapshot(person)
    changed: list[str] = []
    for attr in ("name", "sex", "birth_year", "relation", "phone"):
        if getattr(person, attr) != getattr(data, attr):
            setattr(person, attr, getattr(data, attr))
            changed.append(attr)
    if data.id_number:
        index = id_number_index(data.id_number)
        if index != person.id_number_index:
            _check_unique_id(data.id_number, exclude_pk=person.pk)
            _set_id_number(person, data.id_number, index)
            changed += ["id_number_enc", "id_number_index", "id_masked", "id_last4"]
    if "relation" in changed:
        _check_single_head(person.household, person.relation, person.pk)
    if not changed:
        return person, False
    person.save(update_fields=[*changed, "updated_at"])
    audit_record(
        action="update",
        object_type="registry.Person",
        object_id=person.uuid,
        object_repr=person.name,
        region_code=person.household.village_id,
        before=before,
        after=_person_snapshot(person),
        personal_data=True,
        actor=actor,
    )
    return person, True


def _poverty_validate(
    year_registered: Any, main_cause: str, year_exited: Any
) -> tuple[int, str, int | None]:
    reg = clean_year(year_registered, field_name="year_registered")
    assert reg is not None
    cause = _choice(str(main_cause or "").strip(), PovertyCause, "main_cause")
    exited = clean_year(year_exited, field_name="year_exited", allow_none=True)
    if exited is not None and exited < reg:
        raise _field_error(
            "year_exited",
            _("脱贫年份 %(e)d 早于建档年份 %(r)d") % {"e": exited, "r": reg},
            "exit_before_registration",
        )
    return reg, cause, exited


@transaction.atomic
def poverty_register(
    *,
    household: Household,
    year_registered: Any,
    main_cause: str,
    year_exited: Any = None,
    actor: Any = None,
) -> tuple[PovertyRegistration, bool]:
    """Register the household as poor (建档立卡), or correct its registration.
    Returns ``(registration, changed)``."""
    reg, cause, exited = _poverty_validate(year_registered, main_cause, year_exited)
    household = _lock_household(household)
    existing = PovertyRegistration.objects.select_for_update().filter(household=household).first()
    if existing is None:
        registration = PovertyRegistration.objects.create(
            household=household, year_registered=reg, main_cause=cause, year_exited=exited
        )
        _audit_household(
            "create", "registry.PovertyRegistration", household, None, snapshot(registration), actor
        )
        return registration, True
    before = snapshot(existing)
    new = {"year_registered": reg, "main_cause": cause, "year_exited": exited}
    if all(getattr(existing, k) == v for k, v in new.items()):
        return existing, False
    for k, v in new.items():
        setattr(existing, k, v)
    existing.save(update_fields=[*new, "updated_at"])
    _audit_household(
        "update", "registry.PovertyRegistration", household, before, snapshot(existing), actor
    )
    return existing, True


@transaction.atomic
def poverty_exit(
    *, household: Household, year_exited: Any, actor: Any = None
) -> PovertyRegistration:
    """Record that a registered household has exited poverty (脱贫) in ``year_exited``."""
    registration = (
        PovertyRegistration.objects.select_for_update().filter(household=household).first()
    )
    if registration is None:
        raise Conflict(_("该户未建档立卡"), code="not_registered")
    if registration.year_exited is not None:
        raise Conflict(
            _("该户已于 %(y)d 年脱贫") % {"y": registration.year_exited}, code="already_exited"
        )
    _reg, _cause, exited = _poverty_validate(
        registration.year_registered, registration.main_cause, year_exited
    )
    if exited is None:
        raise _field_error("year_exited", _("脱贫年份不能为空"), "required")
    before = snapshot(registration)
    registration.year_exited = exited
    registration.save(update_fields=["year_exited", "updated_at"])
    _audit_household(
        "transition",
        "registry.PovertyRegistration",
        household,
        before,
        snapshot(registration),
        actor,
    )
    return registration


def _check_income_fen(amount_fen: Any) -> None:
    if not isinstance(amount_fen, int) or not 0 <= amount_fen <= INCOME_MAX_FEN:
        raise _field_error(
            "amount_fen",
            _("收入金额须为0到%(max)s元之间的整数分") % {"max": f"{INCOME_MAX_FEN // 100:,}"},
            "invalid_amount",
        )


@transaction.atomic
def income_record_set(
    *, household: Household, year: Any, source: str, amount_fen: int, actor: Any = None
) -> tuple[IncomeRecord, bool]:
    """Set the household's income from ``source`` in ``year`` (creates or replaces).
    Returns ``(record, changed)``."""
    y = clean_year(year, field_name="year")
    assert y is not None
    source = _choice(str(source or "").strip(), IncomeSource, "source")
    _check_income_fen(amount_fen)
    household = _lock_household(household)
    record = (
        IncomeRecord.objects.select_for_update()
        .filter(household=household, year=y, source=source)
        .first()
    )
    if record is not None and record.amount_fen == amount_fen:
        return record, False
    before = snapshot(record) if record is not None else None
    if record is None:
        record = IncomeRecord.objects.create(
            household=household, year=y, source=source, amount_fen=amount_fen
        )
    else:
        record.amount_fen = amount_fen
        record.save(update_fields=["amount_fen", "updated_at"])
    audit_record(
        action="create" if before is None else "update",
        object_type="registry.IncomeRecord",
        object_id=record.pk,
        object_repr=f"{household} {y} {source}",
        region_code=household.village_id,
        before=before,
        after=snapshot(record),
        actor=actor,
    )
    return record, True


def _consent_time(value: dt.datetime | None, field_name: str) -> dt.datetime | None:
    """An aware time not in the future (a naive one is read in the project time zone)."""
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > timezone.now() + dt.timedelta(minutes=5):
        raise _field_error(field_name, _("时间不能晚于现在"), "in_future")
    if value.year < MIN_YEAR:
        raise _field_error(field_name, _("时间无效"), "invalid")
    return value


@transaction.atomic
def consent_grant(
    *,
    person: Person,
    purpose: str,
    method: str,
    granted_at: dt.datetime | None = None,
    actor: Any = None,
) -> Consent:
    """Record a person's consent for ``purpose``. A consent already in force is kept."""
    purpose = _choice(str(purpose or "").strip(), ConsentPurpose, "purpose")
    method = _choice(str(method or "").strip(), ConsentMethod, "method")
    granted_at = _consent_time(granted_at, "granted_at")
    Person.objects.select_for_update().filter(pk=person.pk).first()  # one grant at a time
    current = Consent.objects.filter(
        person=person, purpose=purpose, withdrawn_at__isnull=True
    ).first()
    if current is not None:
        return current
    consent = Consent.objects.create(
        person=person,
        purpose=purpose,
        method=method,
        granted_at=granted_at or timezone.now(),
        recorded_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        action="create",
        object_type="registry.Consent",
        object_id=consent.pk,
        object_repr=f"{person.name} {purpose}",
        region_code=person.household.village_id,
        after=snapshot(consent),
        personal_data=True,
        actor=actor,
    )
    return consent


@transaction.atomic
def consent_withdraw(
    *, consent: Consent, withdrawn_at: dt.datetime | None = None, actor: Any = None
) -> Consent:
    # re-read under a row lock: two officers recording the same withdrawal at once
    consent.withdrawn_at = (
        Consent.objects.select_for_update()
        .values_list("withdrawn_at", flat=True)
        .get(pk=consent.pk)
    )
    if consent.withdrawn_at is not None:
        raise Conflict(_("该同意已撤回"), code="already_withdrawn")
    withdrawn_at = _consent_time(withdrawn_at, "withdrawn_at") or timezone.now()
    if withdrawn_at < consent.granted_at:
        raise _field_error("withdrawn_at", _("撤回时间早于同意时间"))
    before = snapshot(consent)
    consent.withdrawn_at = withdrawn_at
    consent.save(update_fields=["withdrawn_at", "updated_at"])
    audit_record(
        action="update",
        object_type="registry.Consent",
        object_id=consent.pk,
        object_repr=f"{consent.person.name} {consent.purpose}",
        region_code=consent.person.household.village_id,
        before=before,
        after=snapshot(consent),
        personal_data=True,
        actor=actor,
    )
    return consent


# -- bulk loading (simulation) ---------------------------------------------------


@dataclass
class PersonSpec:
    name: str
    sex: str
    birth_year: int
    relation: str
    phone: str = ""
    id_number: str = ""


@dataclass
class HouseholdSpec:
    village_code: str
    number: str
    address: str
    members: list[PersonSpec] = field(default_factory=list)
    poverty: tuple[int, str, int | None] | None = None  # registered, cause, exited
    incomes: list[tuple[int, str, int]] = field(default_factory=list)  # year, source, fen


@dataclass
class BulkLoadResult:
    households_created: int = 0
    households_skipped: int = 0
    persons_created: int = 0
    registrations_created: int = 0
    incomes_created: int = 0


@transaction.atomic
def registry_bulk_load(
    *, specs: list[HouseholdSpec], note: str, actor: Any = None, batch_size: int = 2000
) -> BulkLoadResult:
    """Create many households at once, skipping (village, number) pairs that exist.

    Every rule of the single-object services is checked (village level, person
    fields, ID check digit, ID uniqueness in the batch and in the database, exit
    after registration), but writes are bulk inserts and the whole load is recorded
    as ONE audit event (action ``import``) with the counts: meant for generated
    (simulated) data, where one event per row would dominate the run time.
    """
    result = BulkLoadResult()
    if not specs:
        return result
    codes = {s.village_code for s in specs}
    villages = set(
        Region.objects.filter(code__in=codes, level=Level.VILLAGE).values_list("code", flat=True)
    )
    missing = codes - villages
    if missing:
        raise ApplicationError(
            _("不是村级单位或不存在的村代码：%(c)s") % {"c": "、".join(sorted(missing)[:5])},
            code="invalid_village",
        )
    existing = set(
        Household.objects.filter(village_id__in=codes).values_list("village_id", "number")
    )
    new_specs = [s for s in specs if (s.village_code, s.number) not in existing]
    result.households_skipped = len(specs) - len(new_specs)
    if not new_specs:
        return result

    persons_data: list[tuple[HouseholdSpec, PersonData]] = []
    seen: set[str] = set()
    for s in new_specs:
        heads = sum(1 for m in s.members if m.relation == Relation.HEAD)
        if heads > 1:
            raise ApplicationError(_("该户已有户主"), code="duplicate_head")
        if s.poverty is not None:
            _poverty_validate(*s.poverty)
        for m in s.members:
            data = person_validate(
                name=m.name,
                sex=m.sex,
                birth_year=m.birth_year,
                relation=m.relation,
                phone=m.phone,
                id_number=m.id_number,
            )
            if data.id_number:
                if data.id_number in seen:
                    raise _field_error(
                        "id_number", _("该身份证号已登记在系统中（重复）"), "duplicate_id_number"
                    )
                seen.add(data.id_number)
            persons_data.append((s, data))
    indexes = {n: id_number_index(n) for n in seen}
    taken = set(
        Person.objects.filter(id_number_index__in=list(indexes.values())).values_list(
            "id_number_index", flat=True
        )
    )
    if taken:
        raise _duplicate("id_number", _("该身份证号已登记在系统中（重复）"), "duplicate_id_number")

    Household.objects.bulk_create(
        [
            Household(village_id=s.village_code, number=s.number, address=s.address)
            for s in new_specs
        ],
        batch_size=batch_size,
    )
    by_key = {
        (h.village_id, h.number): h
        for h in Household.objects.filter(village_id__in={s.village_code for s in new_specs})
    }
    people = []
    for s, data in persons_data:
        p = Person(
            household=by_key[(s.village_code, s.number)],
            name=data.name,
            sex=data.sex,
            birth_year=data.birth_year,
            relation=data.relation,
            phone=data.phone,
        )
        _set_id_number(p, data.id_number, indexes.get(data.id_number))
        people.append(p)
    Person.objects.bulk_create(people, batch_size=batch_size)
    registrations = [
        PovertyRegistration(
            household=by_key[(s.village_code, s.number)],
            year_registered=s.poverty[0],
            main_cause=s.poverty[1],
            year_exited=s.poverty[2],
        )
        for s in new_specs
        if s.poverty is not None
    ]
    PovertyRegistration.objects.bulk_create(registrations, batch_size=batch_size)
    incomes = []
    for s in new_specs:
        for year, source, fen in s.incomes:
            _choice(source, IncomeSource, "source")
            _check_income_fen(fen)
            incomes.append(
                IncomeRecord(
                    household=by_key[(s.village_code, s.number)],
                    year=year,
                    source=source,
                    amount_fen=fen,
                )
            )
    IncomeRecord.objects.bulk_create(incomes, batch_size=batch_size)
    result.households_created = len(new_specs)
    result.persons_created = len(people)
    result.registrations_created = len(registrations)
    result.incomes_created = len(incomes)
    common = _common_prefix(sorted({s.village_code for s in new_specs}))
    audit_record(
        action="import",
        object_type="registry.Household",
        object_repr=note[:200],
        region_code=common,
        after={
            "households": result.households_created,
            "persons": result.persons_created,
            "registrations": result.registrations_created,
            "incomes": result.incomes_created,
        },
        note=note,
        actor=actor,
    )
    return result


@transaction.atomic
def income_records_bulk_add(
    *, rows: list[tuple[int, int, str, int]], note: str, region_code: str, actor: Any = None
) -> int:
    """Add many yearly income records at once: ``(household id, year, source, fen)``.
    A (household, year, source) already on record is left as it is (never replaced:
    a figure entered by hand wins). Every value is checked as :func:`income_record_set`
    checks it, but the rows are one bulk insert and ONE audit event (action ``import``):
    meant for generated (simulated) data. Returns the number of records created."""
    if not rows:
        return 0
    for _household, year, source, fen in rows:
        clean_year(year, field_name="year")
        _choice(source, IncomeSource, "source")
        _check_income_fen(fen)
    seen = Counter((r[0], r[1], r[2]) for r in rows)
    if len(seen) != len(rows):
        twice = sorted(k for k, n in seen.items() if n > 1)[:5]
        raise ApplicationError(
            f"income records: the same household, year and source more than once: {twice}",
            code="duplicate_income",
            details={"rows": [list(k) for k in twice]},
        )
    ids = {r[0] for r in rows}
    known = set(Household.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if ids - known:
        raise ApplicationError(
            f"household: unknown id(s) {sorted(ids - known)[:5]}",
            code="unknown_household",
            details={"household": sorted(ids - known)[:20]},
        )
    years = {r[1] for r in rows}
    existing = set(
        IncomeRecord.objects.filter(household_id__in=ids, year__in=years).values_list(
            "household_id", "year", "source"
        )
    )
    new = [
        IncomeRecord(household_id=h, year=y, source=src, amount_fen=fen)
        for h, y, src, fen in rows
        if (h, y, src) not in existing
    ]
    IncomeRecord.objects.bulk_create(new, batch_size=2000)
    if new:
        audit_record(
            action="import",
            object_type="registry.IncomeRecord",
            object_repr=note[:200],
            region_code=region_code,
            after={"incomes": len(new), "years": sorted(years)},
            note=note,
            actor=actor,
        )
    return len(new)


def _common_prefix(codes: list[str]) -> str:
    if not codes:
        return ""
    first, last = codes[0], codes[-1]
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    prefix = first[:n]
    for length in (12, 9, 6, 4, 2):
        if len(prefix) >= length:
            return prefix[:length]
    return ""
