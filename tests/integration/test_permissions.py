"""The function calls exactly the AWS operations its IAM policy allows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import app
from app import lambda_handler
from autotag.gather import ResourceNotVisibleError
from autotag.local_context import LocalContext
from local import functions, template
from local.emulator import Emulator, Stack
from tests.conftest import (
    ARN,
    ApiCalls,
    FakeContext,
    corpus_names,
    load_event,
    seed_from_event,
)
from tests.integration.test_sweep import seed_lineage_account
from tests.template.test_template import (
    DECLARED,
    DIGEST,
    DIGEST_DECLARED,
    SWEEP,
    SWEEP_DECLARED,
    code_actions,
)

pytestmark = pytest.mark.integration


def test_the_corpus_calls_exactly_the_permitted_operations(
    emulator: Emulator, stack: Stack, api_calls: ApiCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    api_calls.seen.clear()
    for name in corpus_names():
        event = load_event(name)
        if template.rule_matches(event):
            seed_from_event(emulator, event)
        lambda_handler(event, FakeContext())
    lambda_handler(load_event("sso_CreateAutoMLJob"), FakeContext())  # a repeated delivery
    failing = load_event("sso_CreateAutoMLJob")
    failing["detail"]["eventID"] = "fails-once"
    failing["detail"]["eventTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    failing["detail"]["responseElements"]["autoMLJobArn"] += "-never-created"
    app.tagger().gatherer.sleep = lambda _: None
    with pytest.raises(ResourceNotVisibleError):  # releases its idempotency record
        lambda_handler(failing, FakeContext())
    monkeypatch.setenv("DIGEST_DELAY_SECONDS", "1")  # a window that gathers: a timer starts
    app.tagger.cache_clear()
    for index, dropped in enumerate(("ML-Phase", "Environment")):  # two windows, one reader
        gathering = load_event("compliant_CreateTrainingJob")  # but for one key: a new window
        detail = gathering["detail"]
        detail["eventID"] = f"opens-a-window-{index}"
        detail["responseElements"]["trainingJobArn"] += f"-{index + 2}"
        detail["requestParameters"]["tags"] = [
            tag for tag in detail["requestParameters"]["tags"] if tag["key"] != dropped
        ]
        seed_from_event(emulator, gathering)
        assert lambda_handler(gathering, FakeContext())["notification"] == "scheduled"
    called = set(api_calls.seen)
    assert called == code_actions() == DECLARED

    api_calls.seen.clear()  # the digest function, when the timers fire
    event = emulator.sqs_event(stack.digest_queue_url, expect=2, timeout=3.0)
    assert len(event["Records"]) == 2
    digest = functions.module("notify_digest")
    for record, cap in zip(event["Records"], ("100", "1"), strict=True):
        monkeypatch.setenv("DAILY_MESSAGE_CAP", cap)  # the first sent, the second held
        digest.outbox.cache_clear()
        digest.lambda_handler({"Records": [record]}, FakeContext())
    digest.outbox.cache_clear()
    assert set(api_calls.seen) == code_actions(DIGEST) == DIGEST_DECLARED


def test_the_sweep_calls_only_what_its_policy_allows(
    emulator: Emulator, stack: Stack, api_calls: ApiCalls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An account where the sweep meets every kind of read: bulk and listed kinds, a space and
    an app (described: their listings carry no ARN), and each parent a swept resource can have."""
    seed_lineage_account(emulator)
    monkeypatch.setenv("DIGEST_DELAY_SECONDS", "1")  # the first notice starts a digest timer
    module = functions.module("sweep")
    module.sweep.cache_clear()
    api_calls.seen.clear()

    summary = module.lambda_handler({}, LocalContext(timeout_seconds=900))
    assert summary["status"] == "done"
    assert summary["handled"]
    # Once more without windows, for a resource added since: its notice is published at once.
    emulator.seed_resource(f"{ARN}:model/m2", {"Owner": "bob@example.com"})
    monkeypatch.setenv("NOTIFY_WINDOW_SECONDS", "0")
    module.sweep.cache_clear()
    assert module.lambda_handler({}, LocalContext(timeout_seconds=900))["handled"]

    called = set(api_calls.seen)
    # The tagging policy is shared with the event path, which alone describes a training job
    # or an endpoint (when a service event or a DeleteTags names no parent).
    event_path_only = {"sagemaker:DescribeTrainingJob", "sagemaker:DescribeEndpoint"}
    assert called == code_actions(SWEEP) - event_path_only
    assert code_actions(SWEEP) == SWEEP_DECLARED
    module.sweep.cache_clear()
