"""System checks of the payment settings (production posture, ADR 0023).

``commerce.E001`` (deploy): the sandbox provider is enabled while DEBUG is off — anyone
could mark an order paid with no money moving. ``commerce.E002``: ``PAYMENT_PROVIDERS``
names a provider cunzhan does not know.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.translation import gettext as _


@checks.register(checks.Tags.security, deploy=True)
def check_sandbox_off_in_production(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    if settings.PAYMENTS_SANDBOX_ENABLED and not settings.DEBUG:
        return [
            checks.Error(
                _("沙箱支付渠道已启用而 DEBUG 已关闭：任何人都能不付款就把订单标记为已付款。"),
                hint=_("生产环境请删除 CUNZHAN_PAYMENTS_SANDBOX_ENABLED 或设为 0。"),
                id="commerce.E001",
            )
        ]
    return []


@checks.register()
def check_payment_providers_known(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    from cunzhan.commerce.payments import PROVIDERS

    unknown = [p for p in settings.PAYMENT_PROVIDERS if p not in PROVIDERS]
    if not unknown:
        return []
    return [
        checks.Error(
            _("PAYMENT_PROVIDERS 中有未知的支付渠道：%(p)s") % {"p": ", ".join(unknown)},
            hint=_("可用的支付渠道：%(k)s") % {"k": ", ".join(sorted(PROVIDERS))},
            id="commerce.E002",
        )
    ]
