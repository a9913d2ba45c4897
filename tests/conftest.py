"""Shared fixtures: fake credentials for every test, the corpus, and the local emulator."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from autotag import registry_file
from local.emulator import FAKE_CREDENTIALS, REGION, Emulator, Stack

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
EXAMPLE_REGISTRY = ROOT / "examples" / "registry.yaml"
STUDIO_DOMAIN = "d-abc123xyz456"
# Tags on the Studio user profiles the corpus's Studio users work under.
PROFILE_TAGS = {
    "alice": {"Project": "Alpha-NLP"},
    "dave": {"Project": "Beta-Forecast", "Team": "forecasting"},
}


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def corpus_names() -> list[str]:
    return sorted(path.stem for path in EVENTS.glob("*.json"))


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can reach a real account: fake credentials, no profile, a fixed Region."""
    for name in list(os.environ):
        if name.startswith("AWS_") and name != "AWS_ENDPOINT_URL":
            monkeypatch.delenv(name)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


class ApiCalls:
    """Every AWS operation the code under test calls through boto3's default session."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def record(self, model: Any, **_: Any) -> None:
        prefix = model.service_model.signing_name
        self.seen.append(f"{prefix}:{model.name}")


@pytest.fixture(scope="session")
def api_calls() -> ApiCalls:
    calls = ApiCalls()
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-call", calls.record)
    return calls


@pytest.fixture(scope="session")
def emulator(api_calls: ApiCalls) -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def stack(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A fresh emulated account: the stack's resources, the example registry loaded, the Studio
    user profiles of the corpus, and the function's environment pointing at them."""
    import app  # noqa: PLC0415

    emulator.reset()
    deployed = emulator.provision()
    registry_file.sync_table(
        emulator.dynamodb(), deployed.registry_table, registry_file.read_file(str(EXAMPLE_REGISTRY))
    )
    # alice's profile names its execution role; dave's runs as the domain's default
    emulator.studio_domain(STUDIO_DOMAIN)
    emulator.studio_profiles(STUDIO_DOMAIN, {"alice": PROFILE_TAGS["alice"]})
    emulator.studio_profiles(STUDIO_DOMAIN, {"dave": PROFILE_TAGS["dave"]}, execution_role=None)
    for name, value in {**emulator.environ(), **deployed.environ()}.items():
        monkeypatch.setenv(name, value)
    # The window's first notice goes out at once; tests of gathering set a delay of their own.
    monkeypatch.setenv("DIGEST_DELAY_SECONDS", "0")
    # CloudTrail look-ups unpaced: the emulator has no quota (tests/unit/test_trail.py paces).
    monkeypatch.setenv("TRAIL_INTERVAL_SECONDS", "0")
    monkeypatch.setenv("LEASE_SECONDS", "2")  # a resource another trigger writes: short waits
    app.tagger.cache_clear()
    yield deployed
    app.tagger.cache_clear()


def FakeContext() -> Any:  # noqa: N802  (reads like the class it stands for)
    from autotag.local_context import LocalContext  # noqa: PLC0415

    return LocalContext(function_name="sagemaker-autotag-TagOnCreateFunction")


ARN = "arn:aws:sagemaker:us-east-1:123456789012"
# What the account already holds around the corpus's resources: the parents lineage reads, and
# the resource whose tags someone removes. arn -> (tags, description)
WORLD: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    f"{ARN}:hyper-parameter-tuning-job/demand-hpo-0603": (
        {"Project": "Beta-Forecast", "Environment": "Staging"},
        {},
    ),
    f"{ARN}:training-job/demand-hpo-0603-001-4f2a9c1b": (
        {},
        {"TuningJobArn": f"{ARN}:hyper-parameter-tuning-job/demand-hpo-0603"},
    ),
    f"{ARN}:pipeline/forecast-train": ({"Project": "Beta-Forecast"}, {}),
    f"{ARN}:pipeline/forecast-train/execution/7x2kq9d1m4ab": (
        {},
        {
            "PipelineExecutionArn": f"{ARN}:pipeline/forecast-train/execution/7x2kq9d1m4ab",
            "PipelineArn": f"{ARN}:pipeline/forecast-train",
            "CreatedBy": {
                "UserProfileArn": f"{ARN}:user-profile/{STUDIO_DOMAIN}/dave",
                "UserProfileName": "dave",
                "DomainId": STUDIO_DOMAIN,
            },
        },
    ),
    f"{ARN}:model/defect-detector-v7": (
        {"Project": "Gamma-Vision", "Environment": "Production"},
        {},
    ),
    f"{ARN}:endpoint-config/defect-detector-config": (
        {"Team": "vision"},
        {"ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "defect-detector-v7"}]},
    ),
    f"{ARN}:space/{STUDIO_DOMAIN}/vision-lab": (
        {"Project": "Gamma-Vision"},
        {
            "DomainId": STUDIO_DOMAIN,
            "SpaceName": "vision-lab",
            "SpaceArn": f"{ARN}:space/{STUDIO_DOMAIN}/vision-lab",
            "OwnershipSettings": {"OwnerUserProfileName": "erin"},
        },
    ),
    f"{ARN}:endpoint/churn-prod": (
        {"Team": "nlp", "Owner": "bob@example.com", "Environment": "Production"},
        {"EndpointConfigName": "churn-config"},
    ),
    f"{ARN}:endpoint-config/churn-config": (
        {},
        {"ProductionVariants": [{"VariantName": "AllTraffic", "ModelName": "churn-model"}]},
    ),
    f"{ARN}:model/churn-model": ({"Project": "Alpha-NLP"}, {}),
}


# The Create calls CloudTrail kept for resources whose own trigger names no creator (a state
# change whose Create event was lost): arn -> (the corpus event of a like call, its name there).
CREATE_CALLS: dict[str, tuple[str, str]] = {
    f"{ARN}:training-job/llm-eval-0603": (
        "studio-source-identity_CreateTrainingJob",
        "bert-finetune-alice-0603",
    ),
    f"{ARN}:processing-job/tokenize-corpus-0603": (
        "studio-profile-tag_CreateProcessingJob",
        "Forecast-Features-0603",
    ),
    f"{ARN}:cluster/w3x5y7z9a1b2": ("sso_CreateCluster", "k2m4p6r8t0v1"),  # its id
}


def create_record(arn: str, like: tuple[str, str] | None = None) -> dict[str, Any]:
    """The CloudTrail record of the Create call that made `arn`: the corpus call `like`
    (event file, resource name there) made again for `arn` (default: CREATE_CALLS)."""
    event_name, name = like or CREATE_CALLS[arn]
    new = arn.rsplit("/", 1)[-1]
    text = json.dumps(load_event(event_name)["detail"]).replace(name, new)
    text = text.replace(name.lower(), new)  # SageMaker lower-cases the name in the ARN
    record: dict[str, Any] = json.loads(text)
    record["eventID"] = f"create-{arn.rsplit('/', 1)[-1]}"
    # CloudTrail's event history keeps 90 days: the call was made just now
    record["eventTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return record


def seed_from_event(emulator: Emulator, event: dict[str, Any]) -> dict[str, str]:
    """Create the event's resource in the emulator as SageMaker would hold it right after the
    call (with the tags the request carried, or as WORLD has it), and the resources around it.
    Returns the resource's tags."""
    from autotag.events import Trigger, parse  # noqa: PLC0415

    for arn, (tags, description) in WORLD.items():
        emulator.seed_resource(arn, tags, description)
    subject = parse(event)
    arn = subject.resource.arn
    tags, description = WORLD.get(arn, ({}, {}))
    if subject.trigger is not Trigger.DRIFT:  # a new resource holds what its request carried
        tags = dict(subject.request_tags)
    emulator.seed_resource(arn, tags, description)
    if arn in CREATE_CALLS:
        emulator.seed_trail(create_record(arn))
    return tags


def variant(event: dict[str, Any], index: int) -> dict[str, Any]:
    """The event again, about another resource: its own event id and ARN, whatever its kind."""
    from autotag.events import Trigger, parse, pascal  # noqa: PLC0415

    subject = parse(event)
    copied = copy.deepcopy(event)
    detail = copied["detail"]
    arn = subject.resource.arn
    new_arn = f"{arn}-r{index}"
    if subject.trigger is Trigger.STATE_CHANGE:
        copied["id"] = f"{copied['id'][:24]}{index:012d}"
        detail[pascal(subject.spec.arn_field)] = new_arn
    else:
        detail["eventID"] = f"{detail['eventID'][:24]}{index:012d}"
    if subject.trigger is Trigger.DRIFT:
        detail["requestParameters"]["resourceArn"] = new_arn
    for part in (detail.get("responseElements"), *detail.get("resources", [])):
        for key, value in (part or {}).items():
            if value == arn:
                part[key] = new_arn
    return copied


def tags_of(emulator: Emulator, arn: str) -> dict[str, str]:
    """A resource's tags as the emulator holds them."""
    listed = emulator.sagemaker().list_tags(ResourceArn=arn, MaxResults=100)["Tags"]
    return {tag["Key"]: tag.get("Value", "") for tag in listed}
