from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "cunzhan.accounts"
    label = "accounts"
    verbose_name = "accounts"

    def ready(self) -> None:
        from cunzhan.accounts import lockout  # noqa: F401 - connects the failed-login audit
        from cunzhan.accounts.selectors import scope_for_user
        from cunzhan.core import scope

        scope.USER_SCOPE_RESOLVER = scope_for_user
