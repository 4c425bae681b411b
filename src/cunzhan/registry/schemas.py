from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import AfterValidator, BeforeValidator

from cunzhan.core.validation import PHONE_RE
from cunzhan.registry.models import ConsentMethod, ConsentPurpose, Relation, Sex

# Rules about one value are published in the schema (ADR 0032): the enums are the
# models' choices, and the patterns are the services' checks.
MIN_YEAR = 1900  # registry.services.MIN_YEAR: no birth year, consent or record before it


def _text_only(value: Any) -> Any:
    """A time is published as ISO 8601 text; pydantic alone would take a number too."""
    if not isinstance(value, str):
        raise ValueError("an ISO 8601 date and time (text)")
    return value


def _since_min_year(value: dt.datetime) -> dt.datetime:
    """A time the register can mean: not before 1900 (and never a local mean time)."""
    if value.year < MIN_YEAR:
        raise ValueError(f"a time from {MIN_YEAR} on")
    return value


if TYPE_CHECKING:
    SexName = str
    RelationName = str
    PurposeName = str
    MethodName = str
    RecordedAt = dt.datetime
else:
    SexName = Literal[tuple(Sex.values)]
    RelationName = Literal[tuple(Relation.values)]
    PurposeName = Literal[tuple(ConsentPurpose.values)]
    MethodName = Literal[tuple(ConsentMethod.values)]
    RecordedAt = Annotated[
        dt.datetime, BeforeValidator(_text_only), AfterValidator(_since_min_year)
    ]

# a name that is not blank (the services collapse its spaces)
NOT_BLANK = r"\S"
# a mainland mobile or a landline with its area code, or empty (core.validation.PHONE_RE)
OPTIONAL_PHONE = "^(" + PHONE_RE.pattern[1:-1] + ")?$"
# 17 digits and a check character (GB 11643; the check itself is the service's), or empty
OPTIONAL_ID_NUMBER = r"^([0-9]{17}[0-9Xx])?$"


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
    village_code: str = Field(..., pattern=r"^[0-9]{12}$", description="a village's code")
    number: str = Field("", max_length=20, description="the next free number when empty")
    address: str = Field("", max_length=200)


class HouseholdCreateOut(HouseholdDetailOut):
    pass


class PersonCreateIn(Schema):
    household: uuid.UUID
    name: str = Field(..., min_length=1, max_length=40, pattern=NOT_BLANK)
    sex: SexName
    relation: RelationName
    birth_year: int | None = Field(
        None, ge=MIN_YEAR, le=9999, description="Not after this year; from the ID number"
    )
    phone: str = Field("", max_length=20, pattern=OPTIONAL_PHONE)
    id_number: str = Field("", max_length=18, pattern=OPTIONAL_ID_NUMBER)


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

    name: str | None = Field(None, min_length=1, max_length=40, pattern=NOT_BLANK)
    sex: SexName | None = None
    relation: RelationName | None = None
    birth_year: int | None = Field(None, ge=MIN_YEAR, le=9999, description="Not after this year")
    phone: str | None = Field(None, max_length=20, pattern=OPTIONAL_PHONE)
    id_number: str | None = Field(None, max_length=18, pattern=OPTIONAL_ID_NUMBER)


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
    purpose: PurposeName
    method: MethodName
    granted_at: RecordedAt | None = Field(None, description="Now when omitted; not later.")


class ConsentWithdrawIn(Schema):
    withdrawn_at: RecordedAt | None = Field(
        None, description="Now when omitted; not later, not before the consent."
    )


class ConsentDetailOut(ConsentOut):
    person_id: uuid.UUID
