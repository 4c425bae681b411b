from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "cunzhan.ledger"
    label = "ledger"
    verbose_name = "ledger"
