from __future__ import annotations

import datetime as dt
import uuid

from ninja import Field, Schema


class PovertyOut(Schema):
    year_registered: int
    main_cause: str
    year_exited: int | None


class HouseholdOut(Schema):
    id: uuid.UUID
    village_code: str
    village_name: str
    number: str
    address: str
    head_name: str
    member_count: int
    poverty: PovertyOut | None


class ResidentOut(Schema):
    id: uuid.UUID
    name: str
    relation: str


class ResidentHouseholdOut(Schema):
    """A household in the village directory: names only, nothing of the register."""

    id: uuid.UUID
    village_code: str
    village_name: str
    number: str
    members: list[ResidentOut]


class PersonOut(Schema):
    id: uuid.UUID
    name: str
    sex: str
    birth_year: int
    relation: str
    phone: str
    id_number_masked: str


class IncomeOut(Schema):
    year: int
    source: str
    amount_fen: int


class HouseholdDetailOut(HouseholdOut):
    members: list[PersonOut]
    incomes: list[IncomeOut]
    created_at: dt.datetime
    updated_at: dt.datetime


class HouseholdCreateIn(Schema):
    village_code: str
    number: str = ""
    address: str = ""


class HouseholdCreateOut(HouseholdDetailOut):
    pass


class PersonCreateIn(Schema):
    household: uuid.UUID
    name: str
    sex: str
    relation: str
    birth_year: int | None = None
    phone: str = ""
    id_number: str = ""


class PersonCreateOut(PersonOut):
    household: uuid.UUID


class IdNumberOut(Schema):
    id: uuid.UUID
    id_number: str


class ImportErrorOut(Schema):
    row: int
    column: str
    problem: str


class ImportBatchOut(Schema):
    id: uuid.UUID
    file_name: str
    file_format: str
    encoding: str
    created_at: dt.datetime
    rows_total: int
    rows_imported: int
    rows_failed: int
    households_created: int
    households_updated: int
    persons_created: int
    persons_updated: int
    persons_unchanged: int
    errors: list[ImportErrorOut]
    rows_not_listed: int = Field(
        0, description="bad rows beyond the problems listed (the import's error limit)"
    )


class ImportCreateOut(ImportBatchOut):
    pass


class PersonUpdateIn(Schema):
    """Only the fields given are changed; an empty or missing ``id_number`` keeps the
    number on record."""

    name: str | None = None
    sex: str | None = None
    relation: str | None = None
    birth_year: int | None = None
    phone: str | None = None
    id_number: str | None = None


class PersonDetailOut(PersonOut):
    household: uuid.UUID


class ConsentOut(Schema):
    id: int
    purpose: str
    method: str
    granted_at: dt.datetime
    withdrawn_at: dt.datetime | None
    in_force: bool
    recorded_by: str


class PersonConsentsOut(Schema):
    person_id: uuid.UUID
    person_name: str
    consents: list[ConsentOut]


class ConsentGrantIn(Schema):
    purpose: str
    method: str
    granted_at: dt.datetime | None = None


class ConsentWithdrawIn(Schema):
    withdrawn_at: dt.datetime | None = None


class ConsentDetailOut(ConsentOut):
    person_id: uuid.UUID
