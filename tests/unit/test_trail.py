"""CreatorTrail: the Create* record of a resource from CloudTrail's LookupEvents (Stubber)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from autotag.trail import RESOURCE_PAGES, CreateRecord, CreatorTrail
from tests.conftest import load_event

if TYPE_CHECKING:
    from mypy_boto3_cloudtrail import CloudTrailClient

NOW = datetime(2024, 6, 10, 12, 0, tzinfo=UTC)
START = NOW - timedelta(days=90)
EVENT = "CreateEndpoint"
NAME = "sentiment-prod"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/sentiment-prod"


class FakeTime:
    """A monotonic clock that moves only when slept on or told to."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def record(
    arn: str = ARN,
    *,
    event_id: str = "e-1",
    event_time: str = "2024-06-03T09:04:00Z",
    **fields: Any,
) -> dict[str, Any]:
    """The corpus's CreateEndpoint by bob, about `arn`."""
    detail: dict[str, Any] = copy.deepcopy(load_event("iam-user_CreateEndpoint")["detail"])
    detail["responseElements"] = {"endpointArn": arn}
    detail["requestParameters"]["tags"] = [{"key": "Project", "value": "Alpha-NLP"}]
    detail.update(eventID=event_id, eventTime=event_time, **fields)
    return detail


def page(*records: dict[str, Any] | str, token: str | None = None) -> dict[str, Any]:
    """A LookupEvents answer; a str item is a CloudTrailEvent sent as it is (malformed)."""
    events = [
        {
            "EventId": f"id-{index}",
            "CloudTrailEvent": item if isinstance(item, str) else json.dumps(item),
        }
        for index, item in enumerate(records)
    ]
    return {"Events": events, **({"NextToken": token} if token else {})}


def by_resource(name: str = NAME, token: str | None = None) -> dict[str, Any]:
    return {
        "LookupAttributes": [{"AttributeKey": "ResourceName", "AttributeValue": name}],
        "StartTime": START,
        **({"NextToken": token} if token else {}),
    }


def by_event(name: str = EVENT, token: str | None = None) -> dict[str, Any]:
    return {
        "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": name}],
        "StartTime": START,
        **({"NextToken": token} if token else {}),
    }


@pytest.fixture
def client() -> CloudTrailClient:
    return boto3.client("cloudtrail", region_name="us-east-1")


@pytest.fixture
def stub(client: CloudTrailClient) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def trail(client: CloudTrailClient, fake: FakeTime) -> CreatorTrail:
    return CreatorTrail(client, 300.0, clock=fake.clock, sleep=fake.sleep, wall=lambda: NOW)


def test_the_create_record_is_found_by_resource_name_within_90_days(
    trail: CreatorTrail, stub: Stubber
) -> None:
    stub.add_response("lookup_events", page(record()), by_resource())

    found = trail.create_record(EVENT, NAME, ARN)

    assert found == CreateRecord(
        user_identity=record()["userIdentity"],
        request_tags={"Project": "Alpha-NLP"},
        event_time="2024-06-03T09:04:00Z",
        event_id="e-1",
    )
    assert CreatorTrail.permissions == ("cloudtrail:LookupEvents",)


def test_pages_are_followed_until_the_record(trail: CreatorTrail, stub: Stubber) -> None:
    describe = record(eventName="DescribeEndpoint", event_id="d-1", responseElements=None)
    stub.add_response("lookup_events", page(describe, token="t1"), by_resource())
    stub.add_response("lookup_events", page(describe, token="t2"), by_resource(token="t1"))
    stub.add_response("lookup_events", page(record()), by_resource(token="t2"))

    found = trail.create_record(EVENT, NAME, ARN)

    assert found is not None
    assert found.event_id == "e-1"


def test_the_latest_of_several_matches_wins(trail: CreatorTrail, stub: Stubber) -> None:
    """A name used again after a deletion makes the same ARN: the resource is the newest."""
    newer = record(event_id="new", event_time="2024-06-05T10:00:00Z")
    older = record(event_id="old", event_time="2024-06-01T08:00:00Z")
    stub.add_response("lookup_events", page(newer, token="t1"), by_resource())
    stub.add_response("lookup_events", page(older), by_resource(token="t1"))

    found = trail.create_record(EVENT, NAME, ARN)

    assert found is not None
    assert found.event_id == "new"


def test_the_arn_is_compared_ignoring_case(trail: CreatorTrail, stub: Stubber) -> None:
    """SageMaker lower-cases the name inside the ARN; the caller may hold either form."""
    lower = ARN.replace("sentiment-prod", "sentimentprod")
    stub.add_response("lookup_events", page(record(lower)), by_resource("SentimentProd"))

    found = trail.create_record(
        EVENT, "SentimentProd", ARN.replace("sentiment-prod", "SentimentProd")
    )

    assert found is not None


def test_failed_and_other_calls_are_skipped(trail: CreatorTrail, stub: Stubber) -> None:
    failed = record(event_id="failed", errorCode="ValidationException", errorMessage="no")
    other_event = record(event_id="update", eventName="UpdateEndpoint")
    other_resource = record(ARN + "-2", event_id="other")
    good = record(event_id="good", event_time="2024-06-04T00:00:00Z")
    stub.add_response(
        "lookup_events", page(failed, other_event, other_resource, good), by_resource()
    )

    found = trail.create_record(EVENT, NAME, ARN)

    assert found is not None
    assert found.event_id == "good"


def test_malformed_cloudtrail_events_are_skipped(
    client: CloudTrailClient, trail: CreatorTrail, stub: Stubber
) -> None:
    answer = page("{not json", "[1, 2]", record())
    answer["Events"].insert(0, {"EventId": "no-body"})
    stub.add_response("lookup_events", answer, by_resource())

    found = trail.create_record(EVENT, NAME, ARN)

    assert found is not None
    assert found.event_id == "e-1"


def test_calls_are_paced_by_sleeping_the_difference(
    client: CloudTrailClient, trail: CreatorTrail, stub: Stubber, fake: FakeTime
) -> None:
    def latency(**_: Any) -> None:
        fake.now += 0.2  # each request takes 0.2 s

    client.meta.events.register("before-parameter-build.cloudtrail.LookupEvents", latency)
    stub.add_response("lookup_events", page(token="t1"), by_resource())
    stub.add_response("lookup_events", page(token="t2"), by_resource(token="t1"))
    stub.add_response("lookup_events", page(record()), by_resource(token="t2"))

    assert trail.create_record(EVENT, NAME, ARN) is not None
    # The first call waits for nothing; each next one sleeps 0.5 s less the 0.2 s it took.
    assert fake.sleeps == pytest.approx([0.3, 0.3])

    fake.now += 10.0  # long after the last call: no sleep
    stub.add_response("lookup_events", page(record(ARN + "-2")), by_resource(NAME + "-2"))
    assert trail.create_record(EVENT, NAME + "-2", ARN + "-2") is not None
    assert fake.sleeps == pytest.approx([0.3, 0.3])


def test_back_to_back_calls_sleep_the_whole_interval(
    client: CloudTrailClient, fake: FakeTime, stub: Stubber
) -> None:
    trail = CreatorTrail(
        client, 300.0, clock=fake.clock, sleep=fake.sleep, wall=lambda: NOW, min_interval=1.0
    )
    stub.add_response("lookup_events", page(token="t1"), by_resource())
    stub.add_response("lookup_events", page(record()), by_resource(token="t1"))

    assert trail.create_record(EVENT, NAME, ARN) is not None
    assert fake.sleeps == [1.0]


def test_results_are_cached_per_event_and_arn_for_ttl(
    trail: CreatorTrail, stub: Stubber, fake: FakeTime
) -> None:
    stub.add_response("lookup_events", page(record()), by_resource())
    first = trail.create_record(EVENT, NAME, ARN)

    assert trail.create_record(EVENT, NAME, ARN) == first  # no request: Stubber would fail
    assert trail.create_record(EVENT, NAME, ARN.upper()) == first
    stub.assert_no_pending_responses()

    fake.now += 301.0
    stub.add_response("lookup_events", page(record()), by_resource())
    assert trail.create_record(EVENT, NAME, ARN) == first


def test_no_match_is_cached_too(trail: CreatorTrail, stub: Stubber) -> None:
    stub.add_response("lookup_events", page(), by_resource())
    stub.add_response("lookup_events", page(record(ARN + "-other")), by_event())

    assert trail.create_record(EVENT, NAME, ARN) is None
    assert trail.create_record(EVENT, NAME, ARN) is None  # no second request


def test_the_resource_name_pages_are_capped_then_the_fallback_runs(
    trail: CreatorTrail, stub: Stubber
) -> None:
    describe = record(eventName="DescribeEndpoint", responseElements=None)
    token = None
    for index in range(RESOURCE_PAGES):
        stub.add_response(
            "lookup_events", page(describe, token=f"r{index}"), by_resource(token=token)
        )
        token = f"r{index}"
    stub.add_response("lookup_events", page(record()), by_event())

    found = trail.create_record(EVENT, NAME, ARN)

    assert found is not None
    assert found.event_id == "e-1"


def test_the_fallback_scans_event_name_pages_for_the_arn(
    client: CloudTrailClient, fake: FakeTime, stub: Stubber
) -> None:
    """ResourceName finds nothing (CloudTrail may not index SageMaker names): the fallback
    looks up the Create* call by name and reads each response for the ARN."""
    trail = CreatorTrail(
        client, 300.0, clock=fake.clock, sleep=fake.sleep, wall=lambda: NOW, fallback_pages=2
    )
    stub.add_response("lookup_events", page(), by_resource())
    stub.add_response("lookup_events", page(record(ARN + "-a"), token="t1"), by_event())
    stub.add_response(
        "lookup_events",
        page(record(ARN.upper(), event_id="mine"), token="t2"),
        by_event(token="t1"),
    )
    # A third page exists (token t2) but lies past fallback_pages: never asked for.

    found = trail.create_record(EVENT, NAME, ARN)

    assert found is not None
    assert found.event_id == "mine"


def test_the_fallback_scan_is_shared_by_resources_of_a_kind(
    trail: CreatorTrail, stub: Stubber
) -> None:
    stub.add_response("lookup_events", page(), by_resource())
    stub.add_response(
        "lookup_events",
        page(record(event_id="one"), record(ARN + "-b", event_id="two")),
        by_event(),
    )
    stub.add_response("lookup_events", page(), by_resource(NAME + "-b"))

    first = trail.create_record(EVENT, NAME, ARN)
    second = trail.create_record(EVENT, NAME + "-b", ARN + "-b")  # no second EventName scan

    assert first is not None
    assert first.event_id == "one"
    assert second is not None
    assert second.event_id == "two"


def test_throttling_raises_and_caches_nothing(trail: CreatorTrail, stub: Stubber) -> None:
    stub.add_client_error(
        "lookup_events",
        service_error_code="ThrottlingException",
        service_message="Rate exceeded",
        http_status_code=400,
        expected_params=by_resource(),
    )

    with pytest.raises(ClientError) as raised:
        trail.create_record(EVENT, NAME, ARN)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"

    stub.add_response("lookup_events", page(record()), by_resource())
    assert trail.create_record(EVENT, NAME, ARN) is not None
