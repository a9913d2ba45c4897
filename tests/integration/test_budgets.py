"""`autotag budgets sync`: AWS Budgets made to match the registry, for the budgets it owns
only (against the emulator; local/budgets_gaps.py fills what moto lacks)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from autotag import budgets, cli, registry_file
from local.emulator import Emulator, Stack
from tests.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.integration
ACCOUNT = "123456789012"


def budgets_client(emulator: Emulator) -> Any:
    return boto3.client("budgets", region_name="us-east-1", endpoint_url=emulator.endpoint)


def held(client: Any) -> dict[str, dict[str, Any]]:
    found = client.describe_budgets(AccountId=ACCOUNT)["Budgets"]
    return {b["BudgetName"]: b for b in found}


def alerts(client: Any, name: str) -> set[tuple[str, float, str]]:
    found = set()
    for n in client.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName=name)[
        "Notifications"
    ]:
        subscribers = client.describe_subscribers_for_notification(
            AccountId=ACCOUNT, BudgetName=name, Notification=n
        )["Subscribers"]
        found |= {(n["NotificationType"], float(n["Threshold"]), s["Address"]) for s in subscribers}
    return found


def notification(kind: str, percent: float) -> dict[str, Any]:
    """An alert as `budgets sync` makes it."""
    return {
        "NotificationType": kind,
        "ComparisonOperator": "GREATER_THAN",
        "Threshold": percent,
        "ThresholdType": "PERCENTAGE",
    }


def load(emulator: Emulator, stack: Stack, text: str) -> None:
    registry = registry_file.parse_text(text, "registry.yaml")
    registry_file.sync_table(emulator.dynamodb(), stack.registry_table, registry)


@pytest.fixture
def synced(emulator: Emulator, stack: Stack) -> tuple[Any, list[str]]:
    """The registry's budgets made once; the client, and the command that makes them."""
    sync = ["budgets", "sync", "--table", stack.registry_table]
    assert cli.main(sync) == 0
    return budgets_client(emulator), sync


def test_budgets_follow_the_registry_and_no_other_budget_is_touched(
    emulator: Emulator, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    client = budgets_client(emulator)
    client.create_budget(
        AccountId=ACCOUNT,
        Budget={
            "BudgetName": "finance-total",
            "BudgetLimit": {"Amount": "90000", "Unit": "USD"},
            "TimeUnit": "MONTHLY",
            "BudgetType": "COST",
        },
    )
    sync = ["budgets", "sync", "--table", stack.registry_table]
    capsys.readouterr()
    assert cli.main([*sync, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "+ autotag-Alpha-NLP: 5,000.00 USD a month on SageMaker for Alpha-NLP" in out
    assert "+ autotag-Beta-Forecast: 2,000.00 USD" in out
    assert set(held(client)) == {"finance-total"}  # a dry run changes nothing

    assert cli.main(sync) == 0
    found = held(client)
    assert set(found) == {"finance-total", "autotag-Alpha-NLP", "autotag-Beta-Forecast"}
    alpha = found["autotag-Alpha-NLP"]
    assert alpha["BudgetLimit"]["Amount"] == "5000.00"
    assert alpha["CostFilters"] == {
        "TagKeyValue": ["user:Project$Alpha-NLP"],
        "Service": ["Amazon SageMaker"],
    }
    # counted as `autotag costs` counts: usage, without credits and refunds
    assert alpha["CostTypes"]["IncludeCredit"] is False
    assert alpha["CostTypes"]["IncludeRefund"] is False
    assert alerts(client, "autotag-Alpha-NLP") == {
        ("FORECASTED", 80.0, "alice@example.com"),
        ("ACTUAL", 100.0, "alice@example.com"),
    }
    assert alerts(client, "autotag-Beta-Forecast") == {
        ("FORECASTED", 50.0, "grace@example.com"),
        ("FORECASTED", 80.0, "grace@example.com"),
        ("ACTUAL", 100.0, "grace@example.com"),
    }

    capsys.readouterr()
    assert cli.main(sync) == 0  # again: nothing to do
    assert "nothing to change" in capsys.readouterr().out

    text = EXAMPLE_REGISTRY.read_text()
    text = text.replace(
        "budget: {monthly: 5000}", "budget: {monthly: 6000, alerts: {actual: [90]}}"
    )
    text = text.replace("    owner: alice@example.com ", "    owner: bob@example.com ")
    start = text.index("    budget:\n      monthly: 2000")
    end = text.index("\n", text.index("alerts: {forecast: [50, 80]", start))
    load(emulator, stack, text[:start] + text[end + 1 :])
    assert cli.main(sync) == 0
    out = capsys.readouterr().out
    assert "1 created, 0 updated, 0 deleted" not in out
    assert "0 created, 1 updated, 1 deleted" in out
    found = held(client)
    assert set(found) == {"finance-total", "autotag-Alpha-NLP"}
    assert found["autotag-Alpha-NLP"]["BudgetLimit"]["Amount"] == "6000.00"
    assert alerts(client, "autotag-Alpha-NLP") == {
        ("FORECASTED", 80.0, "bob@example.com"),
        ("ACTUAL", 90.0, "bob@example.com"),
    }
    assert found["finance-total"]["BudgetLimit"]["Amount"] == "90000"  # untouched


def test_a_budget_that_counts_credits_is_brought_in_line(
    synced: tuple[Any, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    """One made before budgets left credits out, or changed by hand, is updated."""
    client, sync = synced
    budget = held(client)["autotag-Alpha-NLP"]
    budget["CostTypes"] = {**budget["CostTypes"], "IncludeCredit": True}
    client.update_budget(AccountId=ACCOUNT, NewBudget=budget)
    assert held(client)["autotag-Alpha-NLP"]["CostTypes"]["IncludeCredit"] is True
    capsys.readouterr()
    assert cli.main(sync) == 0
    assert "0 created, 1 updated, 0 deleted" in capsys.readouterr().out
    assert held(client)["autotag-Alpha-NLP"]["CostTypes"]["IncludeCredit"] is False


def test_an_address_added_by_hand_goes_and_the_owners_alert_stays(
    synced: tuple[Any, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Finding: the whole notification was deleted for the stranger, the owner's with it;
    then, an SNS subscriber was deleted as if it were an e-mail (AWS: not found)."""
    client, sync = synced
    actual = notification("ACTUAL", 100.0)
    topic = "arn:aws:sns:us-east-1:123456789012:finance-alerts"
    for channel, address in (("EMAIL", "stranger@example.com"), ("SNS", topic)):
        client.create_subscriber(
            AccountId=ACCOUNT,
            BudgetName="autotag-Alpha-NLP",
            Notification=actual,
            Subscriber={"SubscriptionType": channel, "Address": address},
        )
    assert ("ACTUAL", 100.0, topic) in alerts(client, "autotag-Alpha-NLP")
    capsys.readouterr()
    assert cli.main(sync) == 0
    assert "0 created, 1 updated, 0 deleted" in capsys.readouterr().out
    assert alerts(client, "autotag-Alpha-NLP") == {
        ("FORECASTED", 80.0, "alice@example.com"),
        ("ACTUAL", 100.0, "alice@example.com"),
    }


def test_a_budget_switched_to_planned_limits_gets_the_registrys_amount_back(
    synced: tuple[Any, list[str]],
) -> None:
    """Planned limits set by hand (next month 9,000) give way to the registry's amount."""
    client, sync = synced
    budget = held(client)["autotag-Alpha-NLP"]
    # AWS shows the current period's planned amount as BudgetLimit: here the registry's own
    budget["PlannedBudgetLimits"] = {"1798761600": {"Amount": "9000", "Unit": "USD"}}
    client.update_budget(AccountId=ACCOUNT, NewBudget=budget)
    assert cli.main(sync) == 0
    after = held(client)["autotag-Alpha-NLP"]
    assert after["BudgetLimit"]["Amount"] == "5000.00"
    assert "PlannedBudgetLimits" not in after


def test_a_new_owner_takes_over_an_alert_that_already_has_ten_subscribers(
    synced: tuple[Any, list[str]],
) -> None:
    """AWS allows 10 subscribers a notification: the old ones go before the new one comes,
    but the last, so the alert is never empty."""
    client, _ = synced
    forecast = notification("FORECASTED", 80.0)
    for n in range(9):
        client.create_subscriber(
            AccountId=ACCOUNT,
            BudgetName="autotag-Alpha-NLP",
            Notification=forecast,
            Subscriber={"SubscriptionType": "EMAIL", "Address": f"extra{n}@example.com"},
        )
    calls: list[tuple[str, str]] = []
    real_create, real_delete = client.create_subscriber, client.delete_subscriber

    def counting(kind: str, real: Any) -> Any:
        def call(**kwargs: Any) -> Any:
            calls.append((kind, kwargs["Subscriber"]["Address"]))
            held_now = client.describe_subscribers_for_notification(
                AccountId=ACCOUNT, BudgetName=kwargs["BudgetName"],
                Notification=kwargs["Notification"],
            )["Subscribers"]  # fmt: skip
            assert len(held_now) + (kind == "create") <= 10  # never over AWS's limit
            assert len(held_now) - (kind == "delete") >= 1  # never empty on the way
            return real(**kwargs)

        return call

    client.create_subscriber = counting("create", real_create)
    client.delete_subscriber = counting("delete", real_delete)
    text = EXAMPLE_REGISTRY.read_text().replace(
        "    owner: alice@example.com ", "    owner: bob@example.com "
    )
    projects = registry_file.parse_text(text, "registry.yaml").projects.values()
    steps = budgets.plan(budgets.wanted(projects), budgets.held(client, ACCOUNT))
    budgets.apply(client, ACCOUNT, steps)  # what `budgets sync` runs, with this client
    assert ("create", "bob@example.com") in calls
    assert calls[-1][0] == "delete"  # the last old subscriber goes after the new one came
    assert alerts(client, "autotag-Alpha-NLP") == {
        ("FORECASTED", 80.0, "bob@example.com"),
        ("ACTUAL", 100.0, "bob@example.com"),
    }
