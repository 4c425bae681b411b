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
from cunzhan.registry.models import (
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
        if not region.isdigit() or len(region) > 12:
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


def person_by_id_number(*, scope: RegionScope, index: str) -> Person | None:
    return (
        Person.objects.filter(scope.q("household__village_id"), id_number_index=index)
        .select_related("household")
        .first()
    )


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
