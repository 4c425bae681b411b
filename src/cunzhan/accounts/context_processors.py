from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from cunzhan.accounts.roles import Perm

# the village directory is listed for those who do not see the register (which has it all)
RESIDENTS_ONLY = "residents_only"


def _allowed(user: Any, perm: str | None) -> bool:
    if perm is None:
        return True
    if perm == RESIDENTS_ONLY:
        return bool(user.can(Perm.VIEW_RESIDENTS) and not user.can(Perm.VIEW_REGISTRY))
    return bool(user.can(perm))


def nav(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    items: list[tuple[str, str, str | None]] = [("accounts:home", _("首页"), None)]
    items += [
        ("network:regions", _("行政区划"), Perm.VIEW_NETWORK),
        ("network:stations", _("服务站"), Perm.VIEW_NETWORK),
        ("network:map", _("地图"), Perm.VIEW_NETWORK),
        ("logistics:home", _("物流"), Perm.VIEW_NETWORK),
        ("commerce:lots", _("农产品"), Perm.VIEW_COMMERCE),
        ("commerce:assisted-oversight", _("代购监督"), Perm.REVIEW_ASSISTED),
        ("registry:households", _("建档立卡"), Perm.VIEW_REGISTRY),
        ("registry:residents", _("村民名单"), RESIDENTS_ONLY),
        ("impact:home", _("影响监测"), Perm.VIEW_IMPACT),
        ("impact:risk", _("防返贫监测"), Perm.VIEW_RISK),
        ("core:audit", _("审计日志"), Perm.VIEW_AUDIT),
        ("accounts:users", _("用户"), Perm.MANAGE_USERS),
        ("accounts:account", _("我的账号"), None),
    ]
    out = []
    path = request.path
    for name, label, perm in items:
        if not _allowed(user, perm):
            continue
        try:
            url = reverse(name)
        except Exception:  # noqa: S112 - a page not built yet is simply not listed
            continue
        out.append(
            {
                "url": url,
                "label": label,
                "active": path == url or (url != "/" and path.startswith(url)),
            }
        )
    # one entry active: the longest match (/impact/risk/ is not also /impact/)
    best = max((len(str(i["url"])) for i in out if i["active"]), default=0)
    for i in out:
        i["active"] = bool(i["active"]) and len(str(i["url"])) == best
    return {"nav_items": out}
