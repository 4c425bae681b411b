"""What the station network contributes to the home page (``accounts.home``) and to the
region browser's counts (``core.rollups``). Imported by :meth:`NetworkConfig.ready`."""

from __future__ import annotations

from typing import Any, cast

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cunzhan.accounts.home import register_panel
from cunzhan.accounts.roles import Perm, Role
from cunzhan.core.rollups import register_region_counter
from cunzhan.core.scope import RegionScope
from cunzhan.network import selectors
from cunzhan.network.forms import open_days_label
from cunzhan.network.models import StationKind, StationStatus


def _lazy(text: str) -> str:
    return cast(str, gettext_lazy(text))


@register_region_counter("stations", label=_lazy("服务站"), order=10, perm=Perm.VIEW_NETWORK)
def stations_counter(scope: RegionScope, parent_code: str, child_len: int) -> dict[str, int]:
    """Live (not closed) stations below each child."""
    return selectors.station_counts_by_child(scope, parent_code, child_len)


def _stations_url(**params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items() if v)
    return reverse("network:stations") + (f"?{query}" if query else "")


def _status_stats(scope: RegionScope) -> list[dict[str, Any]]:
    counts = selectors.station_status_counts(scope=scope)
    return [
        {"label": StationStatus(s).label, "value": counts[s], "url": _stations_url(status=s)}
        for s in StationStatus.values
    ]


@register_panel(order=10)
def county_manager_panel(*, user: Any, scope: RegionScope) -> dict[str, Any] | None:
    """Stations by status in the manager's counties, and the review queue."""
    if user.role != Role.COUNTY_MANAGER:
        return None
    waiting = selectors.station_review_queue(scope=scope).count()
    links = [
        {"url": _stations_url(status=StationStatus.UNDER_REVIEW), "label": _("待审核申请")},
        {"url": reverse("network:map"), "label": _("服务站地图")},
    ]
    if user.can(Perm.APPLY_STATION):
        links.insert(0, {"url": reverse("network:station_apply"), "label": _("申请新服务站")})
    return {
        "title": _("服务站网络"),
        "stats": [{"label": _("待审核申请"), "value": waiting}, *_status_stats(scope)],
        "links": links,
    }


@register_panel(order=10)
def station_operator_panel(*, user: Any, scope: RegionScope) -> dict[str, Any] | None:
    """The operator's own station: status and opening hours."""
    if user.role != Role.STATION_OPERATOR:
        return None
    stations = list(selectors.station_list(scope=scope)[:5])
    if not stations:
        return {"title": _("我的服务站"), "stats": [], "links": []}
    st = stations[0]
    days = open_days_label(st.open_days)
    return {
        "title": _("我的服务站：%(name)s") % {"name": st.name},
        "stats": [
            {"label": _("状态"), "value": st.get_status_display()},
            {
                "label": _("营业时间"),
                "value": f"{st.opens_at:%H:%M}–{st.closes_at:%H:%M}",
            },
            {"label": _("营业日"), "value": days},
            {"label": _("站点编码"), "value": st.code},
        ],
        "links": [
            {"url": reverse("network:station", args=[s.pk]), "label": s.name} for s in stations
        ],
    }


@register_panel(order=10)
def driver_panel(*, user: Any, scope: RegionScope) -> dict[str, Any] | None:
    """Active stations on the driver's routes (the driver's regions)."""
    if user.role != Role.DRIVER:
        return None
    kinds = selectors.station_kind_counts(scope=scope)
    return {
        "title": _("我负责区域的服务站"),
        "stats": [
            {"label": StationKind(k).label, "value": kinds.get(k, 0)} for k in StationKind.values
        ],
        "links": [
            {"url": _stations_url(status=StationStatus.ACTIVE), "label": _("运营中的服务站")},
            {"url": reverse("network:map"), "label": _("服务站地图")},
        ],
    }


@register_panel(order=10)
def network_admin_panel(*, user: Any, scope: RegionScope) -> dict[str, Any] | None:
    """National counts: active stations by kind, all stations by status."""
    if user.role != Role.NETWORK_ADMIN:
        return None
    kinds = selectors.station_kind_counts(scope=scope)
    return {
        "title": _("全国服务站网络"),
        "stats": [
            *(
                {
                    "label": _("运营中·%(kind)s") % {"kind": StationKind(k).label},
                    "value": kinds.get(k, 0),
                }
                for k in StationKind.values
            ),
            *_status_stats(scope),
        ],
        "links": [
            {"url": reverse("network:stations"), "label": _("服务站")},
            {"url": reverse("network:regions"), "label": _("行政区划")},
            {"url": reverse("network:map"), "label": _("服务站地图")},
        ],
    }
