"""Relapse-risk monitoring (防返贫动态监测): signals, the scan, and the follow-up.

**Signals.** A signal is a named function over one county's registered (建档立卡)
households, registered or exited, that returns, for the households it fires on, a
score and a structured reason ``{"code", "value", "threshold", "unit", ...}``. The
built-in rules register themselves here exactly as signals over later modules' data
(insurance claims, loan arrears) will: a function in impact reading that module's
selectors (impact sits above every domain), registered with one call::

    register_risk_signal("insurance.claim", "大额理赔", fn)  # fn(ctx) -> {hh_id: Hit}

A household's score is the sum of its hits' scores; it is flagged when the score
reaches ``RiskConfig.threshold``.

**The scan** (:func:`risk_scan`, ``cunzhan risk-scan``) evaluates every signal for a
county and year and opens a case per newly flagged household. It is idempotent: a
household with a case that is not closed has its score and reasons updated (a
``rescored`` event when they changed), never a second case. A closed case is not
reopened; the household gets a NEW case only when it is flagged *again* after the
close: for a later year, with a higher score, or for a reason the closed case did not
have.

**Follow-up**: assign (to a user holding ``manage_risk`` whose scope holds the
household), record a visit, record assistance, close with an outcome. Every write is
audited; an illegal step raises ApplicationError with a stable code.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone
from django.utils.translation import gettext_noop

from cunzhan.core.audit import audit_record
from cunzhan.core.errors import ApplicationError, Conflict, NotFound, Unprocessable
from cunzhan.core.scope import RegionScope, prefix_q
from cunzhan.core.validation import is_ascii_digits
from cunzhan.impact.risk_models import (
    AssistanceKind,
    CaseEventKind,
    CaseOutcome,
    CaseStatus,
    MonitoringLine,
    RiskCase,
    RiskCaseEvent,
)

MANAGE_RISK = "manage_risk"  # == accounts.roles.Perm.MANAGE_RISK (impact sits above accounts)


# --- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskConfig:
    """The rules' parameters. Shares are in basis points (2000 = 20 %), money in fen."""

    threshold: int = 50  # flag when the total score reaches this
    score_below_line: int = 60
    score_income_fall: int = 40
    income_fall_bp: int = 2000  # a fall of MORE than 20 % against last year
    score_sales_falling: int = 30
    sales_months: int = 3  # the last 3 complete months against the 3 before them
    sales_fall_bp: int = 3000  # recent sales down MORE than 30 %
    sales_min_fen: int = 10_000  # the earlier window must have sold at least ¥100

    def checked(self) -> RiskConfig:
        problems = {}
        if self.threshold < 1:
            problems["threshold"] = "at least 1"
        if not 0 <= self.income_fall_bp <= 10_000:
            problems["income_fall_bp"] = "0 to 10000 basis points"
        if not 0 <= self.sales_fall_bp <= 10_000:
            problems["sales_fall_bp"] = "0 to 10000 basis points"
        if not 1 <= self.sales_months <= 12:
            problems["sales_months"] = "1 to 12"
        for name in ("score_below_line", "score_income_fall", "score_sales_falling"):
            if getattr(self, name) < 0:
                problems[name] = "not negative"
        if self.sales_min_fen < 0:
            problems["sales_min_fen"] = "not negative"
        if problems:
            raise Unprocessable(
                "invalid risk rule parameters: "
                + "; ".join(f"{k}: {v}" for k, v in sorted(problems.items())),
                code="invalid_risk_config",
                details=problems,
            )
        return self


# --- the signal registry ------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    score: int
    reason: dict[str, Any]  # {"code", "value", "threshold", "unit", ...}


@dataclass
class ScanContext:
    """What a signal gets: the county, the year, the day of the scan, the rules'
    parameters and the households to evaluate (id -> village code, members)."""

    county_code: str
    year: int
    as_of: dt.date
    config: RiskConfig
    villages: dict[int, str]  # household id -> village code
    members: dict[int, int]  # household id -> number of people
    _income: dict[tuple[int, int], int] | None = None

    @property
    def household_ids(self) -> list[int]:
        return sorted(self.villages)

    def income(self, household_id: int, year: int) -> int | None:
        """The household's total income (fen) in ``year``; None without a record."""
        if self._income is None:
            from cunzhan.registry.models import IncomeRecord

            rows = (
                IncomeRecord.objects.filter(
                    prefix_q("household__village_id", self.county_code),
                    household__poverty_registration__isnull=False,
                    year__in=(self.year - 1, self.year),
                )
                .values("household_id", "year")
                .annotate(total=Sum("amount_fen"))
            )
            self._income = {(r["household_id"], r["year"]): int(r["total"] or 0) for r in rows}
        if year not in (self.year - 1, self.year):
            raise ValueError("ScanContext.income: the scan's year or the one before")
        return self._income.get((household_id, year))


SignalFn = Callable[[ScanContext], dict[int, Hit]]


@dataclass(frozen=True)
class RiskSignal:
    key: str
    label: str  # zh-Hans msgid, shown translated
    fn: SignalFn


_SIGNALS: dict[str, RiskSignal] = {}


def register_risk_signal(key: str, label: str, fn: SignalFn) -> RiskSignal:
    """Plug a signal in (idempotent by key: registering the key again replaces it)."""
    if not key or not callable(fn):
        raise ValueError("a risk signal needs a key and a function")
    signal = RiskSignal(key=key, label=label, fn=fn)
    _SIGNALS[key] = signal
    return signal


def unregister_risk_signal(key: str) -> None:
    _SIGNALS.pop(key, None)


def risk_signals() -> list[RiskSignal]:
    return [_SIGNALS[k] for k in sorted(_SIGNALS)]


def signal_label(code: str) -> str:
    signal = _SIGNALS.get(code)
    return signal.label if signal is not None else code


# --- monitoring lines ---------------------------------------------------------------------


def monitoring_line(
    *, year: int, region_code: str, lines: list[MonitoringLine] | None = None
) -> MonitoringLine | None:
    """The line that applies to ``region_code`` in ``year``: the latest year not after
    ``year`` that has a line, and in it the longest matching region prefix ("" =
    national). None when no line is defined up to that year."""
    rows = lines if lines is not None else list(MonitoringLine.objects.filter(year__lte=year))
    best: MonitoringLine | None = None
    for line in rows:
        if line.year > year or not region_code.startswith(line.region_prefix):
            continue
        if best is None or (line.year, len(line.region_prefix)) > (
            best.year,
            len(best.region_prefix),
        ):
            best = line
    return best


@transaction.atomic
def monitoring_line_set(
    *, year: int, amount_fen: int, region_prefix: str = "", source: str = "", actor: Any = None
) -> MonitoringLine:
    if not 2000 <= int(year) <= 2100:
        raise ApplicationError("year: 2000 to 2100", code="invalid_year", details={"year": year})
    if int(amount_fen) <= 0:
        raise ApplicationError(
            "amount_fen: a positive number of fen", code="invalid_amount", details={}
        )
    if region_prefix and (not is_ascii_digits(region_prefix) or len(region_prefix) > 12):
        raise ApplicationError(
            "region_prefix: digits of a region code", code="invalid_region", details={}
        )
    line, created = MonitoringLine.objects.update_or_create(
        year=year,
        region_prefix=region_prefix,
        defaults={"amount_fen": amount_fen, "source": source[:400]},
    )
    audit_record(
        action="create" if created else "update",
        object_type="impact.MonitoringLine",
        object_id=line.pk,
        object_repr=str(line),
        region_code=region_prefix,
        after={"year": year, "amount_fen": amount_fen, "source": source},
        actor=actor,
    )
    return line


# --- the built-in rules -------------------------------------------------------------------


def _below_line(ctx: ScanContext) -> dict[int, Hit]:
    """Per-capita net income of the year (all sources / members) below the year's line.
    Households without an income record for the year, or without members, are not
    evaluated (no data is not a zero income)."""
    lines = list(MonitoringLine.objects.filter(year__lte=ctx.year))
    out: dict[int, Hit] = {}
    for hh, village in ctx.villages.items():
        total = ctx.income(hh, ctx.year)
        people = ctx.members.get(hh, 0)
        if total is None or people == 0:
            continue
        line = monitoring_line(year=ctx.year, region_code=village, lines=lines)
        if line is None:
            continue
        per_capita = total // people
        if per_capita < line.amount_fen:
            out[hh] = Hit(
                ctx.config.score_below_line,
                {
                    "code": "income_below_line",
                    "value": per_capita,
                    "threshold": line.amount_fen,
                    "unit": "fen",
                    "year": ctx.year,
                    "line_year": line.year,
                },
            )
    return out


def _income_fall(ctx: ScanContext) -> dict[int, Hit]:
    """Total income of the year down MORE than ``income_fall_bp`` against the year
    before (both years recorded, last year above zero)."""
    out: dict[int, Hit] = {}
    bp = ctx.config.income_fall_bp
    for hh in ctx.villages:
        now, before = ctx.income(hh, ctx.year), ctx.income(hh, ctx.year - 1)
        if now is None or not before:
            continue
        if (before - now) * 10_000 > bp * before:
            out[hh] = Hit(
                ctx.config.score_income_fall,
                {
                    "code": "income_fall",
                    "value": round((before - now) / before, 4),
                    "threshold": bp / 10_000,
                    "unit": "share",
                    "year": ctx.year,
                    "now_fen": now,
                    "before_fen": before,
                },
            )
    return out


def _month_start(day: dt.date, back: int) -> dt.date:
    """The first day of the month ``back`` months before ``day``'s month."""
    index = day.year * 12 + (day.month - 1) - back
    return dt.date(index // 12, index % 12 + 1, 1)


def sales_windows(as_of: dt.date, months: int) -> tuple[dt.date, dt.date, dt.date]:
    """(earlier start, recent start, recent end): the ``months`` complete months before
    ``as_of``'s month, and the ``months`` before those. End exclusive."""
    end = _month_start(as_of, 0)
    return _month_start(as_of, 2 * months), _month_start(as_of, months), end


def household_sales(
    *,
    county_code: str,
    first: dt.date,
    last: dt.date,
    household_ids: list[int] | None = None,
) -> dict[int, dict[dt.date, int]]:
    """Delivered sales (fen, net of refunds) of the lots of producers that ARE a
    registered (建档立卡) household of the county (``Producer.household``), per household
    and month of delivery (Asia/Shanghai), for delivery days in [first, last)."""
    from django.db.models.functions import TruncMonth

    from cunzhan.commerce.orders_models import OrderAllocation
    from cunzhan.impact.sources import day_bounds, tz

    lo, _hi = day_bounds(first, first)
    hi, _x = day_bounds(last, last)
    rows = (
        OrderAllocation.objects.filter(
            prefix_q("lot__producer__household__village_id", county_code),
            released=False,
            lot__producer__household__poverty_registration__isnull=False,
            line__order__delivered_at__gte=lo,
            line__order__delivered_at__lt=hi,
        )
        .annotate(month=TruncMonth("line__order__delivered_at", tzinfo=tz()))
        .values("lot__producer__household_id", "month")
        .annotate(
            gross=Sum(F("quantity") * F("line__unit_price_fen")),
            refunded=Sum("refunded_fen"),
        )
    )
    if household_ids is not None:
        rows = rows.filter(lot__producer__household_id__in=household_ids)
    out: dict[int, dict[dt.date, int]] = defaultdict(dict)
    for r in rows:
        month = r["month"]
        day = month.astimezone(tz()).date() if isinstance(month, dt.datetime) else month
        amount = int(r["gross"] or 0) - int(r["refunded"] or 0)
        hh = r["lot__producer__household_id"]
        out[hh][day] = out[hh].get(day, 0) + amount
    return out


def _sales_falling(ctx: ScanContext) -> dict[int, Hit]:
    """Delivered sales of the last ``sales_months`` complete months down MORE than
    ``sales_fall_bp`` against the ``sales_months`` before them (which sold at least
    ``sales_min_fen``)."""
    cfg = ctx.config
    first, middle, end = sales_windows(ctx.as_of, cfg.sales_months)
    sales = household_sales(county_code=ctx.county_code, first=first, last=end)
    out: dict[int, Hit] = {}
    for hh, months in sales.items():
        earlier = sum(v for m, v in months.items() if first <= m < middle)
        recent = sum(v for m, v in months.items() if middle <= m < end)
        if earlier < max(cfg.sales_min_fen, 1):
            continue
        if (earlier - recent) * 10_000 > cfg.sales_fall_bp * earlier:
            out[hh] = Hit(
                cfg.score_sales_falling,
                {
                    "code": "sales_falling",
                    "value": round((earlier - recent) / earlier, 4),
                    "threshold": cfg.sales_fall_bp / 10_000,
                    "unit": "share",
                    "recent_fen": recent,
                    "earlier_fen": earlier,
                    "months": cfg.sales_months,
                    "recent_from": middle.isoformat(),
                    "earlier_from": first.isoformat(),
                },
            )
    return out


# labels are msgids (zh-Hans), translated where they are shown
register_risk_signal("income_below_line", gettext_noop("人均纯收入低于监测线"), _below_line)
register_risk_signal("income_fall", gettext_noop("收入较上年大幅下降"), _income_fall)
register_risk_signal("sales_falling", gettext_noop("农产品销售额持续下降"), _sales_falling)


# --- evaluation and the scan --------------------------------------------------------------


@dataclass
class Evaluation:
    household_id: int
    village_code: str
    score: int
    reasons: list[dict[str, Any]]


def _county(county_code: str) -> Any:
    from cunzhan.network.models import Level, Region

    code = str(county_code or "").strip()
    county = (
        Region.objects.filter(code=code, level=Level.COUNTY).first()
        if is_ascii_digits(code) and len(code) == 6
        else None
    )
    if county is None:
        raise NotFound(f"county {code!r} not found", code="county_not_found")
    return county


def _check_year(year: Any) -> int:
    try:
        y = int(year)
    except (TypeError, ValueError):
        y = 0
    if not 2000 <= y <= timezone.localdate().year:
        raise Unprocessable(
            f"year: 2000 to this year, got {year!r}", code="invalid_year", details={"year": year}
        )
    return y


def risk_evaluate(
    *, county_code: str, year: int, as_of: dt.date | None = None, config: RiskConfig | None = None
) -> list[Evaluation]:
    """Every signal over the county's registered (建档立卡) households, registered or
    exited: one Evaluation per household with at least one hit (score, reasons)."""
    from cunzhan.registry.models import Person, PovertyRegistration

    cfg = (config or RiskConfig()).checked()
    county = _county(county_code)
    year = _check_year(year)
    regs = PovertyRegistration.objects.filter(prefix_q("household__village_id", county.code))
    villages = dict(regs.values_list("household_id", "household__village_id"))
    members = dict(
        Person.objects.filter(
            prefix_q("household__village_id", county.code),
            household__poverty_registration__isnull=False,
        )
        .values("household_id")
        .annotate(n=Count("id"))
        .values_list("household_id", "n")
    )
    ctx = ScanContext(
        county_code=county.code,
        year=year,
        as_of=as_of or timezone.localdate(),
        config=cfg,
        villages=villages,
        members=members,
    )
    hits: dict[int, list[Hit]] = defaultdict(list)
    for signal in risk_signals():
        for hh, hit in signal.fn(ctx).items():
            if hh not in villages:  # a signal may only speak of the county's households
                continue
            reason = {**hit.reason, "code": hit.reason.get("code") or signal.key}
            reason["signal"] = signal.key
            reason["score"] = int(hit.score)
            hits[hh].append(Hit(int(hit.score), reason))
    return [
        Evaluation(
            household_id=hh,
            village_code=villages[hh],
            score=sum(h.score for h in found),
            reasons=[h.reason for h in found],
        )
        for hh, found in sorted(hits.items())
    ]


@dataclass
class ScanResult:
    county_code: str
    year: int
    evaluated: int = 0
    flagged: int = 0
    opened: int = 0
    updated: int = 0
    unchanged: int = 0
    case_ids: list[str] = field(default_factory=list)


def _codes(reasons: list[dict[str, Any]]) -> set[str]:
    return {str(r.get("code")) for r in reasons}


def _flagged_again(closed: RiskCase, ev: Evaluation, year: int) -> bool:
    """After a close, a new case only on new evidence: a later year, a higher score, or
    a reason the closed case did not have."""
    if year < closed.year:  # an older year's figures are not new evidence
        return False
    return (
        year > closed.year
        or ev.score > closed.score
        or bool(_codes(ev.reasons) - _codes(closed.reasons))
    )


def _event(case: RiskCase, kind: str, *, actor: Any = None, **kw: Any) -> RiskCaseEvent:
    return RiskCaseEvent.objects.create(
        case=case,
        kind=kind,
        at=timezone.now(),
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        **kw,
    )


def _case_audit(case: RiskCase, action: str, note: str, actor: Any, **kw: Any) -> None:
    audit_record(
        action=action,
        object_type="impact.RiskCase",
        object_id=case.uuid,
        object_repr=f"{case.village_id}-{case.household.number}"
        if hasattr(case, "household")
        else str(case),
        region_code=case.village_id,
        note=note,
        actor=actor,
        **kw,
    )


@transaction.atomic
def risk_scan(
    *,
    county_code: str,
    year: int | None = None,
    as_of: dt.date | None = None,
    config: RiskConfig | None = None,
    actor: Any = None,
) -> ScanResult:
    """Evaluate the county and open / update its cases (idempotent, see the module)."""
    from cunzhan.network.models import Region
    from cunzhan.registry.models import Household

    cfg = (config or RiskConfig()).checked()
    county = _county(county_code)
    y = _check_year(year if year is not None else timezone.localdate().year - 1)
    # scans of one county run one after the other (two would both open a new case)
    Region.objects.select_for_update().filter(code=county.code).first()
    evaluations = risk_evaluate(county_code=county.code, year=y, as_of=as_of, config=cfg)
    result = ScanResult(county_code=county.code, year=y)
    regs_total = Household.objects.filter(
        prefix_q("village_id", county.code), poverty_registration__isnull=False
    ).count()
    result.evaluated = regs_total
    flagged = [e for e in evaluations if e.score >= cfg.threshold]
    result.flagged = len(flagged)
    ids = [e.household_id for e in flagged]
    # lock the county's cases of these households (pk order)
    cases = list(
        RiskCase.objects.select_for_update()
        .filter(household_id__in=ids)
        .select_related("household")
        .order_by("pk")
    )
    open_by_hh = {c.household_id: c for c in cases if c.status != CaseStatus.CLOSED}
    last_closed: dict[int, RiskCase] = {}
    for c in cases:
        if c.status == CaseStatus.CLOSED:
            prev = last_closed.get(c.household_id)
            if prev is None or (c.closed_at, c.pk) > (prev.closed_at, prev.pk):
                last_closed[c.household_id] = c
    now = timezone.now()
    households = Household.objects.in_bulk(ids)
    untouched: list[int] = []
    for ev in flagged:
        case = open_by_hh.get(ev.household_id)
        if case is not None:
            # an older year's scan never rewrites a newer assessment
            older = case.year > y
            same = case.score == ev.score and case.reasons == ev.reasons and case.year == y
            if older or same:
                untouched.append(case.pk)
                result.unchanged += 1
            else:
                before = {"score": case.score, "reasons": case.reasons, "year": case.year}
                case.score, case.reasons, case.year, case.scanned_at = ev.score, ev.reasons, y, now
                case.save(update_fields=["score", "reasons", "year", "scanned_at", "updated_at"])
                _event(
                    case, CaseEventKind.RESCORED, data={"score": ev.score, "reasons": ev.reasons}
                )
                _case_audit(
                    case,
                    "update",
                    "risk case rescored",
                    actor,
                    before=before,
                    after={"score": ev.score, "reasons": ev.reasons, "year": y},
                )
                result.updated += 1
            result.case_ids.append(str(case.uuid))
            continue
        closed = last_closed.get(ev.household_id)
        if closed is not None and not _flagged_again(closed, ev, y):
            result.unchanged += 1
            continue
        case = RiskCase.objects.create(
            household=households[ev.household_id],
            village_id=ev.village_code,
            year=y,
            score=ev.score,
            reasons=ev.reasons,
            status=CaseStatus.OPEN,
            flagged_at=now,
            scanned_at=now,
        )
        _event(case, CaseEventKind.FLAGGED, data={"score": ev.score, "reasons": ev.reasons})
        _case_audit(
            case,
            "create",
            "risk case opened by a scan",
            actor,
            after={"score": ev.score, "year": y, "codes": sorted(_codes(ev.reasons))},
        )
        result.opened += 1
        result.case_ids.append(str(case.uuid))
    RiskCase.objects.filter(pk__in=untouched).update(scanned_at=now)
    audit_record(
        action="create",
        object_type="impact.RiskScan",
        object_id=f"{county.code}-{y}",
        object_repr=f"risk scan {county.code} {y}",
        region_code=county.code,
        after={
            "evaluated": result.evaluated,
            "flagged": result.flagged,
            "opened": result.opened,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "threshold": cfg.threshold,
        },
        actor=actor,
    )
    return result


# --- the follow-up ------------------------------------------------------------------------


def _locked(case: RiskCase) -> RiskCase:
    return RiskCase.objects.select_for_update().select_related("household").get(pk=case.pk)


def _not_closed(case: RiskCase, step: str) -> None:
    if case.status == CaseStatus.CLOSED:
        raise Conflict(
            f"the case is closed: cannot {step}",
            code="case_closed",
            details={"status": case.status, "step": step},
        )


def _day(value: Any, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value))
        except ValueError as exc:
            raise ApplicationError(
                f"{name}: a date YYYY-MM-DD", code="invalid_date", details={"field": name}
            ) from exc
    if value > timezone.localdate():
        raise Unprocessable(
            f"{name}: not in the future", code="date_in_future", details={"field": name}
        )
    return value


def _text(value: Any, name: str, *, required: bool, limit: int = 1000) -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        raise Unprocessable(f"{name}: required", code="required", details={"field": name})
    if len(text) > limit:
        raise Unprocessable(
            f"{name}: at most {limit} characters", code="too_long", details={"field": name}
        )
    return text


def assignee_ok(user: Any, case: RiskCase) -> bool:
    """An active user holding manage_risk whose scope holds the case's household."""
    from cunzhan.accounts.selectors import scope_for_user

    return bool(
        user is not None
        and getattr(user, "is_active", False)
        and user.can(MANAGE_RISK)
        and scope_for_user(user).contains_code(case.village_id)
    )


@transaction.atomic
def case_assign(*, case: RiskCase, assignee: Any, actor: Any, scope: RegionScope) -> RiskCase:
    """Assign the case to ``assignee`` (in the actor's scope, holding manage_risk, with
    the household in its own scope). Re-assigning an open case is allowed."""
    from cunzhan.accounts.selectors import scope_for_user

    case = _locked(case)
    _not_closed(case, "assign")
    if assignee is None or not assignee_ok(assignee, case):
        raise Unprocessable(
            "the assignee must be an active user who may follow up risk cases and whose "
            "regions hold this household",
            code="assignee_out_of_scope",
            details={"assignee": getattr(assignee, "pk", None)},
        )
    theirs = scope_for_user(assignee)
    if not scope.everything and not (
        theirs.prefixes and all(scope.contains_code(p) for p in theirs.prefixes)
    ):
        raise Unprocessable(
            "the assignee works outside your regions",
            code="assignee_out_of_scope",
            details={"assignee": assignee.pk},
        )
    before = {"assignee": case.assignee_id, "status": case.status}
    case.assignee = assignee
    if case.status == CaseStatus.OPEN:
        case.status = CaseStatus.ASSIGNED
    case.save(update_fields=["assignee", "status", "updated_at"])
    _event(
        case,
        CaseEventKind.ASSIGNED,
        actor=actor,
        data={"assignee": assignee.pk, "assignee_name": assignee.username},
    )
    _case_audit(
        case,
        "update",
        "risk case assigned",
        actor,
        before=before,
        after={"assignee": assignee.pk, "status": case.status},
    )
    return case


@transaction.atomic
def case_visit(*, case: RiskCase, day: Any, findings: str, actor: Any) -> RiskCase:
    """Record a visit (date, findings). The case must be assigned and not closed."""
    case = _locked(case)
    _not_closed(case, "record a visit")
    if case.assignee_id is None:
        raise Conflict(
            "assign the case before recording a visit", code="case_not_assigned", details={}
        )
    visit_day = _day(day, "day")
    text = _text(findings, "findings", required=True)
    before = {"status": case.status}
    case.status = CaseStatus.VISITED
    case.save(update_fields=["status", "updated_at"])
    _event(case, CaseEventKind.VISIT, actor=actor, day=visit_day, note=text)
    _case_audit(
        case,
        "update",
        "risk case visit",
        actor,
        before=before,
        after={"status": case.status, "visit_day": visit_day},
    )
    return case


@transaction.atomic
def case_assistance(
    *,
    case: RiskCase,
    kind: str,
    day: Any,
    amount_fen: int | None = None,
    note: str = "",
    actor: Any,
) -> RiskCase:
    """Record assistance given (kind, date, optional amount in fen, note)."""
    case = _locked(case)
    _not_closed(case, "record assistance")
    if case.assignee_id is None:
        raise Conflict(
            "assign the case before recording assistance", code="case_not_assigned", details={}
        )
    if kind not in AssistanceKind.values:
        raise ApplicationError(
            f"kind: one of {', '.join(AssistanceKind.values)}",
            code="invalid_choice",
            details={"field": "kind"},
        )
    if amount_fen is not None and (
        isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen < 0
    ):
        raise ApplicationError(
            "amount_fen: a whole number of fen, not negative",
            code="invalid_amount",
            details={"field": "amount_fen"},
        )
    help_day = _day(day, "day")
    text = _text(note, "note", required=False)
    _event(
        case,
        CaseEventKind.ASSISTANCE,
        actor=actor,
        day=help_day,
        note=text,
        assistance_kind=kind,
        amount_fen=amount_fen,
    )
    case.save(update_fields=["updated_at"])
    _case_audit(
        case,
        "update",
        "risk case assistance",
        actor,
        after={"kind": kind, "day": help_day, "amount_fen": amount_fen},
    )
    return case


@transaction.atomic
def case_close(*, case: RiskCase, outcome: str, note: str = "", actor: Any) -> RiskCase:
    """Close with an outcome. Needs at least one recorded visit; a closed case stays
    closed (a later flag opens a new case)."""
    case = _locked(case)
    _not_closed(case, "close")
    if outcome not in CaseOutcome.values:
        raise ApplicationError(
            f"outcome: one of {', '.join(CaseOutcome.values)}",
            code="invalid_choice",
            details={"field": "outcome"},
        )
    if not case.events.filter(kind=CaseEventKind.VISIT).exists():
        raise Conflict(
            "record a visit before closing the case", code="case_not_visited", details={}
        )
    text = _text(note, "note", required=outcome == CaseOutcome.OTHER, limit=400)
    before = {"status": case.status}
    case.status = CaseStatus.CLOSED
    case.outcome = outcome
    case.close_note = text
    case.closed_at = timezone.now()
    case.save(update_fields=["status", "outcome", "close_note", "closed_at", "updated_at"])
    _event(case, CaseEventKind.CLOSED, actor=actor, note=text, data={"outcome": outcome})
    _case_audit(
        case,
        "close",
        "risk case closed",
        actor,
        before=before,
        after={"status": case.status, "outcome": outcome},
    )
    return case
