"""The reconciling sweep through its Lambda handler, against the emulator: bulk reads, the same
resolution path as the events, resuming after a timeout, and a second pass that does nothing."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from autotag.inventory import KINDS, LISTINGS
from autotag.local_context import LocalContext
from autotag.sweep import POSITION_KEY
from local import functions
from local.emulator import Emulator, Stack
from tests.conftest import ARN, COMPLIANT_TAGS, STUDIO_DOMAIN, ApiCalls, tags_of

pytestmark = pytest.mark.integration


REQUIRED = tuple(COMPLIANT_TAGS)
ALICE = {"sagemaker:user-profile-arn": f"{ARN}:user-profile/{STUDIO_DOMAIN}/alice"}
DAVE = {"sagemaker:user-profile-arn": f"{ARN}:user-profile/{STUDIO_DOMAIN}/dave"}


class Account:
    """What was seeded, and what each resource should look like after a sweep."""

    def __init__(self) -> None:
        self.compliant: set[str] = set()
        self.completable: set[str] = set()  # every key can be answered
        self.incomplete: set[str] = set()  # some key nobody can answer

    @property
    def arns(self) -> set[str]:
        return self.compliant | self.completable | self.incomplete


def seed_account(emulator: Emulator, training: int, others: int) -> Account:
    """`training` training jobs (a quarter compliant, the rest answerable by a Studio profile,
    the registry or their tuning job), `others` tuning jobs (half compliant), endpoints
    (nobody to own them) and processing jobs (Studio), with their tuning jobs' lineage."""
    account = Account()
    for i in range(others):
        arn = f"{ARN}:hyper-parameter-tuning-job/hpo-{i:04d}"
        tags = COMPLIANT_TAGS if i % 2 else {"Project": "Gamma-Vision", "Owner": "erin@example.com"}
        emulator.seed_resource(arn, tags)
        (account.compliant if i % 2 else account.completable).add(arn)
    for i in range(training):
        arn = f"{ARN}:training-job/job-{i:05d}"
        description: dict[str, Any] = {}
        match i % 4:
            case 0:
                tags = COMPLIANT_TAGS
            case 1:
                tags = ALICE
            case 2:
                tags = {"Project": "Beta-Forecast", "Owner": "grace@example.com"}
            case _:
                tags = {}
                tuning = f"{ARN}:hyper-parameter-tuning-job/hpo-{2 * (i % max(others // 2, 1)):04d}"
                description = {"TuningJobArn": tuning}
        emulator.seed_resource(arn, tags, description)
        (account.compliant if i % 4 == 0 else account.completable).add(arn)
    for i in range(others):
        endpoint = f"{ARN}:endpoint/ep-{i:04d}"
        emulator.seed_resource(endpoint, {})
        account.incomplete.add(endpoint)
        job = f"{ARN}:processing-job/prep-{i:04d}"
        emulator.seed_resource(job, DAVE)
        account.completable.add(job)
    return account


@pytest.fixture
def sweep_handler(stack: Stack) -> Iterator[Any]:
    module = functions.module("sweep")
    module.sweep.cache_clear()
    yield module.lambda_handler
    module.sweep.cache_clear()


class Countdown(LocalContext):
    """A Lambda context whose remaining time runs out after `checks` looks at it."""

    def __init__(self, checks: int) -> None:
        super().__init__(timeout_seconds=900)
        self.checks = checks

    def get_remaining_time_in_millis(self) -> int:
        self.checks -= 1
        return 900_000 if self.checks > 0 else 30_000  # below the 60 s margin


def calls_during(api_calls: ApiCalls, run: Any) -> tuple[Any, Counter[str]]:
    api_calls.seen.clear()
    result = run()
    return result, Counter(api_calls.seen)


def test_a_sweep_over_1000_resources_reads_in_bulk_and_fills_every_gap_it_can(
    emulator: Emulator, stack: Stack, sweep_handler: Any, api_calls: ApiCalls
) -> None:
    account = seed_account(emulator, training=700, others=100)
    assert len(account.arns) == 1000

    summary, calls = calls_during(
        api_calls, lambda: sweep_handler({}, LocalContext(timeout_seconds=900))
    )

    handled = len(account.completable) + len(account.incomplete)
    assert summary["status"] == "done"
    assert summary["resources"] == 1000
    assert summary["compliant"] == len(account.compliant)
    assert summary["handled"] == {"tagged": len(account.completable), "incomplete": 100}
    # Bulk: 100 a page. 700 training jobs, 100 tuning jobs, 100 endpoints, no pipelines.
    assert calls["sagemaker:Search"] == 7 + 1 + 1 + 1
    for listing in LISTINGS.values():  # every other kind: one page each (none has 100)
        if listing.operation != "search":
            assert calls[f"sagemaker:{listing.actions[0]}"] == 1, listing
    # One ListTags per listed (not searchable) resource, one per resource handled (a fresh read
    # before writing), two Studio profiles and the tuning jobs read as parents; nothing for the
    # compliant ones.
    parents = 25  # the tuning jobs the untagged training jobs point at, each read once
    assert calls["sagemaker:ListTags"] == 100 + handled + 2 + parents
    assert calls["sagemaker:AddTags"] == handled  # the endpoints still get Environment/ML-Phase
    sagemaker = sum(n for call, n in calls.items() if call.startswith("sagemaker:"))
    print(
        json.dumps(
            {
                "resources": 1000,
                "compliant_before": len(account.compliant),
                "handled": handled,
                "sagemaker_calls": sagemaker,
                "by_call": {k: v for k, v in sorted(calls.items()) if k.startswith("sagemaker:")},
            }
        )
    )

    for arn in account.completable:
        tags = tags_of(emulator, arn)
        assert all(tags.get(key) for key in REQUIRED), arn
    inherited = tags_of(emulator, f"{ARN}:training-job/job-00003")
    assert inherited["Project"] == "Gamma-Vision"  # from its tuning job hpo-0006
    assert inherited["Owner"] == "erin@example.com"
    for arn in account.incomplete:
        assert "Owner" not in tags_of(emulator, arn)
    assert emulator.notifications(stack)  # the people were told (one digest per window)

    # A second pass over the unchanged account: bulk reads only; nothing written or told.
    told = len(emulator.notifications(stack))
    again, calls = calls_during(
        api_calls, lambda: sweep_handler({}, LocalContext(timeout_seconds=900))
    )
    assert again["status"] == "done"
    assert again["compliant"] == len(account.compliant) + len(account.completable)
    assert again["unchanged"] == len(account.incomplete)
    assert again["handled"] == {}
    assert calls["sagemaker:AddTags"] == 0
    assert calls["sns:Publish"] == 0
    assert calls["sagemaker:ListTags"] == 100  # the processing jobs' tags: no bulk read there
    assert calls["sagemaker:Search"] == 10
    assert len(emulator.notifications(stack)) == told


def test_a_sweep_stopped_by_its_timeout_resumes_where_it_stopped(
    emulator: Emulator, stack: Stack, sweep_handler: Any
) -> None:
    account = seed_account(emulator, training=250, others=30)

    first = sweep_handler({}, Countdown(checks=250))

    assert first["status"] == "paused"
    saved = emulator.dynamodb().get_item(
        TableName=stack.state_table, Key={"pk": {"S": POSITION_KEY}}
    )["Item"]
    assert saved["kind"]["S"] == first["next"]["kind"] == "training-job"
    assert first["next"]["token"]  # inside the training jobs, not at their start

    second = sweep_handler({}, LocalContext(timeout_seconds=900))

    assert second["status"] == "done"
    assert second["resumed_from"] == first["next"]
    assert "Item" not in emulator.dynamodb().get_item(
        TableName=stack.state_table, Key={"pk": {"S": POSITION_KEY}}
    )
    # Every resource was seen once, but for the page the first run stopped inside, which the
    # second run reads again: what the first run handled there it passes by.
    both = sum(first["handled"].values()) + sum(second["handled"].values())
    assert both == len(account.completable) + len(account.incomplete)
    redone = first["resources"] + second["resources"] - len(account.arns)
    assert 0 < redone <= 100
    assert second["unchanged"] + second["compliant"] >= redone
    for arn in account.completable:
        assert all(tags_of(emulator, arn).get(key) for key in REQUIRED), arn


def test_a_refused_page_token_starts_its_kind_over(
    emulator: Emulator, stack: Stack, sweep_handler: Any
) -> None:
    seed_account(emulator, training=8, others=2)
    emulator.dynamodb().put_item(
        TableName=stack.state_table,
        Item={"pk": {"S": POSITION_KEY}, "kind": {"S": "endpoint"}, "token": {"S": "expired"}},
    )

    summary = sweep_handler({}, LocalContext(timeout_seconds=900))

    assert summary["status"] == "done"
    assert summary["resumed_from"] == {"kind": "endpoint", "token": "expired"}
    # From the endpoints on: 2 endpoints, then the kinds after them (2 processing jobs come
    # before the endpoints in the walk, so they are not seen).
    order = [spec.kind for spec in KINDS]
    assert order.index("processing-job") < order.index("endpoint")
    assert summary["resources"] == 2
