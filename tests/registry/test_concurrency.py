"""Two officers add a head to the same household at once: one head, one clear error."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection

from cunzhan.core.errors import ApplicationError
from cunzhan.registry.models import Person
from cunzhan.registry.services import person_create
from tests.factories.concurrency import assert_one_winner
from tests.factories.registry import make_household


@pytest.mark.django_db(transaction=True)
def test_concurrent_heads_one_wins(regions):
    household = make_household()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def add(name: str) -> None:
        try:
            barrier.wait()
            person_create(
                household=household, name=name, sex="male", relation="head", birth_year=1970
            )
            outcomes.append("ok")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        except OperationalError as exc:  # see assert_one_winner()
            outcomes.append("locked" if "locked" in str(exc) else repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=add, args=(n,)) for n in ("王一", "王二")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert_one_winner(outcomes, "duplicate_head")
    assert Person.objects.filter(household=household, relation="head").count() == 1


@pytest.mark.django_db
def test_the_database_itself_refuses_a_second_head(regions):
    from django.db import IntegrityError, transaction

    household = make_household()
    Person.objects.create(
        household=household, name="甲", sex="male", relation="head", birth_year=1970
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Person.objects.create(
            household=household, name="乙", sex="male", relation="head", birth_year=1972
        )
