"""What the registry contributes to pages owned by lower domains: counters for the
region browser (``cunzhan.core.rollups``) and a home-page panel (``accounts.home``).
Imported by :meth:`RegistryConfig.ready`."""

from __future__ import annotations

from typing import Any, cast

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cunzhan.accounts.home import register_panel
from cunzhan.accounts.roles import Perm, Role
from cunzhan.core.rollups import register_region_counter
from cunzhan.core.scope import RegionScope
from cunzhan.registry import selectors


def _lazy(text: str) -> str:
    """A lazily translated label (rendered in the reader's language)."""
    return cast(str, gettext_lazy(text))


@register_region_counter("households", label=_lazy("户数"), order=50, perm=Perm.VIEW_REGISTRY)
def households_counter(scope: RegionScope, parent_code: str, child_len: int) -> dict[str, int]:
    return selectors.household_counts_by_child(
        scope=scope, parent_code=parent_code, child_len=child_len
    )


@register_region_counter(
    "poor_households", label=_lazy("建档立卡户"), order=51, perm=Perm.VIEW_REGISTRY
)
def poor_households_counter(scope: RegionScope, parent_code: str, child_len: int) -> dict[str, int]:
    return selectors.poor_household_counts_by_child(
        scope=scope, parent_code=parent_code, child_len=child_len
    )


@register_region_counter(
    "poor_not_exited", label=_lazy("未脱贫户"), order=52, perm=Perm.VIEW_REGISTRY
)
def poor_not_exited_counter(scope: RegionScope, parent_code: str, child_len: int) -> dict[str, int]:
    return selectors.poor_household_counts_by_child(
        scope=scope, parent_code=parent_code, child_len=child_len, still_poor=True
    )


PANEL_ROLES = {Role.REGISTRY_OFFICER, Role.AUDITOR, Role.NETWORK_ADMIN, Role.COUNTY_MANAGER}


@register_panel(order=50)
def registry_panel(*, user: Any, scope: RegionScope) -> dict[str, Any] | None:
    """Households and registered-poor households in the user's area, with links."""
    if user.role not in PANEL_ROLES or not user.can(Perm.VIEW_REGISTRY):
        return None
    counts = selectors.household_counts(scope=scope)
    links = [{"url": reverse("registry:households"), "label": _("户籍名册")}]
    links.append({"url": reverse("registry:households") + "?poor=1", "label": _("建档立卡户")})
    if user.can(Perm.EDIT_REGISTRY):
        links.append({"url": reverse("registry:household_create"), "label": _("新增户")})
        links.append({"url": reverse("registry:import"), "label": _("批量导入")})
    return {
        "title": _("建档立卡"),
        "stats": [
            {"label": _("户数"), "value": counts["households"]},
            {"label": _("人数"), "value": counts["persons"]},
            {"label": _("建档立卡户"), "value": counts["poor"]},
            {"label": _("未脱贫户"), "value": counts["still_poor"]},
        ],
        "links": links,
    }
