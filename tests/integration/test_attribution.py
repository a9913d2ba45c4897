"""Attribution you can trust: each way a caller could choose who pays or who is told, tried
through the real entry points (the Lambda handler, `autotag audit`) against the emulator.

Every test here uses only what a caller controls (a tag, a session name, a request field) and
checks that it decides nothing: not the creator, not the project, not the recipient.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from app import lambda_handler
from autotag import cli, identity
from autotag.sagemaker import ResourceTags
from autotag.state import StateTable
from local.cloudtrail import assumed_role, iam_user
from local.emulator import COMPLIANT_TAGS, Emulator, Stack
from tests.conftest import (
    ARN,
    STUDIO_DOMAIN,
    FakeContext,
    load_event,
    seed_from_event,
    tags_of,
)

pytestmark = pytest.mark.integration

ALICE_PROFILE = f"{ARN}:user-profile/{STUDIO_DOMAIN}/alice"


def run(event: dict[str, Any]) -> dict[str, Any]:
    summary: dict[str, Any] = lambda_handler(event, FakeContext())
    return summary


def recipients(emulator: Emulator, stack: Stack) -> set[str]:
    return {note.recipient for note in emulator.notifications(stack)}


def with_identity(name: str, identity: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A corpus event made by someone else (and with other request tags, if given)."""
    event = copy.deepcopy(load_event(name))
    event["detail"]["userIdentity"] = identity
    if "tags" in changes:
        event["detail"]["requestParameters"]["tags"] = [
            {"key": k, "value": v} for k, v in changes["tags"].items()
        ]
    return event


FRANK = iam_user("frank")


# --------------------------------------------------------------------------- the Owner tag


@pytest.mark.parametrize("trigger", ["state change", "sweep (autotag audit --fix)"])
def test_an_owner_tag_chooses_no_entry_project_or_recipient(
    trigger: str, emulator: Emulator, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """mallory tags her job `Owner=alice@example.com` and leaves `Project` off: alice's project
    must not be charged, nor alice told."""
    event = copy.deepcopy(load_event("state-change_TrainingJob"))
    arn = f"{ARN}:training-job/mallory-job"
    event["detail"]["TrainingJobArn"] = arn
    event["detail"]["TrainingJobName"] = "mallory-job"
    event["detail"]["Tags"] = {"Owner": "alice@example.com"}
    emulator.seed_resource(arn, {"Owner": "alice@example.com"})

    if trigger == "state change":
        run(event)
    else:
        assert cli.main(["audit", "--fix", "--format", "json"]) == 0
        capsys.readouterr()

    tags = tags_of(emulator, arn)
    assert tags["Owner"] == "alice@example.com"  # kept: never overwritten
    assert "Project" not in tags
    assert "CostCenter" not in tags
    assert "alice@example.com" not in recipients(emulator, stack)


# --------------------------------------------------------------------------- forged identities


FORGED = {
    "IAM user with a Studio profile tag": with_identity(
        "iam-user_CreateEndpoint",
        FRANK,
        tags={"sagemaker:user-profile-arn": ALICE_PROFILE},
    ),
    "sourceIdentity from a role that is not the profile's": with_identity(
        "iam-user_CreateEndpoint",
        assumed_role("data-loader", "x", source_identity="alice"),
    ),
    "a session name the caller chose": with_identity(
        "iam-user_CreateEndpoint", assumed_role("data-loader", "alice@example.com")
    ),
    "a role merely named AWSReservedSSO_": with_identity(
        "iam-user_CreateEndpoint",
        assumed_role("AWSReservedSSO_DataScientist_fake", "alice@example.com"),
    ),
}


@pytest.mark.parametrize("event", FORGED.values(), ids=FORGED.keys())
def test_a_forged_identity_is_not_believed(
    event: dict[str, Any], emulator: Emulator, stack: Stack
) -> None:
    seed_from_event(emulator, event)
    summary = run(event)
    assert summary["principal"]["name"] != "alice"
    assert summary["principal"]["name"] != "alice@example.com"
    tags = tags_of(emulator, summary["resourceArn"])
    assert tags.get("Owner") != "alice@example.com"
    assert tags.get("Project") != "Alpha-NLP"  # alice's project
    assert "alice@example.com" not in recipients(emulator, stack)


# --------------------------------------------------------------------------- session names


@pytest.mark.parametrize(
    ("session", "owner"),
    [
        ("nightly-etl-function", None),  # a Lambda function's session: nobody
        ("erin-1717405200", "erin@example.com"),  # a person and a timestamp
    ],
)
def test_session_names_of_a_vouched_role(
    session: str, owner: str | None, emulator: Emulator, stack: Stack
) -> None:
    """`ml-analyst`'s session names come from the identity provider (the example registry)."""
    event = with_identity("iam-user_CreateEndpoint", assumed_role("ml-analyst", session))
    seed_from_event(emulator, event)
    run(event)
    tags = tags_of(emulator, load_endpoint_arn())
    assert tags.get("Owner") == owner


def load_endpoint_arn() -> str:
    return str(load_event("iam-user_CreateEndpoint")["detail"]["responseElements"]["endpointArn"])


# --------------------------------------------------------------------------- root


def test_a_pipeline_started_by_root_names_root_not_an_iam_user(
    emulator: Emulator, stack: Stack
) -> None:
    event = load_event("pipeline-step_CreateProcessingJob")
    seed_from_event(emulator, event)
    execution = f"{ARN}:pipeline/forecast-train/execution/7x2kq9d1m4ab"
    emulator.seed_resource(
        execution,
        {},
        {
            "PipelineExecutionArn": execution,
            "PipelineArn": f"{ARN}:pipeline/forecast-train",
            "CreatedBy": {"IamIdentity": {"Arn": "arn:aws:iam::123456789012:root"}},
        },
    )
    summary = run(event)
    tags = tags_of(emulator, summary["resourceArn"])
    assert "root" not in tags.get("Owner", "")  # no IAM user named after the root ARN
    assert recipients(emulator, stack) == {"admin"}


# --------------------------------------------------------------------------- one coherent set


def test_the_projects_own_tags_outrank_the_profiles(emulator: Emulator, stack: Stack) -> None:
    """alice's profile says Team=research; her project Alpha-NLP says Team=nlp: finance gets
    one project's set."""
    event = load_event("studio-source-identity_CreateTrainingJob")
    seed_from_event(emulator, event)
    emulator.sagemaker().add_tags(
        ResourceArn=ALICE_PROFILE, Tags=[{"Key": "Team", "Value": "research"}]
    )
    summary = run(event)
    tags = tags_of(emulator, summary["resourceArn"])
    assert (tags["Project"], tags["CostCenter"], tags["Team"]) == ("Alpha-NLP", "CC-1001", "nlp")


# --------------------------------------------------------------------------- one "compliant"


@pytest.mark.parametrize(
    "tags",
    [
        {**COMPLIANT_TAGS, "Project": "Alpah-NLP"},  # a typo: no such project
        {**COMPLIANT_TAGS, "CostCenter": ""},  # an empty value holds nothing
    ],
    ids=["unknown project", "empty value"],
)
def test_the_audit_and_the_tagger_agree_on_compliant(
    tags: dict[str, str], emulator: Emulator, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = f"{ARN}:training-job/almost"
    emulator.seed_resource(arn, tags)
    assert cli.main(["audit", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["overall"]["compliant"] == 0


def test_an_empty_value_is_filled(emulator: Emulator, stack: Stack) -> None:
    event = copy.deepcopy(load_event("iam-user_CreateEndpoint"))
    event["detail"]["requestParameters"]["tags"] = [{"key": "Project", "value": ""}]
    seed_from_event(emulator, event)
    summary = run(event)
    assert tags_of(emulator, summary["resourceArn"])["Project"] == "Alpha-NLP"  # bob's


# --------------------------------------------------------------------------- no lost update


@pytest.fixture
def adds(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    """Every AddTags the tagger sends, in order."""
    sent: list[dict[str, str]] = []
    original = ResourceTags.add

    def add(self: ResourceTags, arn: str, tags: dict[str, str]) -> None:
        sent.append(dict(tags))
        original(self, arn, tags)

    monkeypatch.setattr(ResourceTags, "add", add)
    return sent


def after_first_read(monkeypatch: pytest.MonkeyPatch, then: Callable[[], None]) -> None:
    """Run `then` once, right after the tagger's first read of a resource's tags."""
    original = ResourceTags.read
    done = threading.Event()

    def read(self: ResourceTags, arn: str) -> dict[str, str]:
        tags = original(self, arn)
        if not done.is_set():
            done.set()
            then()
        return tags

    monkeypatch.setattr(ResourceTags, "read", read)


def test_a_persons_own_add_tags_between_read_and_write_is_kept(
    emulator: Emulator, stack: Stack, monkeypatch: pytest.MonkeyPatch, adds: list[dict[str, str]]
) -> None:
    event = load_event("iam-user_CreateEndpoint")  # bob: his project is Alpha-NLP
    seed_from_event(emulator, event)
    arn = load_endpoint_arn()

    def bob_tags_it_himself() -> None:
        emulator.sagemaker().add_tags(
            ResourceArn=arn, Tags=[{"Key": "Project", "Value": "Beta-Forecast"}]
        )
        time.sleep(0.6)  # while the tagger gathers (a creator looked up in CloudTrail, say)

    after_first_read(monkeypatch, bob_tags_it_himself)
    run(event)

    tags = tags_of(emulator, arn)
    assert tags["Project"] == "Beta-Forecast"  # his, not overwritten
    assert tags["CostCenter"] == "CC-2002"  # and the set is his project's
    assert all("Project" not in sent for sent in adds)


def test_two_triggers_at_once_end_as_if_one_ran_after_the_other(
    emulator: Emulator, stack: Stack, monkeypatch: pytest.MonkeyPatch, adds: list[dict[str, str]]
) -> None:
    """alice's Create event (Environment=Staging from her Studio profile) and a state change for
    the same job (no creator known to it: Environment=Development from the defaults) both read
    the job untagged before either writes. Whichever writes second must not overwrite."""
    create = load_event("studio-source-identity_CreateTrainingJob")
    seed_from_event(emulator, create)
    emulator.sagemaker().add_tags(
        ResourceArn=ALICE_PROFILE, Tags=[{"Key": "Environment", "Value": "Staging"}]
    )
    arn = str(create["detail"]["responseElements"]["trainingJobArn"])
    change = copy.deepcopy(load_event("state-change_TrainingJob"))
    change["id"] = "a-state-change-at-the-same-time"
    change["detail"] |= {"TrainingJobArn": arn, "TrainingJobName": arn.rsplit("/", 1)[-1]}
    change["detail"]["Tags"] = {}
    both_read = threading.Barrier(2, timeout=3)
    original = ResourceTags.read
    seen = threading.local()

    def read(self: ResourceTags, resource: str) -> dict[str, str]:
        tags = original(self, resource)
        if resource == arn and not getattr(seen, "once", False):
            seen.once = True
            # Each thread's first read happens before either writes (unless the other waits
            # for the resource's lease: then it reads later, and the wait times out).
            with contextlib.suppress(threading.BrokenBarrierError):
                both_read.wait()
        return tags

    monkeypatch.setattr(ResourceTags, "read", read)
    handled: list[Any] = []

    def handle(event: dict[str, Any]) -> None:
        try:
            handled.append(run(event))
        except Exception as error:
            handled.append(error)

    threads = [threading.Thread(target=handle, args=(e,)) for e in (create, change)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(handled) == 2
    assert all(isinstance(h, dict) for h in handled), handled
    written: dict[str, str] = {}
    for sent in adds:
        for key, value in sent.items():
            assert key not in written, f"{key} written twice: {written[key]!r}, then {value!r}"
            written[key] = value
    final = tags_of(emulator, arn)
    assert {key: final[key] for key in written} == written  # nothing written was overwritten


# --------------------------------------------------------------------------- recorded creators


def test_the_creator_is_recorded_once_and_used_by_the_triggers_that_name_nobody(
    emulator: Emulator, stack: Stack
) -> None:
    """alice's Studio job is created (the event names her); later mallory removes its tags and
    writes `Owner=mallory@example.com`; a state change arrives: the recorded creator, not the
    tag, says whose project it is (the Owner tag itself is kept: never overwritten)."""
    create = load_event("studio-source-identity_CreateTrainingJob")
    seed_from_event(emulator, create)
    arn = str(create["detail"]["responseElements"]["trainingJobArn"])
    run(create)
    emulator.notifications(stack)
    emulator.sagemaker().delete_tags(ResourceArn=arn, TagKeys=["Owner", "Project", "CostCenter"])
    emulator.sagemaker().add_tags(
        ResourceArn=arn, Tags=[{"Key": "Owner", "Value": "mallory@example.com"}]
    )
    change = copy.deepcopy(load_event("state-change_TrainingJob"))
    change["id"] = "after-the-tags-went"
    change["detail"] |= {"TrainingJobArn": arn, "TrainingJobName": arn.rsplit("/", 1)[-1]}
    change["detail"]["Tags"] = {}

    summary = run(change)

    assert summary["principal"]["name"] == "alice"
    tags = tags_of(emulator, arn)
    assert (tags["Owner"], tags["Project"], tags["CostCenter"]) == (
        "mallory@example.com",
        "Alpha-NLP",
        "CC-1001",
    )
    assert "mallory@example.com" not in recipients(emulator, stack)


def test_drift_is_repaired_for_the_recorded_creator_and_the_remover_told(
    emulator: Emulator, stack: Stack
) -> None:
    """bob removes Project and Owner from carol's job: carol's values come back (her record),
    and bob, who removed them, is told what was put back."""
    create = load_event("sso_CreateAutoMLJob")  # carol, through IAM Identity Center
    seed_from_event(emulator, create)
    arn = str(create["detail"]["responseElements"]["autoMLJobArn"])
    run(create)
    emulator.notifications(stack)
    emulator.sagemaker().delete_tags(ResourceArn=arn, TagKeys=["Project", "Owner"])
    drift = copy.deepcopy(load_event("drift_DeleteTags"))  # made by bob
    drift["detail"]["eventID"] = "bob-removes-carols-tags"
    drift["detail"]["requestParameters"] = {"resourceArn": arn, "tagKeys": ["Project", "Owner"]}

    summary = run(drift)

    tags = tags_of(emulator, arn)
    assert (tags["Owner"], tags["Project"]) == ("carol@example.com", "Beta-Forecast")
    assert summary["principal"]["name"] == "carol@example.com"
    (note,) = emulator.notifications(stack)
    assert note.recipient == "bob@example.com"
    assert "Put back" in note.body


def test_a_project_charged_by_a_non_member_is_kept_and_its_owner_told(
    emulator: Emulator, stack: Stack
) -> None:
    """bob (a member of Alpha-NLP and Gamma-Vision) charges Beta-Forecast: the tag stays, and
    Beta-Forecast's owner hears who did it."""
    event = with_identity(
        "iam-user_CreateEndpoint",
        iam_user("bob"),
        tags={"Project": "Beta-Forecast"},
    )
    seed_from_event(emulator, event)
    summary = run(event)
    assert tags_of(emulator, summary["resourceArn"])["Project"] == "Beta-Forecast"
    assert summary["membership"] == {"project": "Beta-Forecast", "told": "grace@example.com"}
    notes = {note.recipient: note for note in emulator.notifications(stack)}
    assert "bob" in notes["grace@example.com"].body
    assert "not a member of Beta-Forecast" in notes["grace@example.com"].body


def test_a_pipeline_tag_from_anyone_but_sagemaker_is_not_followed(
    emulator: Emulator, stack: Stack
) -> None:
    """frank sends `sagemaker:pipeline-execution-arn` naming dave's pipeline run: neither its
    project (Beta-Forecast) nor its starter (dave) is his."""
    event = with_identity(
        "pipeline-step_CreateProcessingJob",
        FRANK,
        tags={
            "sagemaker:pipeline-execution-arn": (
                f"{ARN}:pipeline/forecast-train/execution/7x2kq9d1m4ab"
            )
        },
    )
    seed_from_event(emulator, event)
    summary = run(event)
    assert summary["principal"]["name"] == "frank"
    tags = tags_of(emulator, summary["resourceArn"])
    assert "Project" not in tags
    assert tags.get("Owner") == "frank"
    assert "dave@example.com" not in recipients(emulator, stack)


def test_a_name_used_again_gets_its_new_creator(emulator: Emulator, stack: Stack) -> None:
    """alice's endpoint `sentiment-prod` is deleted; bob creates one of the same name (the same
    ARN). His Create call replaces her record: a later drift repair writes his, not hers."""
    event = load_event("iam-user_CreateEndpoint")  # bob's
    seed_from_event(emulator, event)
    arn = load_endpoint_arn()
    state = StateTable(emulator.dynamodb(), stack.state_table)
    state.record_creator(arn, identity.studio_user("alice", STUDIO_DOMAIN, "an older endpoint"))
    run(event)
    recorded = state.creator(arn)
    assert recorded is not None
    assert recorded.name == "bob"
    emulator.sagemaker().delete_tags(ResourceArn=arn, TagKeys=["Owner"])
    drift = copy.deepcopy(load_event("drift_DeleteTags"))
    drift["detail"]["eventID"] = "owner-removed"
    drift["detail"]["requestParameters"] = {"resourceArn": arn, "tagKeys": ["Owner"]}
    run(drift)
    assert tags_of(emulator, arn)["Owner"] == "bob@example.com"
