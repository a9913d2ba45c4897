"""At-least-once delivery, faults and bursts, measured against the local emulator.

Each test prints the figures it measured (run pytest with -s to see them)."""

from __future__ import annotations

import copy
import json
import random
from collections import Counter
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest

import app
from app import lambda_handler
from autotag.events import parse
from autotag.redrive import redrive
from local import functions, template
from local.emulator import Emulator, Stack
from local.faults import Faults
from tests.conftest import FakeContext, corpus_names, load_event, seed_from_event, tags_of
from tests.conftest import variant as distinct

pytestmark = pytest.mark.integration

TAGGABLE = [name for name in corpus_names() if template.rule_matches(load_event(name))]


def variant(name: str, index: int) -> dict[str, Any]:
    """A corpus event made distinct: its own eventID and resource."""
    return distinct(load_event(name), index)


def invoke_like_lambda(event: dict[str, Any], attempts: int = 3) -> dict[str, Any] | None:
    """EventBridge invokes asynchronously: Lambda tries three times in all."""
    for _ in range(attempts):
        try:
            summary: dict[str, Any] = lambda_handler(event, FakeContext())
        except Exception:
            continue
        return summary
    return None


@pytest.fixture
def every_notice(monkeypatch: pytest.MonkeyPatch) -> None:
    """No notification windows: each event that needs a notice gets its own."""
    monkeypatch.setenv("NOTIFY_WINDOW_SECONDS", "0")
    app.tagger.cache_clear()


def test_a_thousand_events_and_250_duplicates(
    emulator: Emulator, stack: Stack, every_notice: None
) -> None:
    rng = random.Random(20241129)
    distinct = [variant(TAGGABLE[i % len(TAGGABLE)], i) for i in range(1000)]
    for event in distinct:
        seed_from_event(emulator, event)
    deliveries = distinct + [copy.deepcopy(e) for e in rng.sample(distinct, 250)]
    rng.shuffle(deliveries)

    errors = 0
    first: dict[str, dict[str, Any]] = {}
    duplicates = 0
    for event in deliveries:
        try:
            summary = lambda_handler(event, FakeContext())
        except Exception:
            errors += 1
            continue
        if summary.get("duplicate"):
            duplicates += 1
        else:
            first[summary["eventId"]] = summary

    notes = emulator.notifications(stack)
    needing = sum(1 for summary in first.values() if summary["notified"])
    tagged = 0
    for summary in first.values():
        tags = tags_of(emulator, summary["resourceArn"])
        added = {key: item["value"] for key, item in summary["added"].items()}
        assert all(tags.get(key) == value for key, value in added.items())
        tagged += bool(added) or summary["status"] == "compliant"
    print(
        json.dumps(
            {
                "deliveries": len(deliveries),
                "distinct": len(first),
                "duplicates_replayed": duplicates,
                "handler_errors": errors,
                "resources_tagged_or_compliant": tagged,
                "notifications": len(notes),
                "events_needing_a_notice": needing,
            }
        )
    )
    assert errors == 0
    assert len(first) == 1000
    assert duplicates == 250
    assert tagged == 1000
    assert len(notes) == needing  # exactly one per event that needs one
    per_event = Counter(n.body.split("Resource: ", 1)[1].split("\n", 1)[0] for n in notes)
    assert max(per_event.values()) == 1


@pytest.fixture
def throttled(monkeypatch: pytest.MonkeyPatch) -> Iterator[Faults]:
    """30 % of ListTags and AddTags answered ThrottlingException; backoff does not sleep."""
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda _: None))
    fault = Faults(frozenset({"sagemaker.ListTags", "sagemaker.AddTags"}), rate=0.3, seed=3)
    assert boto3.DEFAULT_SESSION is not None
    app.tagger.cache_clear()
    fault.install(boto3.DEFAULT_SESSION.events)
    yield fault
    fault.uninstall(boto3.DEFAULT_SESSION.events)
    app.tagger.cache_clear()


def test_thirty_percent_throttled_loses_nothing(
    emulator: Emulator, stack: Stack, every_notice: None, throttled: Faults
) -> None:
    events = [variant(TAGGABLE[i % len(TAGGABLE)], i) for i in range(200)]
    for event in events:
        seed_from_event(emulator, event)
    sqs = emulator.sqs()
    gave_up = 0
    for event in events:
        if invoke_like_lambda(event) is None:  # Lambda's on-failure destination keeps it
            gave_up += 1
            body = json.dumps({"requestPayload": event, "responsePayload": {"errorType": "x"}})
            sqs.send_message(QueueUrl=stack.failed_events_url, MessageBody=body)
    replay = redrive(sqs, stack.failed_events_url, lambda e: lambda_handler(e, FakeContext()))
    while replay.failed:  # an operator runs `autotag redrive` again
        replay = redrive(sqs, stack.failed_events_url, lambda e: lambda_handler(e, FakeContext()))

    missing = []
    for event in events:
        arn = parse(event).resource.arn
        tags = tags_of(emulator, arn)
        if "ML-Phase" not in tags and len(tags) < 50:
            missing.append(arn)
    sent = sum(throttled.sent.values())
    print(
        json.dumps(
            {
                "events": len(events),
                "attempts_sent": sent,
                "attempts_throttled": sum(throttled.failed.values()),
                "throttled_share": round(sum(throttled.failed.values()) / sent, 3),
                "invocations_given_up_then_redriven": gave_up,
                "untagged_after_redrive": len(missing),
            }
        )
    )
    assert sum(throttled.failed.values()) / sent > 0.25
    assert missing == []
    assert sqs.receive_message(QueueUrl=stack.failed_events_url).get("Messages") is None


def test_a_500_job_tuning_burst_from_one_person_is_one_digest(
    emulator: Emulator, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_DELAY_SECONDS", "1")
    app.tagger.cache_clear()
    burst = [variant("studio-source-identity_CreateTrainingJob", i) for i in range(500)]
    deliveries: Counter[str] = Counter()
    for event in burst:
        seed_from_event(emulator, event)
        deliveries[lambda_handler(event, FakeContext())["notification"]] += 1
    timer = emulator.sqs_event(stack.digest_queue_url, expect=1)
    functions.module("notify_digest").lambda_handler(timer, FakeContext())
    notes = emulator.notifications(stack)
    print(
        json.dumps(
            {
                "events": len(burst),
                "deliveries": dict(deliveries),
                "timer_messages": len(timer["Records"]),
                "messages_sent": len(notes),
                "digest_bytes": len(notes[0].body.encode()) if notes else 0,
            }
        )
    )
    assert deliveries == {"scheduled": 1, "gathered": 499}
    assert len(timer["Records"]) == 1
    assert len(notes) == 1
    digest = notes[0]
    assert digest.recipient == "alice@example.com"
    assert digest.subject.startswith("[autotag] 500 resources lacked")
    assert digest.body.startswith("500 SageMaker resources you created")
    assert "bert-finetune-alice-0603-r0" in digest.body
    assert "... and 450 more not listed" in digest.body
    assert len(digest.body.encode()) < 256 * 1024
    # later in the window: counted, not sent
    late = variant("studio-source-identity_CreateTrainingJob", 999)
    seed_from_event(emulator, late)
    assert lambda_handler(late, FakeContext())["notification"] == "suppressed"
    assert emulator.notifications(stack) == []
