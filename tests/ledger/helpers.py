"""Helpers for the ledger tests: balances read back with a query (not the cached
column), and the global invariants."""

from __future__ import annotations

from django.db.models import Sum

from cunzhan.ledger.models import Account, Line, Transaction


def summed(account: Account) -> int:
    return int(Line.objects.filter(account=account).aggregate(s=Sum("amount_fen", default=0))["s"])


def assert_invariants() -> None:
    """Every transaction balances, all accounts sum to zero, every cached balance equals
    the sum of its lines."""
    unbalanced = (
        Line.objects.values("transaction_id")
        .annotate(s=Sum("amount_fen"))
        .exclude(s=0)
        .values_list("transaction_id", flat=True)
    )
    assert list(unbalanced) == []
    assert Transaction.objects.filter(lines__isnull=True).count() == 0
    assert int(Account.objects.aggregate(s=Sum("balance_fen", default=0))["s"]) == 0
    for a in Account.objects.all():
        assert a.balance_fen == summed(a), a.key
