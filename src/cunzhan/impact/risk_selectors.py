"""Reads of relapse-risk monitoring, each taking the caller's region scope: the queue
(cases per township, filters), a case with its history, the users a case may be
assigned to, and the data source ``impact.households_at_risk`` (open cases, a stock)
that the indicator of the same name counts. No names, no ID numbers: a household is
its number and its village."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import RegionScope, prefix_q
from cunzhan.core.validation import is_ascii_digits
from cunzhan.impact.risk_models import CaseStatus, RiskCase, RiskCaseEvent
from cunzhan.impact.sources import (
    HOUSEHOLDS,
    STOCK,
    Cells,
    DataSource,
    Members,
    register_source,
)

OPEN_STATUSES = (CaseStatus.OPEN, CaseStatus.ASSIGNED, CaseStatus.VISITED)


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _region_filter(value: str, name: str) -> str:
    value = (value or "").strip()
    if value and (not is_ascii_digits(value) or len(value) > 12):
        raise ApplicationError(
            f"{name}: a region code (digits)", code="invalid_region", details={"field": name}
        )
    return value


def case_list(
    *,
    scope: RegionScope,
    region: str = "",
    status: str = "",
    assignee_id: int | None = None,
) -> QuerySet[RiskCase]:
    """Cases in ``scope``; ``region`` narrows to a code prefix (a township, a village),
    ``status`` to one status or ``"active"`` (every status but closed)."""
    qs = RiskCase.objects.filter(scope.q("village_id")).select_related(
        "household", "village", "assignee"
    )
    region = _region_filter(region, "region")
    if region:
        qs = qs.filter(prefix_q("village_id", region))
    if status == "active":
        qs = qs.filter(status__in=OPEN_STATUSES)
    elif status:
        if status not in CaseStatus.values:
            raise ApplicationError(
                f"status: active or one of {', '.join(CaseStatus.values)}",
                code="invalid_status",
                details={"field": "status"},
            )
        qs = qs.filter(status=status)
    if assignee_id is not None:
        qs = qs.filter(assignee_id=assignee_id)
    return qs.order_by("-score", "village_id", "household__number", "id")


def case_get(*, scope: RegionScope, case_id: Any) -> RiskCase:
    key = _uuid(case_id)
    case = (
        RiskCase.objects.filter(scope.q("village_id"), uuid=key)
        .select_related("household", "village", "village__parent", "assignee")
        .first()
        if key is not None
        else None
    )
    if case is None:
        raise NotFound("risk case not found", code="risk_case_not_found")
    return case


def case_events(*, case: RiskCase) -> QuerySet[RiskCaseEvent]:
    return RiskCaseEvent.objects.filter(case=case).select_related("actor").order_by("at", "id")


def household_cases(*, scope: RegionScope, case: RiskCase) -> QuerySet[RiskCase]:
    """Every case of the case's household (its history across scans), newest first."""
    return (
        RiskCase.objects.filter(scope.q("village_id"), household_id=case.household_id)
        .select_related("village")
        .order_by("-flagged_at", "-id")
    )


def household_incomes_by_year(*, case: RiskCase, years: int = 3) -> list[dict[str, Any]]:
    """The household's total income and per-capita income (fen) for the last years
    up to the case's year: the figures the income rules measured."""
    from django.db.models import Sum

    from cunzhan.registry.models import IncomeRecord, Person

    members = Person.objects.filter(household_id=case.household_id).count()
    rows = (
        IncomeRecord.objects.filter(
            household_id=case.household_id, year__lte=case.year, year__gt=case.year - years
        )
        .values("year")
        .annotate(total=Sum("amount_fen"))
        .order_by("-year")
    )
    return [
        {
            "year": r["year"],
            "total_fen": int(r["total"] or 0),
            "per_capita_fen": int(r["total"] or 0) // members if members else None,
            "members": members,
        }
        for r in rows
    ]


def township_counts(*, scope: RegionScope, region: str = "") -> list[dict[str, Any]]:
    """Cases per township (9-digit code) in scope, by status: the county's overview."""
    from cunzhan.network.models import Region

    qs = case_list(scope=scope, region=region)
    counts: dict[str, dict[str, int]] = {}
    for row in qs.values("village_id", "status").annotate(n=Count("id")).order_by():
        t = counts.setdefault(row["village_id"][:9], {s: 0 for s in CaseStatus.values})
        t[row["status"]] += row["n"]
    names = dict(Region.objects.filter(code__in=list(counts)).values_list("code", "name"))
    out = []
    for code in sorted(counts):
        c = counts[code]
        out.append(
            {
                "code": code,
                "name": names.get(code, code),
                "active": sum(c[s] for s in OPEN_STATUSES),
                **c,
            }
        )
    return out


def assignee_choices(*, scope: RegionScope, case: RiskCase) -> list[Any]:
    """Active users who may follow the case up: holding manage_risk, assigned to a
    region that holds the household, and working inside the caller's scope."""
    from cunzhan.accounts.models import Assignment, User
    from cunzhan.impact.risk import assignee_ok

    code = case.village_id
    ancestors = [code[:n] for n in (2, 4, 6, 9, 12) if n <= len(code)]
    user_ids = Assignment.objects.filter(region_id__in=ancestors).values_list("user_id", flat=True)
    users = User.objects.filter(pk__in=user_ids, is_active=True).order_by("username")
    out = []
    for u in users:
        if not assignee_ok(u, case):
            continue
        regions = list(Assignment.objects.filter(user=u).values_list("region_id", flat=True))
        if not scope.everything and not all(r and scope.contains_code(r) for r in regions):
            continue
        out.append(u)
    return out


# --- the data source: households at risk (stock) --------------------------------------------------


def _at_risk_counts(county: str, first: dt.date, last: dt.date) -> Cells:
    qs = (
        RiskCase.objects.filter(prefix_q("village_id", county), status__in=OPEN_STATUSES)
        .values("village_id")
        .annotate(n=Count("household_id", distinct=True))
    )
    return {(r["village_id"], last): r["n"] for r in qs}


def _at_risk_households(county: str, first: dt.date, last: dt.date) -> Members:
    """The households behind each village's count (the public page's small-cell rule)."""
    out: Members = {}
    for village, hh in RiskCase.objects.filter(
        prefix_q("village_id", county), status__in=OPEN_STATUSES
    ).values_list("village_id", "household_id"):
        out.setdefault((village, last), set()).add(hh)
    return out


def _at_risk_rows(scope: RegionScope, region: str, first: dt.date, last: dt.date) -> list[dict]:
    qs = (
        case_list(scope=scope, region=region, status="active")
        .order_by("village_id", "household__number")
        .filter(~Q(village_id=""))
    )
    # the household number, its village, the score; no names
    return [
        {
            "kind": "risk_case",
            "id": str(c.uuid),
            "day": timezone.localdate(c.flagged_at).isoformat(),
            "region_code": c.village_id,
            "region_name": c.village.name,
            "label": c.household.number,
            "detail": f"{c.score}",
            "amount": 1,
        }
        for c in qs
    ]


register_source(
    DataSource(
        key="impact.households_at_risk",
        label="返贫风险监测户（未结案）",
        doc="Households with a relapse-risk case that is not closed (a snapshot).",
        kind=STOCK,
        counts=_at_risk_counts,
        rows=_at_risk_rows,
        unit=HOUSEHOLDS,
        households=_at_risk_households,
    )
)
