"""Every read of the registry. Each selector takes the caller's region scope; an
object outside it is NotFound, never a hint that it exists."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Substr

from cunzhan.core import crypto
from cunzhan.core.audit import audit_record
from cunzhan.core.errors import NotFound, PermissionDenied
from cunzhan.core.scope import RegionScope, prefix_q
from cunzhan.core.validation import is_ascii_digits
from cunzhan.network.models import Level, Region
from cunzhan.network.selectors import region_search
from cunzhan.registry.models import (
    Consent,
    Household,
    ImportBatch,
    IncomeRecord,
    Person,
    PovertyRegistration,
)

VIEW_ID_NUMBERS = "view_id_numbers"  # == accounts.roles.Perm.VIEW_ID_NUMBERS


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


# what follows a place name in the official names: 玉舍 -> 玉舍镇, 水城 -> 水城区
UNIT_SUFFIXES = (
    "村民委员会",
    "居民委员会",
    "居委会",
    "村委会",
    "自治县",
    "特区",
    "街道",
    "社区",
    "省",
    "市",
    "区",
    "县",
    "镇",
    "乡",
    "村",
)


def region_matches(*, scope: RegionScope, text: str, limit: int = 20) -> list[Region]:
    """Units in ``scope`` that a typed region name (or code) means.

    A code (digits) is looked up as is. A name: the unit of exactly that name; else
    the units whose name is the text plus a unit suffix (玉舍 -> 玉舍镇); else every
    unit whose name contains the text. One result resolves the filter; several are
    choices for the user; none means nothing in scope is called that."""
    text = " ".join(str(text or "").split())[:40]
    if not text or "\x00" in text:
        return []
    if is_ascii_digits(text):
        region = Region.objects.filter(scope.q("code"), code=text).first()
        return [region] if region is not None else []
    candidates = list(region_search(scope=scope, text=text, limit=200))
    exact = [r for r in candidates if r.name == text]
    if exact:
        return exact[:limit]
    stems = [
        r for r in candidates if r.name.startswith(text) and r.name[len(text) :] in UNIT_SUFFIXES
    ]
    return (stems or candidates)[:limit]


def household_list(
    *,
    scope: RegionScope,
    region: str = "",
    poor_only: bool = False,
    still_poor: bool = False,
    q: str = "",
) -> QuerySet[Household]:
    """Households in ``scope``; ``region`` narrows to a code prefix, ``poor_only`` to
    registered (建档立卡) households, ``still_poor`` to those not exited, ``q`` searches
    member names, the household number and the address."""
    qs = Household.objects.filter(scope.q("village_id")).select_related(
        "village", "poverty_registration"
    )
    region = (region or "").strip()
    if region:
        if not is_ascii_digits(region) or len(region) > 12:
            return qs.none()
        qs = qs.filter(prefix_q("village_id", region))
    if poor_only or still_poor:
        reg = PovertyRegistration.objects.filter(household=OuterRef("pk"))
        if still_poor:
            reg = reg.filter(year_exited__isnull=True)
        qs = qs.filter(Exists(reg))
    q = (q or "").strip()
    if q:
        member = Person.objects.filter(household=OuterRef("pk"), name__contains=q)
        qs = qs.filter(Q(Exists(member)) | Q(number=q) | Q(address__contains=q))
    heads = Person.objects.filter(relation="head").only("household_id", "name")
    return (
        qs.annotate(member_count=Count("members", distinct=True))
        .prefetch_related(Prefetch("members", queryset=heads, to_attr="heads"))
        .order_by("village_id", "number")
    )


def resident_list(*, scope: RegionScope, q: str = "") -> QuerySet[Household]:
    """The village directory (村民名单) for station work: households in ``scope`` with
    their members' names and relations only (prefetched as ``residents``); ``q``
    searches member names and the household number. Nothing else of the register
    (phones, birth years, ID numbers, poverty status, incomes) is loaded."""
    qs = Household.objects.filter(scope.q("village_id")).select_related("village")
    q = (q or "").strip()
    if q:
        member = Person.objects.filter(household=OuterRef("pk"), name__contains=q)
        qs = qs.filter(Q(Exists(member)) | Q(number=q))
    names = Person.objects.only("uuid", "household", "name", "relation").order_by("id")
    return (
        qs.only("uuid", "number", "village_id", "village__name", "village__code")
        .prefetch_related(Prefetch("members", queryset=names, to_attr="residents"))
        .order_by("village_id", "number")
    )


def household_get(*, scope: RegionScope, household_id: Any) -> Household:
    key = _uuid(household_id)
    household = (
        Household.objects.filter(scope.q("village_id"), uuid=key)
        .select_related("village", "village__parent", "poverty_registration")
        .first()
        if key is not None
        else None
    )
    if household is None:
        raise NotFound("household not found", code="household_not_found")
    return household


def household_record_read(*, household: Household, user: Any, channel: str) -> None:
    """Log that ``user`` opened the household's record (its members' names, phones,
    birth years, poverty status and income are personal data; DESIGN: every read of
    personal data is audited). ``channel`` is 'page' or 'api'."""
    audit_record(
        action="read",
        object_type="registry.Household",
        object_id=household.uuid,
        object_repr=str(household),
        region_code=household.village_id,
        note=f"household record ({channel})",
        personal_data=True,
        actor=user,
    )


def person_record_read(*, person: Person, user: Any, channel: str) -> None:
    """Log that ``user`` opened one person's record (edit form, consents)."""
    audit_record(
        action="read",
        object_type="registry.Person",
        object_id=person.uuid,
        object_repr=person.name,
        region_code=person.household.village_id,
        note=f"person record ({channel})",
        personal_data=True,
        actor=user,
    )


def household_members(*, household: Household) -> QuerySet[Person]:
    return Person.objects.filter(household=household).order_by("birth_year", "id")


def household_incomes(*, household: Household) -> QuerySet[IncomeRecord]:
    return IncomeRecord.objects.filter(household=household)


def person_get(*, scope: RegionScope, person_id: Any) -> Person:
    key = _uuid(person_id)
    person = (
        Person.objects.filter(scope.q("household__village_id"), uuid=key)
        .select_related("household")
        .first()
        if key is not None
        else None
    )
    if person is None:
        raise NotFound("person not found", code="person_not_found")
    return person


def consent_list(*, person: Person) -> QuerySet[Consent]:
    return Consent.objects.filter(person=person).select_related("recorded_by")


def household_consents(*, household: Household) -> dict[int, list[Consent]]:
    """``{person pk: consents}`` of every member (newest first), in one query."""
    out: dict[int, list[Consent]] = {}
    qs = Consent.objects.filter(person__household=household).select_related("recorded_by")
    for c in qs.order_by("person_id", "-granted_at", "-id"):
        out.setdefault(c.person_id, []).append(c)
    return out


def consent_get(*, scope: RegionScope, consent_id: Any) -> Consent:
    try:
        key = int(str(consent_id))
    except (TypeError, ValueError):
        key = None
    consent = (
        Consent.objects.filter(scope.q("person__household__village_id"), pk=key)
        .select_related("person", "person__household", "recorded_by")
        .first()
        if key is not None and 0 < key < 2**63
        else None
    )
    if consent is None:
        raise NotFound("consent not found", code="consent_not_found")
    return consent


def first_village(*, scope: RegionScope) -> Region | None:
    """The first village (by code) in ``scope``: where an example import row can go."""
    return Region.objects.filter(scope.q("code"), level=Level.VILLAGE).order_by("code").first()


def person_id_number(*, scope: RegionScope, user: Any, person: Person) -> str:
    """The full ID number when ``user`` may see ID numbers (the read is audit-logged),
    else the masked form. ``person`` must be inside ``scope``."""
    if not scope.contains_code(person.household.village_id):
        raise NotFound("person not found", code="person_not_found")
    if not person.id_number_enc:
        return ""
    if user is None or not user.can(VIEW_ID_NUMBERS):
        return person.id_masked
    number = crypto.decrypt(person.id_number_enc)
    audit_record(
        action="read",
        object_type="registry.Person",
        object_id=person.uuid,
        object_repr=person.name,
        region_code=person.household.village_id,
        note="id_number",
        personal_data=True,
        actor=user,
    )
    return number


def person_id_number_reveal(*, scope: RegionScope, user: Any, person_id: Any) -> tuple[Person, str]:
    """The full number for an explicit reveal request: PermissionDenied without the
    permission (so the caller sees why), NotFound outside scope."""
    person = person_get(scope=scope, person_id=person_id)
    if user is None or not user.can(VIEW_ID_NUMBERS):
        raise PermissionDenied(
            f"this action needs the permission {VIEW_ID_NUMBERS!r}", code="permission_denied"
        )
    return person, person_id_number(scope=scope, user=user, person=person)


def household_counts(*, scope: RegionScope) -> dict[str, int]:
    """Households, registered-poor households (ever) and those not yet exited, in scope."""
    base = Household.objects.filter(scope.q("village_id"))
    reg = PovertyRegistration.objects.filter(scope.q("household__village_id"))
    return {
        "households": base.count(),
        "poor": reg.count(),
        "still_poor": reg.filter(year_exited__isnull=True).count(),
        "persons": Person.objects.filter(scope.q("household__village_id")).count(),
    }


def _child_counts(qs: QuerySet, field_name: str, parent_code: str, child_len: int) -> dict:
    if parent_code:
        qs = qs.filter(prefix_q(field_name, parent_code))
    rows = (
        qs.annotate(child=Substr(field_name, 1, child_len))
        .values("child")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {r["child"]: r["n"] for r in rows}


def household_counts_by_child(
    *, scope: RegionScope, parent_code: str, child_len: int
) -> dict[str, int]:
    """``{child_code: households}`` for the children of ``parent_code``: one grouped query."""
    return _child_counts(
        Household.objects.filter(scope.q("village_id")), "village_id", parent_code, child_len
    )


def poor_household_counts_by_child(
    *, scope: RegionScope, parent_code: str, child_len: int, still_poor: bool = False
) -> dict[str, int]:
    qs = PovertyRegistration.objects.filter(scope.q("household__village_id"))
    if still_poor:
        qs = qs.filter(year_exited__isnull=True)
    return _child_counts(qs, "household__village_id", parent_code, child_len)


def import_batch_list(*, scope: RegionScope, user: Any) -> QuerySet[ImportBatch]:
    """Batches the user uploaded, plus those whose area lies inside the user's scope."""
    if scope.everything:
        return ImportBatch.objects.all()
    visible = Q(uploaded_by=user) if getattr(user, "pk", None) else Q(pk__in=[])
    if scope.prefixes:
        visible |= scope.q("region_code") & ~Q(region_code="")
    return ImportBatch.objects.filter(visible)


def import_batch_get(*, scope: RegionScope, user: Any, batch_id: Any) -> ImportBatch:
    key = _uuid(batch_id)
    batch = (
        import_batch_list(scope=scope, user=user).filter(uuid=key).first()
        if key is not None
        else None
    )
    if batch is None:
        raise NotFound("import batch not found", code="import_batch_not_found")
    return batch
