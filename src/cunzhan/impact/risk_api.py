"""Relapse-risk monitoring API under /api/v1/impact/risk (ADR 0019): the cases in the
caller's scope (filters), counts per township, a case with its reasons and history,
assign, record a visit, record assistance, close, and a county's scan. Thin: validate,
call one service or selector, render. Outside the caller's scope: 404. No names, no ID
numbers: a household is its number and its village."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema
from ninja.pagination import paginate

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.api import (
    ERROR_RESPONSES,
    IsoDate,
    JsonNumber,
    Pagination,
    require,
    resolved_annotations,
)
from cunzhan.core.audit import audit_record
from cunzhan.core.errors import NotFound
from cunzhan.impact import risk, risk_selectors
from cunzhan.impact.risk_models import AssistanceKind, CaseOutcome, RiskCase

router = Router(tags=["impact relapse risk"])

# a region code prefix: a county, a township, a village ("" every region in scope)
REGION_PREFIX = Query("", pattern=r"^[0-9]{0,12}$", description="a region code prefix")
# CaseStatus' values, and "active" for every one but closed
CaseStatusFilter = Literal["", "active", "open", "assigned", "visited", "closed"]
# text that is more than white space
TEXT_PATTERN = r"\S"


class RiskReasonOut(Schema):
    code: str
    label: str
    score: int
    value: float | int | None
    threshold: float | int | None
    unit: str
    data: dict[str, Any]


class RiskCaseOut(Schema):
    id: uuid.UUID
    household_id: uuid.UUID
    household_number: str
    village_code: str
    village_name: str
    township_code: str
    year: int
    score: int
    reasons: list[RiskReasonOut]
    status: str
    assignee_id: int | None
    assignee_username: str
    flagged_at: dt.datetime
    scanned_at: dt.datetime
    closed_at: dt.datetime | None
    outcome: str
    close_note: str


class RiskEventOut(Schema):
    kind: str
    at: dt.datetime
    actor: str
    day: dt.date | None
    note: str
    assistance_kind: str
    amount_fen: int | None
    data: dict[str, Any]


class RiskIncomeYearOut(Schema):
    year: int
    total_fen: int
    per_capita_fen: int | None
    members: int


class RiskCaseDetailOut(RiskCaseOut):
    events: list[RiskEventOut]
    incomes: list[RiskIncomeYearOut]


class RiskTownshipOut(Schema):
    code: str
    name: str
    active: int
    open: int
    assigned: int
    visited: int
    closed: int


class RiskAssignIn(Schema):
    assignee_id: Annotated[int, JsonNumber] = Field(..., ge=1, le=2**63 - 1)


class RiskVisitIn(Schema):
    day: IsoDate = Field(..., description="not in the future")
    findings: str = Field(..., min_length=1, max_length=1000, pattern=TEXT_PATTERN)


class RiskAssistanceIn(Schema):
    kind: AssistanceKind
    day: IsoDate = Field(..., description="not in the future")
    amount_fen: Annotated[int | None, JsonNumber] = Field(None, ge=0, le=2**53)
    note: str = Field("", max_length=1000)


class RiskCloseIn(Schema):
    outcome: CaseOutcome
    note: str = Field("", max_length=400, description="required when the outcome is other")


class RiskScanIn(Schema):
    year: Annotated[int | None, JsonNumber] = Field(
        None, ge=2000, le=2100, description="default: last year; not after this year"
    )
    as_of: IsoDate | None = Field(None, description="the sales trend's day (default today)")
    threshold: Annotated[int | None, JsonNumber] = Field(None, ge=1, le=1_000_000)
    income_fall_bp: Annotated[int | None, JsonNumber] = Field(None, ge=0, le=10_000)
    sales_fall_bp: Annotated[int | None, JsonNumber] = Field(None, ge=0, le=10_000)
    sales_months: Annotated[int | None, JsonNumber] = Field(None, ge=1, le=12)


class RiskScanOut(Schema):
    county_code: str
    year: int
    evaluated: int
    flagged: int
    opened: int
    updated: int
    unchanged: int
    case_ids: list[str]


def reason_out(r: dict[str, Any]) -> dict[str, Any]:
    skip = {"code", "score", "value", "threshold", "unit", "signal"}
    return {
        "code": str(r.get("code", "")),
        "label": str(risk.signal_label(str(r.get("signal") or r.get("code", "")))),
        "score": int(r.get("score", 0)),
        "value": r.get("value"),
        "threshold": r.get("threshold"),
        "unit": str(r.get("unit", "")),
        "data": {k: v for k, v in r.items() if k not in skip},
    }


def case_out(c: RiskCase) -> dict[str, Any]:
    return {
        "id": c.uuid,
        "household_id": c.household.uuid,
        "household_number": c.household.number,
        "village_code": c.village_id,
        "village_name": c.village.name,
        "township_code": c.township_code,
        "year": c.year,
        "score": c.score,
        "reasons": [reason_out(r) for r in c.reasons],
        "status": c.status,
        "assignee_id": c.assignee_id,
        "assignee_username": c.assignee.username if c.assignee else "",
        "flagged_at": c.flagged_at,
        "scanned_at": c.scanned_at,
        "closed_at": c.closed_at,
        "outcome": c.outcome,
        "close_note": c.close_note,
    }


def case_detail_out(scope: Any, c: RiskCase) -> dict[str, Any]:
    events = [
        {
            "kind": e.kind,
            "at": e.at,
            "actor": e.actor.username if e.actor else "system",
            "day": e.day,
            "note": e.note,
            "assistance_kind": e.assistance_kind,
            "amount_fen": e.amount_fen,
            "data": e.data,
        }
        for e in risk_selectors.case_events(case=c)
    ]
    return {
        **case_out(c),
        "events": events,
        "incomes": risk_selectors.household_incomes_by_year(case=c),
    }


def case_read_audit(c: RiskCase, user: Any, channel: str) -> None:
    """A case shows a household's income: a personal-data read, audited."""
    audit_record(
        action="read",
        object_type="impact.RiskCase",
        object_id=c.uuid,
        object_repr=f"{c.village_id}-{c.household.number}",
        region_code=c.village_id,
        note=f"risk case ({channel})",
        personal_data=True,
        actor=user,
    )


class _Mapped:
    """A queryset rendered through case_out, sliced by the paginator."""

    def __init__(self, qs: Any) -> None:
        self.qs = qs

    def count(self) -> int:
        return self.qs.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, key: Any) -> Any:
        return [case_out(c) for c in self.qs[key]]


def _user_scope(request: HttpRequest, perm: str) -> tuple[Any, Any]:
    require(request, Perm.VIEW_RISK)
    user = require(request, perm)
    return user, scope_for_user(user)


@router.get("/risk/cases", response={200: list[RiskCaseOut], **ERROR_RESPONSES})
@paginate(Pagination)
@resolved_annotations
def risk_case_list(
    request: HttpRequest, region: str = REGION_PREFIX, status: CaseStatusFilter = ""
):
    """Cases in the caller's scope, highest score first. ``region``: a code prefix (a
    county, a township, a village); ``status``: open, assigned, visited, closed, or
    ``active`` (every status but closed)."""
    _, scope = _user_scope(request, Perm.VIEW_RISK)
    return _Mapped(risk_selectors.case_list(scope=scope, region=region[:12], status=status[:10]))


@router.get("/risk/townships", response={200: list[RiskTownshipOut], **ERROR_RESPONSES})
def risk_townships(request: HttpRequest, region: str = REGION_PREFIX):
    """Cases per township in the caller's scope (``region``: a code prefix), by status."""
    _, scope = _user_scope(request, Perm.VIEW_RISK)
    return risk_selectors.township_counts(scope=scope, region=region[:12])


@router.get("/risk/cases/{case_id}", response={200: RiskCaseDetailOut, **ERROR_RESPONSES})
def risk_case_detail(request: HttpRequest, case_id: uuid.UUID):
    """A case: its reasons, the household's income by year (fen) and its history.
    Reading it is audited (personal data)."""
    user, scope = _user_scope(request, Perm.VIEW_RISK)
    c = risk_selectors.case_get(scope=scope, case_id=case_id)
    case_read_audit(c, user, "api")
    return case_detail_out(scope, c)


def _after(scope: Any, c: RiskCase) -> dict[str, Any]:
    return case_detail_out(scope, risk_selectors.case_get(scope=scope, case_id=c.uuid))


@router.post("/risk/cases/{case_id}/assign", response={200: RiskCaseDetailOut, **ERROR_RESPONSES})
def risk_case_assign(request: HttpRequest, case_id: uuid.UUID, payload: RiskAssignIn):
    """Assign to a user who may follow up cases (manage_risk) and whose regions hold
    the household; the user must work inside the caller's regions."""
    from cunzhan.accounts.models import User

    user, scope = _user_scope(request, Perm.MANAGE_RISK)
    c = risk_selectors.case_get(scope=scope, case_id=case_id)
    assignee = User.objects.filter(pk=payload.assignee_id).first()
    c = risk.case_assign(case=c, assignee=assignee, actor=user, scope=scope)
    return _after(scope, c)


@router.post("/risk/cases/{case_id}/visits", response={200: RiskCaseDetailOut, **ERROR_RESPONSES})
def risk_case_visit(request: HttpRequest, case_id: uuid.UUID, payload: RiskVisitIn):
    """Record a visit: the day (not in the future) and the findings."""
    user, scope = _user_scope(request, Perm.MANAGE_RISK)
    c = risk_selectors.case_get(scope=scope, case_id=case_id)
    c = risk.case_visit(case=c, day=payload.day, findings=payload.findings, actor=user)
    return _after(scope, c)


@router.post(
    "/risk/cases/{case_id}/assistance", response={200: RiskCaseDetailOut, **ERROR_RESPONSES}
)
def risk_case_assistance(request: HttpRequest, case_id: uuid.UUID, payload: RiskAssistanceIn):
    """Record assistance given: its kind, day, amount (fen, optional) and a note."""
    user, scope = _user_scope(request, Perm.MANAGE_RISK)
    c = risk_selectors.case_get(scope=scope, case_id=case_id)
    c = risk.case_assistance(
        case=c,
        kind=payload.kind,
        day=payload.day,
        amount_fen=payload.amount_fen,
        note=payload.note,
        actor=user,
    )
    return _after(scope, c)


@router.post("/risk/cases/{case_id}/close", response={200: RiskCaseDetailOut, **ERROR_RESPONSES})
def risk_case_close(request: HttpRequest, case_id: uuid.UUID, payload: RiskCloseIn):
    """Close with an outcome (a visit must have been recorded; closing twice: 400
    ``case_closed``)."""
    user, scope = _user_scope(request, Perm.MANAGE_RISK)
    c = risk_selectors.case_get(scope=scope, case_id=case_id)
    c = risk.case_close(case=c, outcome=payload.outcome, note=payload.note, actor=user)
    return _after(scope, c)


@router.post("/risk/scan/{county_code}", response={200: RiskScanOut, **ERROR_RESPONSES})
def risk_scan(
    request: HttpRequest,
    payload: RiskScanIn,
    county_code: str = Path(..., pattern=r"^[0-9]{6}$", description="a county's 6 digits"),
):
    """Scan a county (idempotent): open a case per newly flagged household, update the
    open ones. Optional rule parameters override the defaults for this scan."""
    user, scope = _user_scope(request, Perm.MANAGE_RISK)
    if not scope.contains_code(county_code):
        raise NotFound("county not found", code="county_not_found")
    changes = {
        k: v for k, v in payload.dict().items() if v is not None and k not in ("year", "as_of")
    }
    config = dataclasses.replace(risk.RiskConfig(), **changes)
    r = risk.risk_scan(
        county_code=county_code, year=payload.year, as_of=payload.as_of, config=config, actor=user
    )
    return dataclasses.asdict(r)
