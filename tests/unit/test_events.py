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
# The Create* calls people make (the other taggable events are parsed below).
CREATE_CALLS = [
    name
    for name in TAGGABLE
    if load_event(name)["detail-type"] == events.DETAIL_TYPE
    and load_event(name)["detail"]["eventName"] in BY_NAME
]


def test_every_supported_event_has_a_corpus_event() -> None:
    covered = {load_event(name)["detail"]["eventName"] for name in CREATE_CALLS}
    assert covered == set(BY_NAME)


def test_table_is_one_row_per_event_name() -> None:
    assert len(BY_NAME) == len(SUPPORTED) == 23


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


@pytest.mark.parametrize("name", CREATE_CALLS)
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


def test_a_service_event_names_its_resource_in_resources_and_nobody_as_creator() -> None:
    call = parse(load_event("service-event_CreateTrainingJob"))
    assert call.trigger is events.Trigger.SERVICE
    assert call.resource.arn.endswith(":training-job/demand-hpo-0603-001-4f2a9c1b")
    assert call.user_identity == {
        "accountId": "123456789012",
        "invokedBy": "sagemaker.amazonaws.com",
    }
    assert call.references == {}  # no request: lineage describes the job


def test_a_state_change_carries_the_tags_as_a_map_and_its_fields_as_references() -> None:
    event = load_event("state-change_TrainingJob")
    call = parse(event)
    assert call.trigger is events.Trigger.STATE_CHANGE
    assert call.event_id == event["id"]
    assert call.event_name == "SageMaker Training Job State Change"
    assert call.resource_name == "llm-eval-0603"
    assert call.request_tags == event["detail"]["Tags"]
    assert call.user_identity == {}
    assert call.references["TrainingJobStatus"] == "InProgress"


@pytest.mark.parametrize("spec", [s for s in SUPPORTED if s.state_change])
def test_each_state_change_names_the_arn_as_describe_does(spec: events.EventSpec) -> None:
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:{spec.kind}/x"
    event = {
        "source": "aws.sagemaker",
        "detail-type": spec.state_change,
        "id": "1",
        "detail": {f"{spec.member}Arn": arn, f"{spec.member}Name": "X", "Tags": {}},
    }
    call = parse(event)
    assert (call.spec.kind, call.resource.arn, call.resource_name) == (spec.kind, arn, "X")


def test_delete_tags_is_drift_with_the_remover_and_the_keys() -> None:
    event = load_event("drift_DeleteTags")
    call = parse(event)
    assert call.trigger is events.Trigger.DRIFT
    assert call.event_name == "DeleteTags"
    assert call.spec.kind == "endpoint"
    assert call.removed == ("Project", "CostCenter")
    assert call.actor == event["detail"]["userIdentity"]
    assert call.user_identity == {}  # the remover is not the creator


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda p: p.update(tagKeys="Project"), UnparseableEventError),
        (lambda p: p.update(tagKeys=[1]), UnparseableEventError),
        (lambda p: p.pop("resourceArn"), UnparseableEventError),
        (
            lambda p: p.update(resourceArn="arn:aws:sagemaker:us-east-1:123456789012:domain/d-1"),
            UnsupportedEventError,
        ),
    ],
)
def test_bad_delete_tags_are_skipped_with_the_reason(change: Any, error: type[Exception]) -> None:
    event = copy.deepcopy(load_event("drift_DeleteTags"))
    change(event["detail"]["requestParameters"])
    with pytest.raises(error) as raised:
        parse(event)
    assert "DeleteTags" in str(raised.value) or "requestParameters" in str(raised.value)


def test_an_unknown_detail_type_names_the_ones_expected() -> None:
    event = copy.deepcopy(load_event("state-change_TrainingJob"))
    event["detail-type"] = "SageMaker Model Package State Change"
    with pytest.raises(UnparseableEventError, match="AWS Service Event via CloudTrail"):
        parse(event)


def test_cloudtrail_requests_become_api_member_names() -> None:
    call = parse(load_event("execution-role_CreateEndpointConfig"))
    variants = call.references["ProductionVariants"]
    assert variants
    assert all("ModelName" in v for v in variants)


def test_a_service_event_listing_the_parent_first_takes_the_created_resource() -> None:
    event = copy.deepcopy(load_event("service-event_CreateTrainingJob"))
    job = event["detail"]["resources"][0]
    parent = {"ARN": "arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/hpo"}
    event["detail"]["resources"] = [parent, job]
    assert parse(event).resource.arn == job["ARN"]


@pytest.mark.parametrize("spec", list(events.BY_STATE_CHANGE.values()), ids=lambda s: s.kind)
@pytest.mark.parametrize(
    "tags", [None, {}, {"Project": "Alpha-NLP"}], ids=["no Tags", "empty", "a tag"]
)
def test_each_kinds_state_change_parses_in_its_documented_shape(
    spec: events.EventSpec, tags: dict[str, str] | None
) -> None:
    """SageMaker's state-change events mirror the Describe call: the ARN and name members, and
    `Tags` as a map when there are any (the processing job's and the cluster's have none)."""
    ident = "k2m4p6r8t0v1" if spec.kind == "cluster" else "sample-0603"  # a cluster: its id
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:{spec.kind}/{ident}"
    detail: dict[str, Any] = {
        events.pascal(spec.arn_field): arn,
        events.pascal(spec.name_field): "Sample-0603",
    }
    if tags is not None:
        detail["Tags"] = tags
    event = {
        "version": "0",
        "id": "5e3c0a1e-0000-4000-8000-000000000001",
        "detail-type": spec.state_change,
        "source": "aws.sagemaker",
        "account": "123456789012",
        "time": "2024-06-03T10:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": detail,
    }
    call = parse(event)
    assert call.trigger is events.Trigger.STATE_CHANGE
    assert call.spec.kind == spec.kind
    assert call.resource.arn == arn
    assert call.resource_name == "Sample-0603"
    assert call.request_tags == (tags or {})
