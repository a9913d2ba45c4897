"""The monthly showback function against the emulator: each project owner gets last month's
figures of their projects, once, whatever fails on the way."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest

from autotag import cli
from autotag.costs import CostsError
from autotag.local_context import LocalContext
from autotag.showback import Ledger, ledger_key
from local import cost_explorer, functions
from local.emulator import Emulator, Notification, Stack
from local.faults import Faults
from tests.conftest import ApiCalls
from tests.integration.test_costs import LINES
from tests.template.test_template import SHOWBACK, SHOWBACK_DECLARED, code_actions

pytestmark = pytest.mark.integration

# The month of tests/integration/test_costs.py: in November, Alpha-NLP 900 training (tag) + 300
# hosting, Beta-Forecast 150 hosting + 50 processing, 100 nobody's, a credit, S3; October 5,000.
# The example registry: Alpha-NLP (alice, budget 5,000), Beta-Forecast (grace, budget 2,000),
# Gamma-Vision (erin, no budget).
SCHEDULED = {"source": "aws.events", "time": "2026-12-03T08:00:00Z"}  # reports November


@pytest.fixture
def showback(
    emulator: Emulator, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    del emulator, stack
    cost_explorer.seed(LINES)
    cost_explorer.seed_tags({"Project": "Active"})
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda _: None))
    module = functions.module("showback")
    module.showback.cache_clear()
    yield module
    module.showback.cache_clear()
    cost_explorer.seed([])
    cost_explorer.seed_tags({})
    cost_explorer.refuse_tags(False)


@pytest.fixture
def faults() -> Iterator[list[Faults]]:
    installed: list[Faults] = []
    yield installed
    assert boto3.DEFAULT_SESSION is not None
    for fault in installed:
        fault.uninstall(boto3.DEFAULT_SESSION.events)


def fail(installed: list[Faults], operation: str, *, limit: int, after: int = 0) -> Faults:
    fault = Faults(frozenset({operation}), code="AccessDeniedException", limit=limit, after=after)
    assert boto3.DEFAULT_SESSION is not None
    fault.install(boto3.DEFAULT_SESSION.events)
    installed.append(fault)
    return fault


def run(module: ModuleType, event: dict[str, Any] = SCHEDULED) -> dict[str, Any]:
    summary: dict[str, Any] = module.lambda_handler(event, LocalContext(timeout_seconds=900))
    return summary


def by_reader(notes: list[Notification]) -> dict[str, Notification]:
    found = {note.recipient: note for note in notes}
    assert len(found) == len(notes), "one message per owner"
    return found


def test_each_owner_gets_last_months_figures_by_phase_once(
    showback: ModuleType, emulator: Emulator, stack: Stack, api_calls: ApiCalls
) -> None:
    api_calls.seen.clear()
    summary = run(showback)
    assert summary | {"failed": [], "left": 0} == summary
    assert (summary["month"], summary["owners"], summary["sent"]) == ("2026-11", 3, 3)
    notes = by_reader(emulator.notifications(stack))
    assert set(notes) == {"alice@example.com", "grace@example.com", "erin@example.com"}

    alice = notes["alice@example.com"]
    assert alice.subject == "[autotag] Alpha-NLP: SageMaker spend in November 2026: $1,200.00"
    assert alice.attributes["outcome"] == "showback"
    body = alice.body
    # the credit (-200), the S3 line (40) and October (5,000) are not November's SageMaker spend
    assert "Alpha-NLP: $1,200.00\n" in body
    assert re.search(r"Training +\$900\.00 +by its ML-Phase tag", body)
    assert re.search(r"Inference +\$300\.00 +by the usage type \(no ML-Phase tag\)", body)
    assert "budget $5,000.00 a month: 24% of it spent" in body
    assert "6.7% of SageMaker spend carried no Project tag" in body  # 100 of 1,500
    assert "1,500" not in body  # nobody else's figures, nor the account's total
    assert "Beta-Forecast" not in body
    assert "autotag costs --month 2026-11 --project Alpha-NLP --by phase" in body

    grace = notes["grace@example.com"].body
    assert "Beta-Forecast: $200.00\n" in grace
    assert re.search(r"Inference +\$150\.00", grace)
    assert re.search(r"Preprocessing +\$50\.00", grace)
    assert "budget $2,000.00 a month: 10% of it spent" in grace
    erin = notes["erin@example.com"].body
    assert "Gamma-Vision: $0.00" in erin
    assert "no SageMaker spend carried this project's tag" in erin

    # the account's spend by project is asked once a run, each project's phases once
    assert api_calls.seen.count("ce:GetCostAndUsage") == 1 + 3
    assert set(api_calls.seen) == code_actions(SHOWBACK) == SHOWBACK_DECLARED

    ledger = emulator.dynamodb().scan(TableName=stack.state_table)["Items"]
    marks = [item for item in ledger if item["pk"]["S"].startswith("showback#2026-11#")]
    assert len(marks) == 3
    assert all("sent" in item and "lease_ends" not in item for item in marks)
    assert not any("@" in item["pk"]["S"] for item in marks)  # owners by hash, not address

    again = run(showback)  # the schedule's retry, or a second invocation: nothing twice
    assert (again["sent"], again["already"]) == (0, 3)
    assert emulator.notifications(stack) == []


def test_a_failed_publish_costs_only_its_owner_and_the_retry_sends_just_that_one(
    showback: ModuleType, emulator: Emulator, stack: Stack, faults: list[Faults]
) -> None:
    refused = fail(faults, "sns.Publish", limit=1, after=1)  # the second owner's message
    with pytest.raises(showback.ShowbackIncompleteError, match="1 failed"):
        run(showback)
    assert sum(refused.failed.values()) == 1
    first = by_reader(emulator.notifications(stack))
    assert len(first) == 2
    retry = run(showback)  # Lambda's retry of the scheduled invocation
    assert (retry["sent"], retry["already"]) == (1, 2)
    second = by_reader(emulator.notifications(stack))
    assert set(first) | set(second) == {
        "alice@example.com",
        "grace@example.com",
        "erin@example.com",
    }
    assert not set(first) & set(second)


def sent_marks(emulator: Emulator, stack: Stack) -> list[str]:
    items = emulator.dynamodb().scan(TableName=stack.state_table)["Items"]
    return [i["pk"]["S"] for i in items if i["pk"]["S"].startswith("showback#") and "sent" in i]


def test_an_owner_another_run_holds_is_left_to_the_retry_not_counted_sent(
    showback: ModuleType, emulator: Emulator, stack: Stack
) -> None:
    """Finding: a lease left by a run that died read as "already": that owner got nothing."""
    held = ledger_key(date(2026, 11, 1), "grace@example.com")
    assert isinstance(Ledger(emulator.dynamodb(), stack.state_table).take(held, 0), dict)
    with pytest.raises(showback.ShowbackIncompleteError, match="0 failed, 1 not sent yet"):
        run(showback)
    assert set(by_reader(emulator.notifications(stack))) == {
        "alice@example.com",
        "erin@example.com",
    }
    time.sleep(2.1)  # the dead run's lease runs out
    retry = run(showback)
    assert (retry["sent"], retry["already"], retry["left"]) == (1, 2, 0)
    assert set(by_reader(emulator.notifications(stack))) == {"grace@example.com"}
    assert len(sent_marks(emulator, stack)) == 3


@pytest.mark.parametrize(("status", "said"), [("Inactive", "Inactive"), (None, "unseen")])
def test_nothing_goes_out_while_project_is_not_active_for_cost_allocation(
    showback: ModuleType, emulator: Emulator, stack: Stack, status: str | None, said: str
) -> None:
    """Finding: before activation Cost Explorer groups the whole bill as `Project$`: every
    owner would read $0.00 and the account 100 % unallocated."""
    cost_explorer.seed_tags({"Project": status} if status else {})
    with pytest.raises(CostsError, match=f"Project tag key is {said}.*autotag activate"):
        run(showback)
    assert emulator.notifications(stack) == []
    assert sent_marks(emulator, stack) == []


def test_a_member_account_that_may_not_read_the_keys_status_still_sends(
    showback: ModuleType, emulator: Emulator, stack: Stack
) -> None:
    cost_explorer.refuse_tags(True)  # ListCostAllocationTags: AccessDenied
    assert run(showback)["sent"] == 3
    assert len(emulator.notifications(stack)) == 3


def test_a_month_not_over_is_refused(
    showback: ModuleType, emulator: Emulator, stack: Stack
) -> None:
    """Finding: sent and marked mid-month, partial figures stood for the month."""
    this_month = datetime.now(UTC).strftime("%Y-%m")
    with pytest.raises(CostsError, match=f"{this_month} is not over"):
        run(showback, {"month": this_month})
    assert emulator.notifications(stack) == []
    assert sent_marks(emulator, stack) == []


def test_projects_the_registry_lost_are_named_not_skipped_in_silence(
    showback: ModuleType, emulator: Emulator, stack: Stack
) -> None:
    emulator.dynamodb().delete_item(
        TableName=stack.registry_table, Key={"pk": {"S": "project#Gamma-Vision"}}
    )
    summary = run(showback)
    assert summary["missing"] == ["Gamma-Vision"]
    assert (summary["owners"], summary["sent"]) == (2, 2)


def test_cost_explorer_refusing_sends_nothing_and_marks_nothing(
    showback: ModuleType, emulator: Emulator, stack: Stack, faults: list[Faults]
) -> None:
    fail(faults, "ce.GetCostAndUsage", limit=100)
    with pytest.raises(showback.ShowbackIncompleteError, match="3 failed"):
        run(showback)
    assert emulator.notifications(stack) == []
    assert sent_marks(emulator, stack) == []
    for fault in faults:
        assert boto3.DEFAULT_SESSION is not None
        fault.uninstall(boto3.DEFAULT_SESSION.events)
    faults.clear()
    showback.showback.cache_clear()  # a new container: clients without the fault
    assert run(showback)["sent"] == 3  # the leases were given back: no wait


def test_an_operator_may_send_a_named_month(
    showback: ModuleType, emulator: Emulator, stack: Stack
) -> None:
    summary = run(showback, {"month": "2026-10"})
    assert (summary["month"], summary["sent"]) == ("2026-10", 3)
    alice = by_reader(emulator.notifications(stack))["alice@example.com"]
    assert alice.subject == "[autotag] Alpha-NLP: SageMaker spend in October 2026: $5,000.00"
    assert re.search(r"Training +\$5,000\.00 +by the usage type", alice.body)
    assert run(showback)["sent"] == 3  # November is another month: its messages go too


def test_an_operator_previews_the_messages_without_sending_or_marking(
    showback: ModuleType, emulator: Emulator, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    del showback
    capsys.readouterr()
    args = ["showback", "--month", "2026-11", "--table", stack.registry_table]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert out.count("To: ") == 3
    assert "Subject: [autotag] Alpha-NLP: SageMaker spend in November 2026: $1,200.00" in out
    assert "3 messages for 2026-11, not sent" in out
    assert emulator.notifications(stack) == []
    assert sent_marks(emulator, stack) == []
    this_month = datetime.now(UTC).strftime("%Y-%m")
    assert cli.main(["showback", "--month", this_month, "--table", stack.registry_table]) == 2
    assert "is not over" in capsys.readouterr().err
