"""Roles and what each may do. One role per user; scope comes from assignments."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    NETWORK_ADMIN = "network_admin", _("网络管理员")
    COUNTY_MANAGER = "county_manager", _("县级运营经理")
    STATION_OPERATOR = "station_operator", _("村站站长")
    DRIVER = "driver", _("司机")
    REGISTRY_OFFICER = "registry_officer", _("建档立卡专员")
    AUDITOR = "auditor", _("审计员")

    @staticmethod
    def manageable_roles(actor: Any) -> frozenset[str]:
        """The roles ``actor`` may create and manage (see :func:`manageable_roles`)."""
        return manageable_roles(actor)


class Perm:
    VIEW_NETWORK = "view_network"
    MANAGE_STATIONS = "manage_stations"  # review, activate, suspend, close
    APPLY_STATION = "apply_station"  # file an onboarding application
    EDIT_STATION = "edit_station"  # hours, services, phone, address, point (own station)
    VIEW_REGISTRY = "view_registry"  # the register: phones, birth years, poverty, incomes
    VIEW_RESIDENTS = "view_residents"  # the village's names and household numbers only
    EDIT_REGISTRY = "edit_registry"
    VIEW_ID_NUMBERS = "view_id_numbers"
    VIEW_AUDIT = "view_audit"
    MANAGE_USERS = "manage_users"  # which users: manageable_roles() and the actor's scope
    IMPORT_REGIONS = "import_regions"
    VIEW_COMMERCE = "view_commerce"  # producers, lots, products, grade standards, prices
    EDIT_PRODUCERS = "edit_producers"  # register producers; record, grade, pack, ship lots
    MANAGE_PRICES = "manage_prices"  # price tiers of the county's grades
    MANAGE_PRODUCTS = "manage_products"  # products and grade standards (national)
    VIEW_LEDGER = "view_ledger"  # accounts, statements, payouts (a station operator: its own)
    MANAGE_PAYOUTS = "manage_payouts"  # payout batches, booking the station fees
    EDIT_SETTLEMENT_RULES = "edit_settlement_rules"  # a county's fee and commission rates
    EDIT_ASSISTED = "edit_assisted"  # record, order, link, cancel assisted purchases (代购)
    REVIEW_ASSISTED = "review_assisted"  # the county's review of 代购 and their anomalies
    VIEW_ORDERS = "view_orders"  # the county's orders (buyers masked), sales report
    MANAGE_ORDERS = "manage_orders"  # confirm delivery, cancel, refund returns
    VIEW_IMPACT = "view_impact"  # indicators, dashboards and their drill-down rows
    VIEW_RISK = "view_risk"  # relapse-risk cases (防返贫监测): the queue, a case's history
    MANAGE_RISK = "manage_risk"  # scan, assign, record visits and assistance, close cases


ALL_PERMS = frozenset(v for k, v in vars(Perm).items() if k.isupper())

ROLE_PERMS: dict[str, frozenset[str]] = {
    Role.NETWORK_ADMIN: ALL_PERMS,
    Role.COUNTY_MANAGER: frozenset(
        {
            Perm.VIEW_NETWORK,
            Perm.MANAGE_STATIONS,
            Perm.APPLY_STATION,
            Perm.EDIT_STATION,
            Perm.VIEW_REGISTRY,
            Perm.MANAGE_USERS,
        }
    ),
    # an operator's work (hand-out, producers, enrolment) needs names, not the register
    Role.STATION_OPERATOR: frozenset({Perm.VIEW_NETWORK, Perm.EDIT_STATION, Perm.VIEW_RESIDENTS}),
    Role.DRIVER: frozenset({Perm.VIEW_NETWORK}),
    Role.REGISTRY_OFFICER: frozenset(
        {Perm.VIEW_NETWORK, Perm.VIEW_REGISTRY, Perm.EDIT_REGISTRY, Perm.VIEW_ID_NUMBERS}
    ),
    Role.AUDITOR: frozenset({Perm.VIEW_NETWORK, Perm.VIEW_REGISTRY, Perm.VIEW_AUDIT}),
}
# whoever sees the register sees the names in it (issue 12: need-to-know, ADR 0030)
for _role, _perms in ROLE_PERMS.items():
    if Perm.VIEW_REGISTRY in _perms:
        ROLE_PERMS[_role] = _perms | {Perm.VIEW_RESIDENTS}
# commerce catalogue (docs/adr/0014-commerce-catalogue.md); network admins hold ALL_PERMS
ROLE_PERMS[Role.COUNTY_MANAGER] |= {Perm.VIEW_COMMERCE, Perm.EDIT_PRODUCERS, Perm.MANAGE_PRICES}
ROLE_PERMS[Role.STATION_OPERATOR] |= {Perm.VIEW_COMMERCE, Perm.EDIT_PRODUCERS}
ROLE_PERMS[Role.AUDITOR] |= {Perm.VIEW_COMMERCE}
# impact dashboards (docs/adr/0017-impact-indicators.md)
for _role in (Role.COUNTY_MANAGER, Role.REGISTRY_OFFICER, Role.AUDITOR):
    ROLE_PERMS[_role] |= {Perm.VIEW_IMPACT}

# the ledger (issue 4, ADR 0013): added here as lines of their own so that other domains'
# additions merge cleanly. Auditors read; county managers also pay out and set the rules.
ROLE_PERMS[Role.COUNTY_MANAGER] |= {Perm.VIEW_LEDGER, Perm.MANAGE_PAYOUTS}
ROLE_PERMS[Role.COUNTY_MANAGER] |= {Perm.EDIT_SETTLEMENT_RULES}
ROLE_PERMS[Role.STATION_OPERATOR] |= {Perm.VIEW_LEDGER}
ROLE_PERMS[Role.AUDITOR] |= {Perm.VIEW_LEDGER}
# commerce orders (ADR 0015): county managers run them, auditors read them
ROLE_PERMS[Role.COUNTY_MANAGER] |= {Perm.VIEW_ORDERS, Perm.MANAGE_ORDERS}
ROLE_PERMS[Role.AUDITOR] |= {Perm.VIEW_ORDERS}

# assisted purchase (代购, ADR 0016): operators record them, county managers too
ROLE_PERMS[Role.STATION_OPERATOR] |= {Perm.EDIT_ASSISTED}
ROLE_PERMS[Role.COUNTY_MANAGER] |= {Perm.EDIT_ASSISTED}
# the county reviews purchases above its threshold and watches operators' commissions
# (issue 12): county managers decide, auditors read
ROLE_PERMS[Role.COUNTY_MANAGER] |= {Perm.REVIEW_ASSISTED}

# relapse-risk monitoring (防返贫监测, ADR 0019): county managers and registry officers
# follow cases up, auditors read them
for _role in (Role.COUNTY_MANAGER, Role.REGISTRY_OFFICER):
    ROLE_PERMS[_role] |= {Perm.VIEW_RISK, Perm.MANAGE_RISK}
ROLE_PERMS[Role.AUDITOR] |= {Perm.VIEW_RISK}


def role_has(role: str, perm: str) -> bool:
    return perm in ROLE_PERMS.get(role, frozenset())


# Who manages whom (docs/adr/0006-who-manages-users.md). Network admins manage every
# user; county managers manage the people who work their stations and runs, inside
# their own scope, and never admins, auditors or registry officers (those are
# appointed nationally: an auditor chosen by the audited, or a registry officer with
# access to ID numbers appointed by a network manager, would defeat their purpose).
MANAGEABLE_ROLES: dict[str, frozenset[str]] = {
    Role.NETWORK_ADMIN: frozenset(Role.values),
    Role.COUNTY_MANAGER: frozenset({Role.STATION_OPERATOR, Role.DRIVER}),
}


def manageable_roles(actor: Any) -> frozenset[str]:
    """The roles ``actor`` may grant and whose holders it may manage (inside its scope).

    Empty for anonymous or deactivated users and for roles without ``MANAGE_USERS``.
    """
    if actor is None or not getattr(actor, "is_active", False):
        return frozenset()
    role = getattr(actor, "role", "")
    if not role_has(role, Perm.MANAGE_USERS):
        return frozenset()
    return MANAGEABLE_ROLES.get(role, frozenset())
