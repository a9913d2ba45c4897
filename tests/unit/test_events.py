from __future__ import annotations

import copy
from typing import Any

import pytest

from autotag import events
from autotag.events import (
    BY_NAME,
    SUPPORTED,
    FailedCallError,
    Phase,
    UnparseableEventError,
    UnsupportedEventError,
    parse,
    request_tags,
)
from tests.conftest import corpus_names, load_event

SKIPPED = {
    "failed_CreateEndpointConfig_AccessDenied": FailedCallError,
    "unsupported_CreatePresignedDomainUrl": UnsupportedEventError,
}
TAGGABLE = [name for name in corpus_names() if name not in SKIPPED]


def test_every_supported_event_has_a_corpus_event() -> None:
    covered = {load_event(name)["detail"]["eventName"] for name in TAGGABLE}
    assert covered == set(BY_NAME)


def test_table_is_one_row_per_event_name() -> None:
    assert len(BY_NAME) == len(SUPPORTED) == 17


@pytest.mark.parametrize(
    ("event_name", "phase"),
    [
        ("CreateProcessingJob", Phase.PREPROCESSING),
        ("CreateTrainingJob", Phase.TRAINING),
        ("CreateHyperParameterTuningJob", Phase.TRAINING),
        ("CreateAutoMLJob", Phase.TRAINING),
        ("CreateAutoMLJobV2", Phase.TRAINING),
        ("CreateCompilationJob", Phase.TRAINING),
        ("CreateModel", Phase.INFERENCE),
        ("CreateEndpointConfig", Phase.INFERENCE),
        ("CreateEndpoint", Phase.INFERENCE),
        ("CreateInferenceComponent", Phase.INFERENCE),
        ("CreateTransformJob", Phase.INFERENCE),
        ("CreateNotebookInstance", Phase.DEVELOPMENT),
        ("CreateSpace", Phase.DEVELOPMENT),
        ("CreateApp", Phase.DEVELOPMENT),
    ],
)
def test_ml_phase_of_each_api(event_name: str, phase: Phase) -> None:
    assert BY_NAME[event_name].phase is phase


@pytest.mark.parametrize("name", TAGGABLE)
def test_corpus_event_parses(name: str) -> None:
    event = load_event(name)
    call = parse(event)
    detail = event["detail"]
    assert call.event_name == detail["eventName"]
    assert call.event_id == detail["eventID"]
    assert call.resource.arn == detail["responseElements"][call.spec.arn_field]
    assert call.resource.kind == call.spec.kind
    assert call.resource.account == "123456789012"


@pytest.mark.parametrize(("name", "error"), sorted(SKIPPED.items()))
def test_corpus_events_that_are_skipped(name: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse(load_event(name))


def test_request_tags_use_cloudtrail_lower_case_members() -> None:
    call = parse(load_event("wrong-case_CreateTrainingJob"))
    assert call.request_tags == {"project": "Gamma-Vision", "environment": "Production"}


def test_resource_name_keeps_the_request_casing() -> None:
    call = parse(load_event("studio-profile-tag_CreateProcessingJob"))
    assert call.resource_name == "Forecast-Features-0603"
    assert call.resource.name == "forecast-features-0603"


def test_two_segment_arns_parse() -> None:
    call = parse(load_event("studio-source-identity_CreateApp"))
    assert call.resource.kind == "app"
    assert call.resource.name == "d-abc123xyz456/dave-jupyterlab/jupyterlab/default"


@pytest.mark.parametrize(
    "junk",
    [
        [{"key": "a"}, {"key": "b", "value": "2"}],
        "not a list",
        [None, 3, {"value": "x"}, {"key": 5, "value": "y"}],
        [{"Key": "c", "Value": "3"}],
    ],
)
def test_request_tags_tolerate_junk(junk: Any) -> None:
    tags = request_tags({"tags": junk})
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items())
    assert set(tags) <= {"a", "b", "c"}


def _broken(change: Any) -> dict[str, Any]:
    event = copy.deepcopy(load_event("sso_CreateTransformJob"))
    change(event)
    return event


MALFORMED = {
    "not an object": lambda e: None,
    "no detail": lambda e: e.pop("detail"),
    "detail is a list": lambda e: e.update(detail=[1, 2]),
    "wrong source": lambda e: e.update(source="aws.ec2"),
    "wrong detail-type": lambda e: e.update({"detail-type": "SageMaker Training Job State Change"}),
    "no eventName": lambda e: e["detail"].pop("eventName"),
    "no eventID": lambda e: e["detail"].pop("eventID"),
    "null responseElements": lambda e: e["detail"].update(responseElements=None),
    "ARN field missing": lambda e: e["detail"].update(responseElements={"other": "x"}),
    "ARN of another kind": lambda e: e["detail"]["responseElements"].update(
        transformJobArn="arn:aws:sagemaker:us-east-1:123456789012:training-job/x"
    ),
    "not an ARN": lambda e: e["detail"]["responseElements"].update(transformJobArn="x,y"),
    "no userIdentity": lambda e: e["detail"].pop("userIdentity"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_events_are_unparseable(case: str) -> None:
    event: Any = None if case == "not an object" else _broken(MALFORMED[case])
    with pytest.raises(UnparseableEventError) as raised:
        parse(event)
    assert raised.value.reason  # says what is wrong
    assert raised.value.metric == "EventsUnparseable"


def test_failed_call_is_recognised_before_the_event_name() -> None:
    event = _broken(lambda e: e["detail"].update(errorCode="ThrottlingException"))
    with pytest.raises(FailedCallError, match="ThrottlingException"):
        parse(event)


def test_name_field_follows_the_arn_field() -> None:
    assert events.BY_NAME["CreateHyperParameterTuningJob"].name_field == (
        "hyperParameterTuningJobName"
    )
