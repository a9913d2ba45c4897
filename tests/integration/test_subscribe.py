"""`autotag subscribe` against SNS's quota of filter policies per topic, on the local emulator."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from autotag import aws, cli, subscriptions
from local.emulator import Emulator, Stack
from tests.conftest import ApiCalls

pytestmark = pytest.mark.integration

PEOPLE = 1000


def big_registry(tmp_path: Path, people: int = PEOPLE) -> Path:
    """A registry of `people` people, each with an e-mail, in one project."""
    lines = ["projects:", "  - name: Big", "    owner: p0000@example.com", "people:"]
    for n in range(people):
        lines += [f"  - id: p{n:04d}", f"    email: p{n:04d}@example.com", "    project: Big"]
    path = tmp_path / "registry.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def load(path: Path, stack: Stack) -> None:
    assert cli.main(["registry", "load", str(path), "--table", stack.registry_table]) == 0


def email_filters(emulator: Emulator, stack: Stack) -> dict[str, dict[str, Any]]:
    """Each e-mail subscription of the topic and its filter policy."""
    sns = emulator.sns()
    found: dict[str, dict[str, Any]] = {}
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=stack.topic_arn)
    for page in pages:
        for sub in page["Subscriptions"]:
            if sub["Protocol"] == "email":
                arn = sub["SubscriptionArn"]
                attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
                found[sub["Endpoint"]] = json.loads(attributes.get("FilterPolicy", "null"))
    return found


def subscribe_args(stack: Stack, *more: str) -> list[str]:
    return ["subscribe", "--table", stack.registry_table, "--topic", stack.topic_arn, *more]


def test_a_thousand_people_get_no_more_subscriptions_than_the_quota_and_a_warning(
    emulator: Emulator, stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(big_registry(tmp_path), stack)
    capsys.readouterr()
    assert cli.main(subscribe_args(stack)) == 1  # the quota left people out
    out, err = capsys.readouterr()

    created = email_filters(emulator, stack)
    assert len(created) == subscriptions.DEFAULT_QUOTA  # the inbox queue's has no filter policy
    assert all(
        policy == {"recipient": [{"equals-ignore-case": email}]}
        for email, policy in created.items()
    )
    assert "200 new subscriptions, 0 already subscribed" in out
    assert "quota (SNS default; Service Quotas: NoSuchResourceException)" in out
    assert re.search(r"not subscribed\W+800\b", out)
    assert "warning: this topic needs 1000 filter policies, 500% of its quota of 200" in err
    assert (
        "aws service-quotas request-service-quota-increase --service-code sns "
        "--quota-code L-B96EDA7D --desired-value 1250"
    ) in err
    assert "aws service-quotas list-service-quotas --service-code sns" in err
    assert "error: 800 addresses not subscribed" in err

    # Again: the topic is full, nothing more is created, the same 800 are left out.
    assert cli.main(subscribe_args(stack)) == 1
    out, err = capsys.readouterr()
    assert email_filters(emulator, stack) == created
    assert "0 new subscriptions, 200 already subscribed" in out
    assert "error: 800 addresses not subscribed" in err


def test_a_raised_quota_subscribes_all_thousand(
    emulator: Emulator, stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    load(big_registry(tmp_path), stack)
    capsys.readouterr()
    assert cli.main(subscribe_args(stack, "--quota", "1500")) == 0
    out, err = capsys.readouterr()
    created = email_filters(emulator, stack)
    assert len(created) == PEOPLE
    assert all(
        policy == {"recipient": [{"equals-ignore-case": email}]}
        for email, policy in created.items()
    )
    assert "1000 new subscriptions, 0 already subscribed" in out
    assert "quota (--quota)" in out
    assert err == ""  # 1,001 subscriptions at most: below 90 % of 1,500, no warning


def test_near_the_quota_everyone_is_subscribed_with_a_warning(
    emulator: Emulator, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # The example registry's 7 addresses against a quota of 7: 100 %, not beyond.
    assert cli.main(subscribe_args(stack, "--quota", "7")) == 0
    out, err = capsys.readouterr()
    assert len(email_filters(emulator, stack)) == 7
    assert "7 new subscriptions" in out
    assert "warning: this topic needs 7 filter policies, 100% of its quota of 7" in err
    assert "--desired-value 8" in err
    assert "error:" not in err


def test_filter_policies_are_read_only_near_the_quota(
    stack: Stack, api_calls: ApiCalls, capsys: pytest.CaptureFixture[str]
) -> None:
    api_calls.seen.clear()
    assert cli.main(subscribe_args(stack, "--quota", "100")) == 0  # 8 of 100: far below
    assert "sns:GetSubscriptionAttributes" not in api_calls.seen
    assert "servicequotas:GetServiceQuota" not in api_calls.seen  # --quota given
    assert "at most 8" in capsys.readouterr().out  # each subscription counted as one

    api_calls.seen.clear()
    assert cli.main(subscribe_args(stack, "--quota", "8")) == 0  # 7 policies of 8: near
    # one read per subscription: the inbox queue and the 7 people
    assert api_calls.seen.count("sns:GetSubscriptionAttributes") == 8
    assert api_calls.seen.count("sns:ListSubscriptionsByTopic") == 1
    assert "sns:Subscribe" not in api_calls.seen
    out = capsys.readouterr().out
    assert "at most" not in out
    assert "0 new subscriptions, 7 already subscribed" in out


class Refusing:
    """An SNS client that refuses every filter policy after `allowed` subscriptions, as SNS does
    when a quota is lower than the one the command was given."""

    def __init__(self, real: Any, allowed: int) -> None:
        self.real = real
        self.allowed = allowed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def subscribe(self, **kwargs: Any) -> Any:
        if self.allowed == 0:
            raise ClientError(
                {"Error": {"Code": "FilterPolicyLimitExceeded", "Message": "Filter policy limit"}},
                "Subscribe",
            )
        self.allowed -= 1
        return self.real.subscribe(**kwargs)


def test_sns_refusing_a_filter_policy_stops_the_run_and_fails(
    emulator: Emulator,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    refusing = Refusing(aws.sns(), allowed=3)
    monkeypatch.setattr(aws, "sns", lambda: refusing)
    assert cli.main(subscribe_args(stack, "--quota", "50")) == 1
    err = capsys.readouterr().err
    assert len(email_filters(emulator, stack)) == 3
    assert "error: SNS refused a filter policy: Filter policy limit" in err
    assert "error: 4 addresses not subscribed" in err


class Quotas:
    """A Service Quotas client that answers `GetServiceQuota` with `answer`, or raises it."""

    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.answer = answer

    def get_service_quota(self, **kwargs: str) -> dict[str, Any]:
        assert kwargs == {"ServiceCode": "sns", "QuotaCode": subscriptions.QUOTA_CODE}
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def quota(name: str, value: float) -> dict[str, Any]:
    return {"Quota": {"QuotaName": name, "QuotaCode": subscriptions.QUOTA_CODE, "Value": value}}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (quota("Filter Policies per Topic", 2000.0), (2000, "")),
        (
            ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetServiceQuota"),
            (None, "AccessDeniedException"),
        ),
        (
            EndpointConnectionError(endpoint_url="https://servicequotas.example"),
            (None, "EndpointConnectionError"),
        ),
        (quota("Topics per Account", 100000.0), (None, "L-B96EDA7D is 'Topics per Account' here")),
        ({"Quota": {"QuotaName": "Filter Policies per Topic"}}, (None, "no applied value")),
    ],
    ids=["applied", "denied", "unreachable", "another-quota", "no-value"],
)
def test_the_applied_quota_is_read_when_allowed_and_left_out_otherwise(
    answer: dict[str, Any] | Exception, expected: tuple[int | None, str]
) -> None:
    assert subscriptions.applied_quota(Quotas(answer)) == expected


def test_the_applied_quota_from_service_quotas_is_the_bound(
    emulator: Emulator,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(subscriptions, "applied_quota", lambda _client: (5, ""))
    assert cli.main(subscribe_args(stack)) == 1
    out, err = capsys.readouterr()
    assert len(email_filters(emulator, stack)) == 5
    assert "quota (Service Quotas)" in out
    assert "error: 2 addresses not subscribed" in err


def test_a_subscription_gets_its_readers_messages_however_the_address_is_spelled(
    emulator: Emulator, stack: Stack
) -> None:
    """A project's owner may be written `Alice@Example.com` where the person is
    `alice@example.com`: both reach the one subscription."""
    sqs, sns = emulator.sqs(), emulator.sns()
    url = sqs.create_queue(QueueName="alices-mail")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=stack.topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": subscriptions.filter_policy("alice@example.com")},
    )
    for reader in ("Alice@Example.com", "alice@example.com", "bob@example.com"):
        sns.publish(
            TopicArn=stack.topic_arn,
            Message=f"to {reader}",
            MessageAttributes={"recipient": {"DataType": "String", "StringValue": reader}},
        )
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    bodies = sorted(json.loads(m["Body"])["Message"] for m in got.get("Messages", []))
    assert bodies == ["to Alice@Example.com", "to alice@example.com"]
