from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "cunzhan.ledger"
    label = "ledger"
    verbose_name = "ledger"

    def ready(self) -> None:
        from cunzhan.ledger import simulation, views  # noqa: F401 - payouts generator, panel
