"""CreatorTrail against the emulator's LookupEvents stand-in (local/cloudtrail_lookup.py)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from autotag.trail import CreatorTrail
from local.emulator import Emulator
from tests.conftest import load_event

if TYPE_CHECKING:
    from mypy_boto3_cloudtrail import CloudTrailClient

pytestmark = pytest.mark.integration

ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/sentiment-prod"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _detail(
    ago: timedelta, event_id: str = "3e0ffa55-2596-3acf-9553-1bc9dae9d34e"
) -> dict[str, Any]:
    """The corpus's CreateEndpoint by bob, made `ago` before now."""
    detail: dict[str, Any] = copy.deepcopy(load_event("iam-user_CreateEndpoint")["detail"])
    detail["eventTime"] = _iso(datetime.now(UTC) - ago)
    detail["eventID"] = event_id
    return detail


@pytest.fixture
def cloudtrail(emulator: Emulator) -> CloudTrailClient:
    emulator.reset()  # the seeded records go with everything else
    return emulator.session.client("cloudtrail", endpoint_url=emulator.endpoint or None)


def test_the_creator_is_found_in_the_emulators_trail(
    emulator: Emulator, cloudtrail: CloudTrailClient
) -> None:
    detail = _detail(timedelta(days=1))
    emulator.seed_trail(detail)
    trail = CreatorTrail(cloudtrail, min_interval=0.0)

    found = trail.create_record("CreateEndpoint", "sentiment-prod", ARN)

    assert found is not None
    assert found.user_identity["userName"] == "bob"
    assert found.event_id == detail["eventID"]
    assert found.event_time == detail["eventTime"]
    assert found.request_tags == {}


def test_lookup_events_honours_attributes_window_and_pages(
    emulator: Emulator, cloudtrail: CloudTrailClient
) -> None:
    for index in range(5):
        emulator.seed_trail(_detail(timedelta(hours=index + 1), f"event-{index}"))
    emulator.seed_trail(_detail(timedelta(days=100), "too-old"))
    start = datetime.now(UTC) - timedelta(days=90)

    first = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "SENTIMENT-PROD"}],
        StartTime=start,
        MaxResults=3,
    )
    second = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": "SENTIMENT-PROD"}],
        StartTime=start,
        MaxResults=3,
        NextToken=first["NextToken"],
    )

    ids = [event["EventId"] for event in first["Events"] + second["Events"]]
    assert ids == [f"event-{index}" for index in range(5)]  # newest first, the old one left out
    assert "NextToken" not in second
    event = first["Events"][0]
    assert event["EventName"] == "CreateEndpoint"
    assert event["Username"] == "bob"
    assert event["Resources"] == [{"ResourceType": "AWS::SageMaker::Endpoint", "ResourceName": ARN}]
    assert isinstance(event["EventTime"], datetime)
    by_name = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateModel"}]
    )
    assert by_name["Events"] == []

    emulator.reset()
    assert cloudtrail.lookup_events()["Events"] == []


def test_lookup_events_takes_one_attribute(cloudtrail: CloudTrailClient) -> None:
    with pytest.raises(ClientError) as raised:
        cloudtrail.lookup_events(
            LookupAttributes=[
                {"AttributeKey": "EventName", "AttributeValue": "CreateEndpoint"},
                {"AttributeKey": "ResourceName", "AttributeValue": "sentiment-prod"},
            ]
        )
    assert raised.value.response["Error"]["Code"] == "InvalidLookupAttributesException"
