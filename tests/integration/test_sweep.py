"""The reconciling sweep through its Lambda handler, against the emulator: bulk reads, the same
resolution path as the events, resuming after a timeout, and a second pass that does nothing."""

from __future__ import annotations

import copy
import json
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from app import lambda_handler
from autotag import identity, registry_file
from autotag.identity import Principal
from autotag.inventory import KINDS, LISTINGS, Inventory, Page, Position
from autotag.local_context import LocalContext
from autotag.state import StateTable
from autotag.sweep import LEASE_KEY, POSITION_KEY
from local import functions
from local.emulator import COMPLIANT_TAGS, Emulator, Stack
from local.faults import Faults
from tests.conftest import (
    ARN,
    EXAMPLE_REGISTRY,
    STUDIO_DOMAIN,
    ApiCalls,
    create_record,
    load_event,
    seed_from_event,
    tags_of,
)

pytestmark = pytest.mark.integration


REQUIRED = tuple(COMPLIANT_TAGS)
# Studio's system tags on a resource: kept, but they never name its creator (a caller can send
# them); the creator comes from a creator record or from CloudTrail.
ALICE = {"sagemaker:user-profile-arn": f"{ARN}:user-profile/{STUDIO_DOMAIN}/alice"}
DAVE = {"sagemaker:user-profile-arn": f"{ARN}:user-profile/{STUDIO_DOMAIN}/dave"}
ALICE_CALL = ("studio-source-identity_CreateTrainingJob", "bert-finetune-alice-0603")


def record_creator(stack: Stack, emulator: Emulator, arn: str, principal: Principal) -> None:
    """The creator the Create path records for `arn` (as if its Create event was handled)."""
    StateTable(emulator.dynamodb(), stack.state_table).record_creator(arn, principal)


class Account:
    """What was seeded, and what each resource should look like after a sweep."""

    def __init__(self) -> None:
        self.compliant: set[str] = set()
        self.completable: set[str] = set()  # every key can be answered
        self.incomplete: set[str] = set()  # some key nobody can answer

    @property
    def arns(self) -> set[str]:
        return self.compliant | self.completable | self.incomplete


def seed_account(emulator: Emulator, stack: Stack, training: int, others: int) -> Account:
    """`training` training jobs (a quarter compliant, the rest answerable by the Create call
    CloudTrail kept (alice's), the registry or their tuning job), `others` tuning jobs (half
    compliant, erin's by their creator records), endpoints (nobody to own them) and processing
    jobs (dave's by their creator records), with their tuning jobs' lineage."""
    account = Account()
    erin = identity.studio_user("erin", STUDIO_DOMAIN, "test")
    dave = identity.studio_user("dave", STUDIO_DOMAIN, "test")
    for i in range(others):
        arn = f"{ARN}:hyper-parameter-tuning-job/hpo-{i:04d}"
        tags = COMPLIANT_TAGS if i % 2 else {"Project": "Gamma-Vision", "Owner": "erin@example.com"}
        emulator.seed_resource(arn, tags)
        record_creator(stack, emulator, arn, erin)
        (account.compliant if i % 2 else account.completable).add(arn)
    for i in range(training):
        arn = f"{ARN}:training-job/job-{i:05d}"
        description: dict[str, Any] = {}
        match i % 4:
            case 0:
                tags = COMPLIANT_TAGS
            case 1:
                tags = ALICE
                emulator.seed_trail(create_record(arn, ALICE_CALL))
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
        record_creator(stack, emulator, job, dave)
        account.completable.add(job)
    return account


def seed_lineage_account(emulator: Emulator) -> dict[str, str]:
    """Resources with every kind of parent, and a space and an app (listed without ARNs).
    Returns what each untagged child should get as Project."""
    execution = f"{ARN}:pipeline/p1/execution/e1"
    seeds: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
        f"{ARN}:hyper-parameter-tuning-job/hpo": (
            {"Project": "Alpha-NLP", "Owner": "alice@example.com"}, {}),
        f"{ARN}:training-job/from-hpo": (
            {}, {"TuningJobArn": f"{ARN}:hyper-parameter-tuning-job/hpo"}),
        f"{ARN}:pipeline/p1": ({"Project": "Beta-Forecast"}, {}),
        execution: ({}, {"PipelineArn": f"{ARN}:pipeline/p1", "PipelineExecutionArn": execution,
                         "CreatedBy": {"UserProfileName": "dave"}}),
        f"{ARN}:processing-job/step": ({"sagemaker:pipeline-execution-arn": execution}, {}),
        f"{ARN}:model/m1": ({"Project": "Gamma-Vision", "Owner": "erin@example.com"}, {}),
        f"{ARN}:endpoint-config/c1": ({}, {"ProductionVariants": [{"ModelName": "m1"}]}),
        f"{ARN}:endpoint/e1": ({}, {"EndpointConfigName": "c1"}),
        f"{ARN}:space/{STUDIO_DOMAIN}/lab": ({"Project": "Gamma-Vision"}, {
            "DomainId": STUDIO_DOMAIN, "SpaceName": "lab",
            "OwnershipSettings": {"OwnerUserProfileName": "alice"}}),
        f"{ARN}:app/{STUDIO_DOMAIN}/lab/jupyterlab/default": ({}, {
            "DomainId": STUDIO_DOMAIN, "SpaceName": "lab", "AppType": "JupyterLab",
            "AppName": "default"}),
        f"{ARN}:app/{STUDIO_DOMAIN}/dave/jupyterserver/default": ({}, {
            "DomainId": STUDIO_DOMAIN, "UserProfileName": "dave", "AppType": "JupyterServer",
            "AppName": "default"}),
    }  # fmt: skip
    for resource, (tags, description) in seeds.items():
        emulator.seed_resource(resource, tags, description)
    # The step's Create call, kept by CloudTrail: SageMaker made it (invokedBy), so the tag
    # naming its pipeline execution is SageMaker's own, and the execution's starter its creator.
    step = ("pipeline-step_CreateProcessingJob", "pipelines-7x2kq9d1m4ab-Prepare-Data-3hT9")
    emulator.seed_trail(create_record(f"{ARN}:processing-job/step", step))
    return {
        f"{ARN}:training-job/from-hpo": "Alpha-NLP",
        f"{ARN}:processing-job/step": "Beta-Forecast",
        f"{ARN}:endpoint-config/c1": "Gamma-Vision",  # its model's, though ListEndpointConfigs
        f"{ARN}:endpoint/e1": "Gamma-Vision",  # does not name the models: it is described
        f"{ARN}:app/{STUDIO_DOMAIN}/lab/jupyterlab/default": "Gamma-Vision",
        f"{ARN}:app/{STUDIO_DOMAIN}/dave/jupyterserver/default": "Beta-Forecast",  # his profile
    }


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


@contextmanager
def denied(operation: str, limit: int | None = None) -> Iterator[Faults]:
    """`operation` answered with AccessDeniedException (the first `limit` times) meanwhile."""
    fault = Faults(frozenset({operation}), code="AccessDeniedException", limit=limit)
    assert boto3.DEFAULT_SESSION is not None
    fault.install(boto3.DEFAULT_SESSION.events)
    try:
        yield fault
    finally:
        fault.uninstall(boto3.DEFAULT_SESSION.events)


def calls_during(api_calls: ApiCalls, run: Any) -> tuple[Any, Counter[str]]:
    api_calls.seen.clear()
    result = run()
    return result, Counter(api_calls.seen)


def test_a_sweep_over_1000_resources_reads_in_bulk_and_fills_every_gap_it_can(
    emulator: Emulator,
    stack: Stack,
    sweep_handler: Any,
    api_calls: ApiCalls,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A gather slower than half a second reads the tags again under the lease (tested in
    # test_attribution.py and test_notices.py); on a loaded machine one of these 875 may be,
    # and the count below would be one more. Here no resource is read again.
    monkeypatch.setattr("autotag.apply._READ_AGAIN_AFTER", timedelta(hours=1))
    account = seed_account(emulator, stack, training=700, others=100)
    assert len(account.arns) == 1000

    summary, calls = calls_during(
        api_calls, lambda: sweep_handler({}, LocalContext(timeout_seconds=900))
    )

    handled = len(account.completable) + len(account.incomplete)
    assert summary["status"] == "done"
    assert summary["resources"] == 1000
    assert summary["compliant"] == len(account.compliant)
    assert summary["handled"] == {"tagged": len(account.completable), "incomplete": 100}
    # Bulk: 100 a page. 700 training jobs, 100 tuning jobs, 100 endpoints, no pipelines, no
    # feature groups.
    assert calls["sagemaker:Search"] == 7 + 1 + 1 + 1 + 1
    for listing in LISTINGS.values():  # every other kind: one page each (none has 100)
        if listing.operation != "search":
            assert calls[f"sagemaker:{listing.actions[0]}"] == 1, listing
    # One ListTags per listed (not searchable) resource, one per resource handled (a fresh
    # read; quickly decided, so not read again under the lease), two Studio profiles and the
    # tuning jobs read as parents; nothing for the compliant ones.
    parents = 25  # the tuning jobs the untagged training jobs point at, each read once
    assert calls["sagemaker:ListTags"] == 100 + handled + 2 + parents
    # A handled resource without a creator record and without Owner or Project is looked up
    # in CloudTrail by name (alice's jobs are found there; the tuning job's and the endpoints
    # are not; grace's carry both keys: their project's owner is told), and each Create call
    # is scanned by name once (3 pages of CreateTrainingJob, 1 of CreateEndpoint), cached.
    # The tuning jobs and processing jobs have creator records.
    assert calls["cloudtrail:LookupEvents"] == 2 * 175 + 100 + 3 + 1
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
    assert calls["sagemaker:Search"] == 11
    assert len(emulator.notifications(stack)) == told


def test_a_sweep_stopped_by_its_timeout_resumes_where_it_stopped(
    emulator: Emulator, stack: Stack, sweep_handler: Any
) -> None:
    account = seed_account(emulator, stack, training=250, others=30)

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
    seed_account(emulator, stack, training=8, others=2)
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


def test_the_sweep_finds_each_kind_of_parent(
    emulator: Emulator, stack: Stack, sweep_handler: Any
) -> None:
    expected = seed_lineage_account(emulator)

    summary = sweep_handler({}, LocalContext(timeout_seconds=900))

    assert summary["status"] == "done"
    assert {arn: tags_of(emulator, arn).get("Project") for arn in expected} == expected
    step = tags_of(emulator, f"{ARN}:processing-job/step")
    assert step["Owner"] == "dave@example.com"  # who started the pipeline
    app = tags_of(emulator, f"{ARN}:app/{STUDIO_DOMAIN}/lab/jupyterlab/default")
    assert app["Owner"] == "alice@example.com"  # the space's owner
    own = tags_of(emulator, f"{ARN}:app/{STUDIO_DOMAIN}/dave/jupyterserver/default")
    assert own["Owner"] == "dave@example.com"  # the user profile's person
    assert own["Team"] == "forecasting"  # from his profile


def test_one_resource_that_fails_does_not_hold_up_the_rest(
    emulator: Emulator, stack: Stack, sweep_handler: Any
) -> None:
    account = seed_account(emulator, stack, training=8, others=2)
    with denied("sagemaker.AddTags", limit=1):
        summary = sweep_handler({}, LocalContext(timeout_seconds=900))

    assert summary["status"] == "done"
    (failure,) = summary["failed"]
    assert "denied" in failure
    handled = sum(summary["handled"].values())
    assert handled == len(account.completable) + len(account.incomplete) - 1


def test_a_kind_that_cannot_be_listed_is_skipped_and_the_rest_is_swept(
    emulator: Emulator, stack: Stack, sweep_handler: Any
) -> None:
    seed_account(emulator, stack, training=4, others=2)
    emulator.seed_resource(f"{ARN}:model/m-untagged", {})
    with denied("sagemaker.ListModels"):
        summary = sweep_handler({}, LocalContext(timeout_seconds=900))

    assert summary["status"] == "done"
    (skipped,) = summary["skipped_kinds"]
    assert skipped.startswith("model: ")
    assert summary["resources"] == 4 + 2 * 3  # every kind but the models
    assert "ML-Phase" not in tags_of(emulator, f"{ARN}:model/m-untagged")


def test_a_run_while_another_holds_the_lease_does_nothing(
    emulator: Emulator, stack: Stack, sweep_handler: Any
) -> None:
    seed_account(emulator, stack, training=4, others=2)
    far = str(int(time.time()) + 600)
    emulator.dynamodb().put_item(
        TableName=stack.state_table,
        Item={"pk": {"S": LEASE_KEY}, "expires": {"N": far}},
    )

    summary = sweep_handler({}, LocalContext(timeout_seconds=900))

    assert summary["status"] == "busy"
    assert summary["resources"] == 0


def test_a_dry_run_sweep_leaves_the_work_to_the_next_real_one(
    emulator: Emulator, stack: Stack, sweep_handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = seed_account(emulator, stack, training=8, others=2)
    monkeypatch.setenv("MODE", "dry-run")
    functions.module("sweep").sweep.cache_clear()
    dry = sweep_handler({}, LocalContext(timeout_seconds=900))
    monkeypatch.setenv("MODE", "enforce")
    functions.module("sweep").sweep.cache_clear()

    real = sweep_handler({}, LocalContext(timeout_seconds=900))

    to_do = len(account.completable) + len(account.incomplete)
    assert dry["handled"] == {"dry-run": to_do}
    assert real["handled"] == {"tagged": len(account.completable), "incomplete": 2}
    assert real["unchanged"] == 0


def test_keys_removed_under_a_report_only_policy_stay_off(
    emulator: Emulator, stack: Stack, sweep_handler: Any
) -> None:
    text = EXAMPLE_REGISTRY.read_text().replace("drift: repair", "drift: report-only")
    registry_file.sync_table(
        emulator.dynamodb(), stack.registry_table, registry_file.parse_text(text)
    )
    event = load_event("drift_DeleteTags")
    seed_from_event(emulator, event)
    arn = f"{ARN}:endpoint/churn-prod"
    assert lambda_handler(event, LocalContext())["status"] == "dry-run"

    summary = sweep_handler({}, LocalContext(timeout_seconds=900))

    tags = tags_of(emulator, arn)
    assert "Project" not in tags  # removed on purpose: the sweep does not put it back
    assert "CostCenter" not in tags
    assert tags["ML-Phase"] == "Inference"  # what nobody removed is still filled
    assert summary["handled"]


def test_removing_a_key_the_policy_does_not_require_changes_nothing(
    emulator: Emulator, stack: Stack
) -> None:
    event = copy.deepcopy(load_event("drift_DeleteTags"))
    event["detail"]["requestParameters"]["tagKeys"] = ["Reviewed"]
    seed_from_event(emulator, event)

    summary = lambda_handler(event, LocalContext())

    assert summary["status"] == "unaffected"
    assert emulator.notifications(stack) == []


def test_a_listed_resource_that_cannot_be_read_is_noted_and_passed(
    emulator: Emulator, stack: Stack, sweep_handler: Any
) -> None:
    seed_lineage_account(emulator)
    with denied("sagemaker.DescribeSpace"):
        summary = sweep_handler({}, LocalContext(timeout_seconds=900))

    assert summary["status"] == "done"
    assert any(entry.startswith("lab: ") for entry in summary["failed"])  # the listed space
    assert any("jupyterlab/default" in entry for entry in summary["failed"])  # its app
    # The rest is swept: the endpoint got its project through its config and model.
    assert tags_of(emulator, f"{ARN}:endpoint/e1")["Project"] == "Gamma-Vision"


class RefusingTokens(Inventory):
    """SageMaker refusing every page token: an account whose listing keeps changing."""

    def page(self, position: Position) -> Page:
        if position.token:
            raise ClientError({"Error": {"Code": "ValidationException"}}, "Search")
        return super().page(position)


def test_a_kind_whose_tokens_keep_being_refused_is_left_for_the_next_pass(
    emulator: Emulator, stack: Stack, sweep_handler: Any
) -> None:
    for i in range(150):  # two pages of training jobs
        emulator.seed_resource(f"{ARN}:training-job/refused-{i:03d}", dict(COMPLIANT_TAGS))
    emulator.seed_resource(f"{ARN}:endpoint/after-them", {})
    sweep = functions.module("sweep").sweep()
    sweep._inventory = RefusingTokens(emulator.sagemaker(), sweep._tagger.gatherer.resources)

    summary = sweep.run(lambda: 900.0, LocalContext(timeout_seconds=900))

    assert summary["status"] == "done"  # not stuck on the training jobs
    assert summary["skipped_kinds"] == ["training-job: its page token was refused"]
    # Their first page, again after the one restart, then the rest of the walk.
    assert summary["resources"] == 100 + 100 + 1
    assert "ML-Phase" in tags_of(emulator, f"{ARN}:endpoint/after-them")


def test_an_incomplete_resource_is_raised_again_after_reminder_days(
    emulator: Emulator, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not whenever some record expires: once when found, then after `ReminderDays`."""
    from autotag.settings import Settings  # noqa: PLC0415
    from autotag.sweep import Sweep  # noqa: PLC0415

    monkeypatch.setenv("NOTIFY_WINDOW_SECONDS", "0")  # every raising is one message
    monkeypatch.setenv("REMINDER_DAYS", "7")
    endpoint = f"{ARN}:endpoint/nobody-owns-it"
    emulator.seed_resource(endpoint, {})  # no creator anywhere: it stays incomplete
    start = time.time()
    now = [start]
    settings = Settings.from_env()
    built = Sweep.from_settings(settings, lambda *_: None)
    sweep = Sweep(
        inventory=built._inventory,  # the deployed parts, with a test clock
        tagger=built._tagger,
        dynamodb=emulator.dynamodb(),
        table=stack.state_table,
        reminder_seconds=settings.reminder_days * 86400,
        clock=lambda: now[0],
    )
    raised: list[tuple[float, int, int]] = []
    for days in (0, 1, 6, 7.01, 8):
        now[0] = start + days * 86400
        summary = sweep.run(lambda: 900.0, LocalContext(timeout_seconds=900))
        notes = [n for n in emulator.notifications(stack) if endpoint in n.body]
        raised.append((days, summary["handled"].get("incomplete", 0), len(notes)))
    assert [(days, told) for days, _, told in raised] == [
        (0, 1),  # found: told
        (1, 0),  # the next day: passed by
        (6, 0),
        (7.01, 1),  # ReminderDays later: told again
        (8, 0),
    ]
    assert [handled for _, handled, _ in raised] == [1, 0, 0, 1, 0]
