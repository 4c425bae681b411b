"""Registry API: households, persons, imports. Every object is looked up in the
caller's scope (outside it: 404); ID numbers are masked except on the audited
reveal endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import File, Router, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.api import ERROR_RESPONSES, Pagination, require
from cunzhan.core.errors import ApplicationError, Unprocessable
from cunzhan.core.tabular import read_upload
from cunzhan.registry import schemas, selectors, services
from cunzhan.registry.importers import registry_import, rows_not_listed
from cunzhan.registry.models import Consent, Household, ImportBatch, Person

router = Router(tags=["registry"])


class _Mapped:
    """A queryset whose page is mapped through ``fn`` after slicing (for @paginate)."""

    def __init__(self, qs: QuerySet, fn: Callable[[Any], dict]) -> None:
        self.qs = qs
        self.fn = fn

    def all(self) -> QuerySet:
        return self.qs

    def __getitem__(self, key: slice) -> list[dict]:
        return [self.fn(obj) for obj in self.qs[key]]


def household_out(h: Household) -> dict:
    reg = getattr(h, "poverty_registration", None)
    heads = getattr(h, "heads", None)
    if heads is None:
        heads = [m for m in selectors.household_members(household=h) if m.relation == "head"]
    return {
        "id": h.uuid,
        "village_code": h.village_id,
        "village_name": h.village.name,
        "number": h.number,
        "address": h.address,
        "head_name": heads[0].name if heads else "",
        "member_count": getattr(h, "member_count", None) or h.members.count(),
        "poverty": (
            {
                "year_registered": reg.year_registered,
                "main_cause": reg.main_cause,
                "year_exited": reg.year_exited,
            }
            if reg is not None
            else None
        ),
    }


def person_out(p: Person) -> dict:
    return {
        "id": p.uuid,
        "name": p.name,
        "sex": p.sex,
        "birth_year": p.birth_year,
        "relation": p.relation,
        "phone": p.phone,
        "id_number_masked": p.id_masked,
    }


def household_detail(h: Household) -> dict:
    members = list(selectors.household_members(household=h))
    return {
        **household_out(h),
        "head_name": next((m.name for m in members if m.relation == "head"), ""),
        "member_count": len(members),
        "members": [person_out(m) for m in members],
        "incomes": [
            {"year": i.year, "source": i.source, "amount_fen": i.amount_fen}
            for i in selectors.household_incomes(household=h)
        ],
        "created_at": h.created_at,
        "updated_at": h.updated_at,
    }


def batch_out(b: ImportBatch) -> dict:
    return {
        "id": b.uuid,
        "file_name": b.file_name,
        "file_format": b.file_format,
        "encoding": b.encoding,
        "created_at": b.created_at,
        "rows_total": b.rows_total,
        "rows_imported": b.rows_imported,
        "rows_failed": b.rows_failed,
        "households_created": b.households_created,
        "households_updated": b.households_updated,
        "persons_created": b.persons_created,
        "persons_updated": b.persons_updated,
        "persons_unchanged": b.persons_unchanged,
        "errors": b.errors,
        "rows_not_listed": rows_not_listed(b),
    }


@router.get("/households", response={200: list[schemas.HouseholdOut], **ERROR_RESPONSES})
@paginate(Pagination)
def households_list(request: HttpRequest, region: str = "", poor_only: bool = False, q: str = ""):
    """Households in the caller's scope: ``region`` (code prefix), ``poor_only``
    (registered 建档立卡), ``q`` (member name, household number or address)."""
    user = require(request, Perm.VIEW_REGISTRY)
    qs = selectors.household_list(
        scope=scope_for_user(user), region=region, poor_only=poor_only, q=q
    )
    return _Mapped(qs, household_out)


def resident_household_out(h: Household) -> dict:
    return {
        "id": h.uuid,
        "village_code": h.village_id,
        "village_name": h.village.name,
        "number": h.number,
        "members": [
            {"id": m.uuid, "name": m.name, "relation": m.relation}
            for m in getattr(h, "residents", [])
        ],
    }


@router.get("/residents", response={200: list[schemas.ResidentHouseholdOut], **ERROR_RESPONSES})
@paginate(Pagination)
def residents_list(request: HttpRequest, q: str = ""):
    """The village directory for station work (hand-out, producers, enrolment): the
    households in the caller's scope with their members' names and relations; ``q``
    searches names and the household number. No phone, birth year, ID number, poverty
    status or income: those are the register's (``/registry/households``)."""
    user = require(request, Perm.VIEW_RESIDENTS)
    return _Mapped(selectors.resident_list(scope=scope_for_user(user), q=q), resident_household_out)


@router.post("/households", response={201: schemas.HouseholdCreateOut, **ERROR_RESPONSES})
def households_create(request: HttpRequest, data: schemas.HouseholdCreateIn):
    user = require(request, Perm.EDIT_REGISTRY)
    scope = scope_for_user(user)
    household = services.household_create(
        scope=scope,
        village_code=data.village_code,
        number=data.number,
        address=data.address,
        actor=user,
    )
    household = selectors.household_get(scope=scope, household_id=household.uuid)
    return Status(201, household_detail(household))


@router.get(
    "/households/{household_id}", response={200: schemas.HouseholdDetailOut, **ERROR_RESPONSES}
)
def households_get(request: HttpRequest, household_id: uuid.UUID):
    """One household with its members (ID numbers masked) and income records."""
    user = require(request, Perm.VIEW_REGISTRY)
    household = selectors.household_get(scope=scope_for_user(user), household_id=household_id)
    selectors.household_record_read(household=household, user=user, channel="api")
    return household_detail(household)


@router.post("/persons", response={201: schemas.PersonCreateOut, **ERROR_RESPONSES})
def persons_create(request: HttpRequest, data: schemas.PersonCreateIn):
    """Add a person to a household; the ID number is validated (GB 11643) and must
    not be registered already."""
    user = require(request, Perm.EDIT_REGISTRY)
    household = selectors.household_get(scope=scope_for_user(user), household_id=data.household)
    person = services.person_create(
        household=household,
        name=data.name,
        sex=data.sex,
        relation=data.relation,
        birth_year=data.birth_year,
        phone=data.phone,
        id_number=data.id_number,
        actor=user,
    )
    return Status(201, {**person_out(person), "household": household.uuid})


@router.get(
    "/persons/{person_id}/id-number", response={200: schemas.IdNumberOut, **ERROR_RESPONSES}
)
def persons_id_number(request: HttpRequest, person_id: uuid.UUID):
    """The full ID number. Needs ``view_id_numbers``; every call is audit-logged."""
    user = require(request, Perm.VIEW_ID_NUMBERS)
    person, number = selectors.person_id_number_reveal(
        scope=scope_for_user(user), user=user, person_id=person_id
    )
    return {"id": person.uuid, "id_number": number}


@router.post("/imports", response={201: schemas.ImportCreateOut, **ERROR_RESPONSES})
def imports_create(request: HttpRequest, file: UploadedFile = File(...)):  # noqa: B008
    """Import a CSV or XLSX file (one row per person), all or nothing: when any row is
    bad nothing is written and the response lists the problems row by row (up to the
    import limit; ``rows_not_listed`` counts the bad rows beyond it). A wrong file type,
    size, encoding or header, or a hostile file, is a 422 naming the file (the schema
    cannot state what a file must hold), and writes nothing."""
    user = require(request, Perm.EDIT_REGISTRY)
    if file is None:  # pragma: no cover - ninja requires it
        raise Unprocessable("a file is required", code="file_required")
    try:
        batch = registry_import(
            scope=scope_for_user(user),
            user=user,
            file_name=file.name or "upload",
            data=read_upload(file),
        )
    except ApplicationError as exc:
        if exc.status != 400:
            raise
        # the shared reader (core.tabular) refuses a file with a 400 for the pages
        raise Unprocessable(exc.message, code=exc.code, details=exc.details) from exc
    return Status(201, batch_out(batch))


@router.get("/imports/{batch_id}", response={200: schemas.ImportBatchOut, **ERROR_RESPONSES})
def imports_get(request: HttpRequest, batch_id: uuid.UUID):
    user = require(request, Perm.VIEW_REGISTRY)
    batch = selectors.import_batch_get(scope=scope_for_user(user), user=user, batch_id=batch_id)
    return batch_out(batch)


@router.patch("/persons/{person_id}", response={200: schemas.PersonDetailOut, **ERROR_RESPONSES})
def persons_update(request: HttpRequest, person_id: uuid.UUID, data: schemas.PersonUpdateIn):
    """Change a person's fields (only those given). The ID number is validated (GB 11643,
    birth year and sex must agree); an empty or missing one keeps the number on record."""
    user = require(request, Perm.EDIT_REGISTRY)
    person = selectors.person_get(scope=scope_for_user(user), person_id=person_id)
    given = data.dict(exclude_unset=True)
    fields: dict[str, Any] = {
        "name": person.name,
        "sex": person.sex,
        "relation": person.relation,
        "birth_year": person.birth_year,
        "phone": person.phone,
    }
    fields.update({k: v for k, v in given.items() if k != "id_number" and v is not None})
    if "birth_year" not in given and given.get("id_number"):
        fields["birth_year"] = None  # taken from the new ID number
    person, _changed = services.person_update(
        person=person, actor=user, id_number=given.get("id_number") or "", **fields
    )
    return {**person_out(person), "household": person.household.uuid}


def consent_out(c: Consent) -> dict:
    return {
        "id": c.pk,
        "purpose": c.purpose,
        "method": c.method,
        "granted_at": c.granted_at,
        "withdrawn_at": c.withdrawn_at,
        "in_force": c.withdrawn_at is None,
        "recorded_by": str(c.recorded_by) if c.recorded_by else "",
    }


@router.get(
    "/persons/{person_id}/consents",
    response={200: schemas.PersonConsentsOut, **ERROR_RESPONSES},
)
def persons_consents(request: HttpRequest, person_id: uuid.UUID):
    """The person's consent records, newest first (withdrawn ones included)."""
    user = require(request, Perm.VIEW_REGISTRY)
    person = selectors.person_get(scope=scope_for_user(user), person_id=person_id)
    selectors.person_record_read(person=person, user=user, channel="api consents")
    return {
        "person_id": person.uuid,
        "person_name": person.name,
        "consents": [consent_out(c) for c in selectors.consent_list(person=person)],
    }


@router.post(
    "/persons/{person_id}/consents",
    response={201: schemas.ConsentDetailOut, **ERROR_RESPONSES},
)
def persons_consents_grant(
    request: HttpRequest, person_id: uuid.UUID, data: schemas.ConsentGrantIn
):
    """Record a consent (``purpose``, ``method``; ``granted_at`` defaults to now). A
    consent for the same purpose already in force is returned unchanged."""
    user = require(request, Perm.EDIT_REGISTRY)
    person = selectors.person_get(scope=scope_for_user(user), person_id=person_id)
    consent = services.consent_grant(
        person=person,
        purpose=data.purpose,
        method=data.method,
        granted_at=data.granted_at,
        actor=user,
    )
    return Status(201, {**consent_out(consent), "person_id": person.uuid})


@router.post(
    "/consents/{consent_id}/withdraw",
    response={200: schemas.ConsentDetailOut, **ERROR_RESPONSES},
)
def consents_withdraw(request: HttpRequest, consent_id: int, data: schemas.ConsentWithdrawIn):
    """Record that a consent was withdrawn (``withdrawn_at`` defaults to now)."""
    user = require(request, Perm.EDIT_REGISTRY)
    consent = selectors.consent_get(scope=scope_for_user(user), consent_id=consent_id)
    consent = services.consent_withdraw(consent=consent, withdrawn_at=data.withdrawn_at, actor=user)
    return {**consent_out(consent), "person_id": consent.person.uuid}
