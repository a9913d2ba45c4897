"""The real `lambda_handler` against the local emulator, for every event of the corpus."""

from __future__ import annotations

import copy
import io
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.exceptions import ClientError

from app import lambda_handler
from autotag import registry_file
from autotag.state import LockBusyError
from local.emulator import COMPLIANT_TAGS, Emulator, Stack
from local.faults import Faults
from tests.conftest import (
    EXAMPLE_REGISTRY,
    ApiCalls,
    FakeContext,
    corpus_names,
    load_event,
    seed_from_event,
    tags_of,
)
from tests.unit.test_events import MALFORMED

pytestmark = pytest.mark.integration

ALPHA = {"Project": "Alpha-NLP", "CostCenter": "CC-1001", "Team": "nlp"}
BETA = {"Project": "Beta-Forecast", "CostCenter": "CC-2002", "Team": "forecasting"}
GAMMA = {"Project": "Gamma-Vision", "CostCenter": "CC-3003", "Team": "vision"}
PERSON = "registry person"
PROJECT = "registry project"
PROFILE = "Studio user profile"
DEFAULTS = "registry defaults"
EVENT = "event"


def via(tags: dict[str, str], sources: dict[str, str]) -> dict[str, tuple[str, str]]:
    return {key: (value, sources[key]) for key, value in tags.items()}


def from_project(project: dict[str, str], project_source: str) -> dict[str, tuple[str, str]]:
    name = project["Project"]
    return via(
        project,
        {"Project": project_source, "CostCenter": f"{PROJECT} {name}", "Team": f"{PROJECT} {name}"},
    )


def project_sources(project: dict[str, str]) -> dict[str, str]:
    """CostCenter and Team from the registry's project."""
    name = project["Project"]
    return {"CostCenter": f"{PROJECT} {name}", "Team": f"{PROJECT} {name}"}


# dave's profile names the project; the project its cost center and team (the profile's team
# only fills keys the project leaves open); his registry entry the environment
DAVE = {
    "Project": ("Beta-Forecast", f"{PROFILE} dave"),
    "CostCenter": ("CC-2002", f"{PROJECT} Beta-Forecast"),
    "Team": ("forecasting", f"{PROJECT} Beta-Forecast"),
}


def made(
    owner: str | None, phase: str, environment: tuple[str, str] | None = ("Development", DEFAULTS)
) -> dict[str, tuple[str, str]]:
    """Owner and ML-Phase from the event, Environment as given (None: the request had it)."""
    found = {"Owner": (owner, EVENT)} if owner else {}
    found |= {"Environment": environment} if environment else {}
    return found | {"ML-Phase": (phase, EVENT)}


# event -> (status, recipient, added {key: (value, source)}, still missing)
EXPECTED: dict[str, tuple[str, str | None, dict[str, tuple[str, str]], list[str]]] = {
    "studio-source-identity_CreateTrainingJob": (
        "tagged",
        "alice@example.com",
        from_project(ALPHA, f"{PROFILE} alice") | made("alice@example.com", "Training"),
        [],
    ),
    "studio-profile-tag_CreateProcessingJob": (
        "tagged",
        "dave@example.com",
        DAVE | made("dave@example.com", "Preprocessing", ("Staging", f"{PERSON} dave")),
        [],
    ),
    "studio-source-identity_CreateApp": (
        "tagged",
        "dave@example.com",
        DAVE | made("dave@example.com", "Development", ("Staging", f"{PERSON} dave")),
        [],
    ),
    "studio_CreateAutoMLJobV2": (
        "tagged",
        "alice@example.com",
        from_project(ALPHA, f"{PROFILE} alice") | made("alice@example.com", "Training"),
        [],
    ),
    "studio_CreateSpace": (
        "tagged",
        "alice@example.com",
        from_project(ALPHA, f"{PROFILE} alice") | made("alice@example.com", "Development"),
        [],
    ),
    "sso_CreateTransformJob": (  # the request named the project
        "tagged",
        "carol@example.com",
        {
            "CostCenter": ("CC-2002", f"{PROJECT} Beta-Forecast"),
            "Team": ("forecasting", f"{PROJECT} Beta-Forecast"),
            "Owner": ("carol@example.com", EVENT),
            "Environment": ("Development", DEFAULTS),
            "ML-Phase": ("Inference", EVENT),
        },
        [],
    ),
    "sso_CreateAutoMLJob": (
        "tagged",
        "carol@example.com",
        from_project(BETA, f"{PERSON} carol") | made("carol@example.com", "Training"),
        [],
    ),
    "sso_CreateNotebookInstance": (  # Environment=development is kept as it is
        "tagged",
        "carol@example.com",
        from_project(BETA, f"{PERSON} carol")
        | {"Owner": ("carol@example.com", EVENT), "ML-Phase": ("Development", EVENT)},
        [],
    ),
    "iam-user_CreateEndpoint": (
        "tagged",
        "bob@example.com",
        from_project(ALPHA, f"{PERSON} bob") | made("bob@example.com", "Inference"),
        [],
    ),
    "iam-user_CreateInferenceComponent": (
        "tagged",
        "bob@example.com",
        from_project(ALPHA, f"{PERSON} bob") | made("bob@example.com", "Inference"),
        [],
    ),
    "role-session_CreateHyperParameterTuningJob": (  # the request set Environment
        "tagged",
        "erin@example.com",
        from_project(GAMMA, f"{PERSON} erin")
        | {"Owner": ("erin@example.com", EVENT), "ML-Phase": ("Training", EVENT)},
        [],
    ),
    "role-session_CreateMonitoringSchedule": (
        "tagged",
        "erin@example.com",
        from_project(GAMMA, f"{PERSON} erin") | made("erin@example.com", "Inference"),
        [],
    ),
    "ci-role_CreateModel": (
        "tagged",
        "mlops@example.com",
        from_project(GAMMA, f"{PERSON} github-mlops-deploy")
        | {
            "Owner": ("mlops@example.com", EVENT),
            "Environment": ("Production", f"{PERSON} github-mlops-deploy"),
            "ML-Phase": ("Inference", EVENT),
        },
        [],
    ),
    "ci-role_CreatePipeline": (
        "tagged",
        "mlops@example.com",
        from_project(GAMMA, f"{PERSON} github-mlops-deploy")
        | {
            "Owner": ("mlops@example.com", EVENT),
            "Environment": ("Production", f"{PERSON} github-mlops-deploy"),
            "ML-Phase": ("Training", EVENT),
        },
        [],
    ),
    "execution-role_CreateEndpointConfig": (  # session "SageMaker" names nobody: no Owner
        "incomplete",
        "admin",
        {"Environment": ("Development", DEFAULTS), "ML-Phase": ("Inference", EVENT)},
        ["Project", "CostCenter", "Team", "Owner"],
    ),
    "service_CreateCompilationJob": (
        "incomplete",
        "admin",
        {"Environment": ("Development", DEFAULTS), "ML-Phase": ("Training", EVENT)},
        ["Project", "CostCenter", "Team", "Owner"],
    ),
    "unknown-user_CreateLabelingJob": (
        "incomplete",
        "admin",
        {
            "Owner": ("frank", EVENT),
            "Environment": ("Development", DEFAULTS),
            "ML-Phase": ("Preprocessing", EVENT),
        },
        ["Project", "CostCenter", "Team"],
    ),
    "compliant_CreateTrainingJob": ("compliant", None, {}, []),
    "wrong-case_CreateTrainingJob": (
        "tagged",
        "bob@example.com",
        from_project(GAMMA, "resource tag 'project'")
        | {
            "Owner": ("bob@example.com", EVENT),
            "Environment": ("Production", "resource tag 'environment'"),
            "ML-Phase": ("Training", EVENT),
        },
        [],
    ),
    "bad-values_CreateProcessingJob": (
        "incomplete",
        "admin",
        {
            "Team": ("search ranking and recommendations " + "x" * 221, "resource tag 'team'"),
            "Owner": ("lee sam", EVENT),
            "Environment": ("Development", DEFAULTS),
            "ML-Phase": ("Preprocessing", EVENT),
        },
        ["Project", "CostCenter"],
    ),
    "49-tags_CreateEndpoint": (
        "incomplete",
        "bob@example.com",
        {"CostCenter": ("CC-1001", f"{PROJECT} Alpha-NLP")},
        ["Team", "Owner", "Environment", "ML-Phase"],
    ),
}
# Lineage, SageMaker's own events and drift (the parents are in tests.conftest.WORLD).
PARENT = "parent resource"
EXPECTED |= {
    # A training job the tuning job demand-hpo-0603 launched: the tuning job's tags; nobody to
    # own it, so the project owner hears.
    "service-event_CreateTrainingJob": (
        "incomplete",
        "grace@example.com",
        via(
            {**BETA, "Environment": "Staging"},
            {
                "Project": f"{PARENT} tuning job demand-hpo-0603",
                "CostCenter": f"{PROJECT} Beta-Forecast",
                "Team": f"{PROJECT} Beta-Forecast",
                "Environment": f"{PARENT} tuning job demand-hpo-0603",
            },
        )
        | made(None, "Training", None),
        ["Owner"],
    ),
    # A pipeline step run under the pipeline's role: the pipeline's project, its starter dave.
    "pipeline-step_CreateProcessingJob": (
        "tagged",
        "dave@example.com",
        {
            "Project": ("Beta-Forecast", f"{PARENT} pipeline forecast-train"),
            "CostCenter": ("CC-2002", f"{PROJECT} Beta-Forecast"),
            "Team": ("forecasting", f"{PROJECT} Beta-Forecast"),
        }
        | made("dave@example.com", "Preprocessing", ("Staging", f"{PERSON} dave")),
        [],
    ),
    # An endpoint from a config (Team) whose model knows its project and environment.
    "lineage_CreateEndpoint": (
        "incomplete",
        "erin@example.com",
        via(
            {**GAMMA, "Environment": "Production"},
            {
                "Project": f"{PARENT} endpoint config defect-detector-config",
                "CostCenter": f"{PROJECT} Gamma-Vision",
                "Team": f"{PROJECT} Gamma-Vision",  # the project's own, before the parent's
                "Environment": f"{PARENT} endpoint config defect-detector-config",
            },
        )
        | made(None, "Inference", None),
        ["Owner"],
    ),
    # An app in the shared space vision-lab: the space's project, its owner erin.
    "space_CreateApp": (
        "tagged",
        "erin@example.com",
        via(GAMMA, {"Project": f"{PARENT} space vision-lab"} | project_sources(GAMMA))
        | made("erin@example.com", "Development"),
        [],
    ),
    # SageMaker's own event for a job whose CloudTrail event was lost: its Studio system tags.
    "state-change_TrainingJob": (
        "tagged",
        "alice@example.com",
        from_project(ALPHA, f"{PROFILE} alice") | made("alice@example.com", "Training"),
        [],
    ),
    # bob removes Project and CostCenter: put back from the endpoint's config (its model); bob
    # is told.
    "drift_DeleteTags": (
        "tagged",
        "bob@example.com",
        {
            "Project": ("Alpha-NLP", f"{PARENT} endpoint config churn-config"),
            "CostCenter": ("CC-1001", f"{PROJECT} Alpha-NLP"),
            "ML-Phase": ("Inference", EVENT),
        },
        [],
    ),
}
# The costliest kinds: HyperPod clusters, MLflow servers, feature groups, optimization and
# recommendation jobs, training plans; and the state changes of a processing job and a cluster
# whose Create events were lost (their creators are found in CloudTrail; the events carry no
# tags).
EXPECTED |= {
    "sso_CreateCluster": (
        "tagged",
        "carol@example.com",
        from_project(BETA, f"{PERSON} carol") | made("carol@example.com", "Training"),
        [],
    ),
    "iam-user_CreateMlflowTrackingServer": (
        "tagged",
        "bob@example.com",
        from_project(ALPHA, f"{PERSON} bob") | made("bob@example.com", "Development"),
        [],
    ),
    "studio-source-identity_CreateFeatureGroup": (
        "tagged",
        "alice@example.com",
        from_project(ALPHA, f"{PROFILE} alice") | made("alice@example.com", "Preprocessing"),
        [],
    ),
    "role-session_CreateOptimizationJob": (
        "tagged",
        "erin@example.com",
        from_project(GAMMA, f"{PERSON} erin") | made("erin@example.com", "Inference"),
        [],
    ),
    "sso_CreateInferenceRecommendationsJob": (
        "tagged",
        "carol@example.com",
        from_project(BETA, f"{PERSON} carol") | made("carol@example.com", "Inference"),
        [],
    ),
    "iam-user_CreateTrainingPlan": (
        "tagged",
        "bob@example.com",
        from_project(ALPHA, f"{PERSON} bob") | made("bob@example.com", "Training"),
        [],
    ),
    "state-change_ProcessingJob": (
        "tagged",
        "dave@example.com",
        DAVE | made("dave@example.com", "Preprocessing", ("Staging", f"{PERSON} dave")),
        [],
    ),
    "state-change_HyperPodCluster": (
        "tagged",
        "carol@example.com",
        from_project(BETA, f"{PERSON} carol") | made("carol@example.com", "Training"),
        [],
    ),
}
SKIPPED = {
    "failed_CreateEndpointConfig_AccessDenied": "EventsFailedCall",
    "unsupported_CreatePresignedDomainUrl": "EventsUnsupported",
}


def test_every_corpus_event_has_an_expectation() -> None:
    assert set(EXPECTED) | set(SKIPPED) == set(corpus_names())


def run(event: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = lambda_handler(event, FakeContext())
    json.dumps(summary)  # JSON-serialisable
    return summary


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_event_through_the_handler(name: str, emulator: Emulator, stack: Stack) -> None:
    status, recipient, added, missing = EXPECTED[name]
    event = load_event(name)
    before = seed_from_event(emulator, event)

    summary = run(event)

    assert summary["status"] == status
    assert {k: (v["value"], v["source"]) for k, v in summary["added"].items()} == added
    assert summary["missing"] == missing
    assert summary["recipient"] == recipient
    assert summary["notified"] is (recipient is not None)

    after = tags_of(emulator, summary["resourceArn"])
    assert after == before | {key: value for key, (value, _) in added.items()}
    assert all(after[key] == value for key, value in before.items())  # nothing overwritten
    assert len(after) <= 50

    notes = emulator.notifications(stack)
    if recipient is None:
        assert notes == []
        return
    assert [(n.recipient, n.outcome) for n in notes] == [(recipient, status)]
    body = notes[0].body
    for key, (value, source) in added.items():
        assert f"{key}" in body
        assert f"= {value}    (from {source})" in body
    if missing:
        assert f"Still missing, please add: {', '.join(missing)}" in body
    if name.startswith("drift_"):  # no example of creating it: a request to leave them be
        assert "Please leave the required tags in place" in body
        assert "Put back:" in body
        return
    assert "Tags=[" in body
    assert "tags=[" in body


@pytest.mark.parametrize(("name", "metric"), sorted(SKIPPED.items()))
def test_skipped_events_are_counted_and_touch_nothing(
    name: str, metric: str, stack: Stack, emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = run(load_event(name))
    assert summary["status"] == "skipped"
    assert summary["reason"]
    assert emulator.notifications(stack) == []
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [record[metric] for record in emitted] == [[1.0]]


def test_dry_run_decides_and_notifies_but_writes_nothing(
    emulator: Emulator, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app  # noqa: PLC0415

    monkeypatch.setenv("MODE", "dry-run")
    app.tagger.cache_clear()
    event = load_event("iam-user_CreateEndpoint")
    before = seed_from_event(emulator, event)

    summary = run(event)

    assert summary["status"] == "dry-run"
    assert set(summary["added"]) == {
        "Project",
        "CostCenter",
        "Team",
        "Owner",
        "Environment",
        "ML-Phase",
    }
    assert tags_of(emulator, summary["resourceArn"]) == before
    notes = emulator.notifications(stack)
    assert [(n.recipient, n.outcome) for n in notes] == [("bob@example.com", "dry-run")]
    assert "Would add (dry run, nothing written):" in notes[0].body


def test_the_same_event_twice_writes_and_notifies_once(emulator: Emulator, stack: Stack) -> None:
    event = load_event("sso_CreateAutoMLJob")
    seed_from_event(emulator, event)
    first = run(event)
    tags = tags_of(emulator, first["resourceArn"])
    second = run(event)
    assert first["status"] == "tagged"
    assert (second["status"], second["duplicate"], second["eventId"]) == (
        "duplicate",
        True,
        first["eventId"],
    )
    assert tags_of(emulator, first["resourceArn"]) == tags
    assert len(emulator.notifications(stack)) == 1


def test_the_same_resource_from_another_event_is_compliant(
    emulator: Emulator, stack: Stack
) -> None:
    event = load_event("sso_CreateAutoMLJob")
    seed_from_event(emulator, event)
    run(event)
    event["detail"]["eventID"] = "another-delivery-path"
    again = run(event)
    assert again["status"] == "compliant"
    assert "duplicate" not in again
    assert len(emulator.notifications(stack)) == 1


def test_a_deleted_resource_is_gone_without_retry(emulator: Emulator, stack: Stack) -> None:
    event = load_event("iam-user_CreateEndpoint")  # from 2024: long visible, if it existed
    summary = run(event)
    assert summary["status"] == "gone"
    assert summary["notified"] is False
    assert emulator.notifications(stack) == []


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch, api_calls: ApiCalls) -> Iterator[list[Faults]]:
    """Install Faults on the handler's clients; botocore's backoff does not really sleep."""
    import app  # noqa: PLC0415

    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda _: None))
    installed: list[Faults] = []
    app.tagger.cache_clear()
    assert boto3.DEFAULT_SESSION is not None
    yield installed
    for fault in installed:
        fault.uninstall(boto3.DEFAULT_SESSION.events)
    app.tagger.cache_clear()


def inject(installed: list[Faults], fault: Faults) -> Faults:
    assert boto3.DEFAULT_SESSION is not None
    fault.install(boto3.DEFAULT_SESSION.events)
    installed.append(fault)
    return fault


def fresh(event: dict[str, Any], seconds_ago: float = 5) -> dict[str, Any]:
    created = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    event["detail"]["eventTime"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def test_an_aws_error_raises_so_lambda_retries(
    emulator: Emulator, stack: Stack, faults: list[Faults]
) -> None:
    event = load_event("iam-user_CreateEndpoint")
    seed_from_event(emulator, event)
    denied = inject(faults, Faults(frozenset({"sagemaker.ListTags"}), code="AccessDeniedException"))
    with pytest.raises(ClientError, match="AccessDeniedException"):
        run(event)
    assert denied.sent["sagemaker.ListTags"] == 1  # botocore does not retry a denial
    assert emulator.notifications(stack) == []


def test_a_resource_not_yet_visible_is_waited_for(
    emulator: Emulator, stack: Stack, faults: list[Faults]
) -> None:
    import app  # noqa: PLC0415

    event = fresh(load_event("iam-user_CreateEndpoint"))
    seed_from_event(emulator, event)
    hidden = inject(
        faults, Faults(frozenset({"sagemaker.ListTags"}), code="ValidationException", limit=2)
    )
    waits: list[float] = []
    app.tagger().gatherer.sleep = waits.append
    summary = run(event)
    assert summary["status"] == "tagged"
    assert hidden.failed["sagemaker.ListTags"] == 2
    assert waits == [0.5, 1.0]


def test_a_resource_that_stays_invisible_fails_the_invocation(
    emulator: Emulator, stack: Stack, faults: list[Faults]
) -> None:
    import app  # noqa: PLC0415
    from autotag.gather import ResourceNotVisibleError  # noqa: PLC0415

    event = fresh(load_event("iam-user_CreateEndpoint"))  # never created
    waits: list[float] = []
    app.tagger().gatherer.sleep = waits.append
    with pytest.raises(ResourceNotVisibleError, match="not visible"):
        run(event)
    assert sum(waits) <= 5  # short and bounded
    assert emulator.notifications(stack) == []
    # Lambda retries minutes later: the failed attempt marked nothing handled, and
    # a resource still missing past the grace period was deleted.
    later = datetime.now(UTC) + timedelta(minutes=10)
    app.tagger().gatherer.clock = lambda: later
    assert run(event)["status"] == "gone"


def test_rejected_tags_raise_with_the_reason_and_are_not_retried(
    emulator: Emulator, stack: Stack, faults: list[Faults]
) -> None:
    from autotag.sagemaker import TagsRejectedError  # noqa: PLC0415

    event = load_event("iam-user_CreateEndpoint")
    seed_from_event(emulator, event)
    denied = inject(faults, Faults(frozenset({"sagemaker.AddTags"}), code="AccessDeniedException"))
    with pytest.raises(TagsRejectedError, match="ManagedTagKeys"):
        run(event)
    assert denied.sent["sagemaker.AddTags"] == 1
    # refused for good: nobody is told "Added:" (the event waits in the failed-events queue)
    assert emulator.notifications(stack) == []


def test_events_from_another_account_or_region_are_refused(
    emulator: Emulator, stack: Stack
) -> None:
    event = load_event("iam-user_CreateEndpoint")
    seed_from_event(emulator, event)
    event["account"] = "999999999999"
    summary = run(event)
    assert summary["status"] == "skipped"
    assert "999999999999" in summary["reason"]
    event = load_event("iam-user_CreateEndpoint")
    event["detail"]["awsRegion"] = "eu-west-1"
    assert "eu-west-1" in run(event)["reason"]
    assert emulator.notifications(stack) == []


def test_registry_reads_are_cached_in_the_warm_container(
    emulator: Emulator, stack: Stack, api_calls: ApiCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_WINDOW_SECONDS", "0")  # every notice is published
    first = load_event("iam-user_CreateEndpoint")
    second = load_event("wrong-case_CreateTrainingJob")
    seed_from_event(emulator, first)
    seed_from_event(emulator, second)
    api_calls.seen.clear()
    run(first)
    reads_first = api_calls.seen.count("dynamodb:GetItem")
    api_calls.seen.clear()
    run(second)  # the same person; only the other project is new
    assert reads_first == 3  # config, person, project (a Create call reads no state)
    assert api_calls.seen.count("dynamodb:GetItem") == 1
    # one read: gathering was quick, so no second read under the lease (see test_attribution)
    assert api_calls.seen.count("sagemaker:ListTags") == 1
    assert api_calls.seen.count("dynamodb:UpdateItem") == 1  # the claim (sent directly)
    assert api_calls.seen.count("sagemaker:AddTags") == 1
    assert api_calls.seen.count("sns:Publish") == 1


def test_without_a_loaded_registry_the_default_policy_applies(
    emulator: Emulator, stack: Stack
) -> None:
    dynamodb = emulator.dynamodb()
    for page in dynamodb.get_paginator("scan").paginate(TableName=stack.registry_table):
        for item in page["Items"]:
            dynamodb.delete_item(TableName=stack.registry_table, Key={"pk": item["pk"]})
    event = load_event("iam-user_CreateEndpoint")
    seed_from_event(emulator, event)
    summary = run(event)
    assert summary["status"] == "incomplete"
    assert set(summary["added"]) == {"Owner", "ML-Phase"}
    assert summary["added"]["Owner"]["value"] == "bob"
    assert summary["recipient"] == "admin"


def test_a_session_name_on_a_mapped_role_is_only_a_claim(emulator: Emulator, stack: Stack) -> None:
    """Whoever assumes the CI role picks its session name: the role's registry entry owns the
    resource and is told; the claimed name is shown, never acted on."""
    event = load_event("ci-role_CreateModel")
    identity = event["detail"]["userIdentity"]
    identity["arn"] = identity["arn"].replace("/GitHubActions", "/zoe@example.com")
    seed_from_event(emulator, event)
    summary = run(event)
    assert summary["principal"]["name"] == "github-mlops-deploy"
    assert summary["added"]["Owner"]["value"] == "mlops@example.com"
    assert summary["added"]["Project"]["value"] == "Gamma-Vision"
    assert summary["recipient"] == "mlops@example.com"


def test_existing_values_the_policy_rejects_are_reported_to_the_creator(
    emulator: Emulator, stack: Stack
) -> None:
    event = load_event("compliant_CreateTrainingJob")
    for tag in event["detail"]["requestParameters"]["tags"]:
        if tag["key"] == "Project":
            tag["value"] = "No-Such"
    before = seed_from_event(emulator, event)
    summary = run(event)
    assert summary["status"] == "incomplete"
    assert summary["rejected"] == ["Project"]
    assert tags_of(emulator, summary["resourceArn"]) == before  # kept as it is
    notes = emulator.notifications(stack)
    assert [(n.recipient, n.outcome) for n in notes] == [("carol@example.com", "incomplete")]


def test_a_failed_write_tells_once_when_the_retry_has_written(
    emulator: Emulator, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autotag.sagemaker import ResourceTags  # noqa: PLC0415

    event = load_event("sso_CreateAutoMLJob")
    seed_from_event(emulator, event)
    real_add = ResourceTags.add
    failures = iter([True])

    def flaky_add(self: ResourceTags, arn: str, tags: dict[str, str]) -> None:
        if next(failures, False):
            raise ClientError({"Error": {"Code": "ThrottlingException"}}, "AddTags")
        real_add(self, arn, tags)

    monkeypatch.setattr(ResourceTags, "add", flaky_add)
    with pytest.raises(ClientError):
        run(event)  # Lambda retries the invocation
    assert emulator.notifications(stack) == []  # nothing said before the tags are written
    retried = run(event)
    assert retried["status"] == "tagged"
    assert retried["notification"] == "sent"
    assert tags_of(emulator, retried["resourceArn"])["Project"] == "Beta-Forecast"
    notes = emulator.notifications(stack)
    assert [n.recipient for n in notes] == ["carol@example.com"]
    assert "Added:" in notes[0].body
    assert run(event)["status"] == "duplicate"  # a third delivery: nothing more
    assert emulator.notifications(stack) == []


MALFORMED_AT_THE_HANDLER: dict[str, tuple[str, Callable[[Any], Any]]] = {
    **{case: ("EventsUnparseable", change) for case, change in MALFORMED.items()},
    "failed call": (
        "EventsFailedCall",
        lambda e: e["detail"].update(errorCode="AccessDenied", responseElements=None),
    ),
    "unknown eventName": (
        "EventsUnsupported",
        lambda e: e["detail"].update(eventName="CreateSomethingNew"),
    ),
    "another account": ("EventsForeign", lambda e: e.update(account="999999999999")),
    "another Region in the ARN": (
        "EventsForeign",
        lambda e: e["detail"]["responseElements"].update(
            transformJobArn="arn:aws:sagemaker:eu-west-1:123456789012:transform-job/x"
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_AT_THE_HANDLER))
def test_malformed_events_are_counted_and_touch_nothing(
    case: str,
    emulator: Emulator,
    stack: Stack,
    api_calls: ApiCalls,
    capsys: pytest.CaptureFixture[str],
) -> None:
    metric, change = MALFORMED_AT_THE_HANDLER[case]
    event: Any = copy.deepcopy(load_event("sso_CreateTransformJob"))  # as in test_events
    seed_from_event(emulator, event)
    if case == "not an object":
        event = None
    else:
        change(event)
    api_calls.seen.clear()
    summary = run(event)
    assert summary["status"] == "skipped"
    assert "sagemaker:AddTags" not in api_calls.seen
    assert "sns:Publish" not in api_calls.seen
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert [record.get(metric) for record in emitted] == [[1.0]]


def test_logs_carry_no_event_no_source_ip_no_user_agent(
    emulator: Emulator, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from autotag.observability import logger  # noqa: PLC0415

    lines = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", lines)
    event = load_event("iam-user_CreateEndpoint")
    seed_from_event(emulator, event)
    run(event)
    run(load_event("failed_CreateEndpointConfig_AccessDenied"))
    logged = lines.getvalue()
    assert "resource handled" in logged
    for secret in (
        event["detail"]["sourceIPAddress"],
        event["detail"]["userAgent"],
        event["detail"]["userIdentity"]["accessKeyId"],
        "203.0.113.10",
        "requestParameters",
    ):
        assert secret not in logged


def test_the_same_event_delivered_concurrently_acts_once(
    emulator: Emulator, stack: Stack, api_calls: ApiCalls
) -> None:
    event = load_event("sso_CreateAutoMLJob")
    seed_from_event(emulator, event)
    run(load_event("compliant_CreateTrainingJob"))  # build the warm function first
    emulator.notifications(stack)
    api_calls.seen.clear()
    start = threading.Barrier(4)
    outcomes: list[str] = []

    def deliver() -> None:
        start.wait()
        try:
            summary = run(copy.deepcopy(event))
        except LockBusyError:
            outcomes.append("in progress: Lambda retries later")
            return
        outcomes.append("replayed" if summary.get("duplicate") else summary["status"])

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("tagged") == 1
    assert api_calls.seen.count("sagemaker:AddTags") == 1
    assert len(emulator.notifications(stack)) == 1


def test_drift_under_a_report_only_policy_tells_the_remover_and_puts_nothing_back(
    emulator: Emulator, stack: Stack
) -> None:
    text = EXAMPLE_REGISTRY.read_text().replace("drift: repair", "drift: report-only")
    assert "drift: report-only" in text
    registry = registry_file.parse_text(text, "registry.yaml")
    registry_file.sync_table(emulator.dynamodb(), stack.registry_table, registry)
    event = load_event("drift_DeleteTags")
    before = seed_from_event(emulator, event)

    summary = run(event)

    assert summary["status"] == "dry-run"
    assert summary["trigger"] == "drift"
    assert set(summary["added"]) == {"Project", "CostCenter", "ML-Phase"}  # what it would do
    assert tags_of(emulator, summary["resourceArn"]) == before
    (note,) = emulator.notifications(stack)
    assert (note.recipient, note.outcome) == ("bob@example.com", "dry-run")
    assert "Would put back (the policy says report only; nothing written):" in note.body
    assert "DeleteTags Project, CostCenter" in note.body


def test_a_state_change_for_a_tagged_resource_changes_nothing(
    emulator: Emulator, stack: Stack
) -> None:
    """The safety net after the CloudTrail event did its work: a duplicate in effect."""
    event = load_event("state-change_TrainingJob")
    seed_from_event(emulator, event)
    first = run(event)
    later = copy.deepcopy(event)
    later["id"] = "another-state-change"
    later["detail"]["TrainingJobStatus"] = "Completed"
    assert len(emulator.notifications(stack)) == 1  # read, and taken from the inbox

    summary = run(later)

    assert first["status"] == "tagged"
    assert summary["status"] == "compliant"
    assert summary["added"] == {}
    assert emulator.notifications(stack) == []


def test_a_state_change_that_shows_every_required_tag_costs_no_call(
    emulator: Emulator, stack: Stack, api_calls: ApiCalls
) -> None:
    event = copy.deepcopy(load_event("state-change_TrainingJob"))
    event["detail"]["Tags"] |= COMPLIANT_TAGS
    seed_from_event(emulator, event)
    run(load_event("compliant_CreateTrainingJob"))  # the registry is read and cached
    api_calls.seen.clear()

    summary = run(event)

    assert summary["status"] == "compliant"
    assert api_calls.seen == []
    event["id"] = "a-later-state-change"
    event["detail"]["Tags"]["Environment"] = "Prod"  # not an allowed value: looked at, and
    assert run(event)["status"] == "compliant"  # the resource itself holds an allowed one
    assert "sagemaker:ListTags" in api_calls.seen


def test_tags_the_call_carried_are_never_written_over_even_before_listtags_shows_them(
    emulator: Emulator, stack: Stack
) -> None:
    event = copy.deepcopy(load_event("sso_CreateTransformJob"))
    event["detail"]["requestParameters"]["tags"] = [{"key": "Project", "value": "Gamma-Vision"}]
    arn = event["detail"]["responseElements"]["transformJobArn"]
    emulator.seed_resource(arn, {})  # ListTags lags: the request's tag is not there yet

    summary = run(event)

    assert "Project" not in summary["added"]  # carol's default project would have won
    assert summary["project"] == "Gamma-Vision"
    assert summary["added"]["CostCenter"]["value"] == "CC-3003"
    assert "Project" not in tags_of(emulator, arn)  # left for SageMaker to show, not rewritten
