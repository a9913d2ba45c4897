"""Notices that always arrive: one injected failure at each step after a notice is decided,
through the real handlers (the tagging function retried as Lambda retries an asynchronous
invocation, the digest function as SQS redelivers a batch item), ends with exactly one message
for the window."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest

import app
from app import lambda_handler
from local import functions
from local.emulator import Emulator, Stack
from local.faults import Faults
from tests.conftest import FakeContext, load_event, seed_from_event, tags_of
from tests.conftest import variant as distinct

EVENT = "studio-source-identity_CreateTrainingJob"  # alice: she is told, Added: ...


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Faults]]:
    """Faults installed on the functions' clients; botocore's backoff does not sleep."""
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda _: None))
    installed: list[Faults] = []
    yield installed
    assert boto3.DEFAULT_SESSION is not None
    for fault in installed:
        fault.uninstall(boto3.DEFAULT_SESSION.events)
    app.tagger.cache_clear()
    functions.module("notify_digest").outbox.cache_clear()


def like_lambda(event: dict[str, Any], attempts: int = 3) -> list[dict[str, Any] | str]:
    """An asynchronous invocation: the first try and Lambda's retries after an error."""
    outcomes: list[dict[str, Any] | str] = []
    for _ in range(attempts):
        try:
            outcomes.append(lambda_handler(event, FakeContext()))
        except Exception as error:  # Lambda retries any error
            outcomes.append(f"{type(error).__name__}: {error}")
            continue
        return outcomes
    return outcomes


def fire_timers(emulator: Emulator, stack: Stack, wait: float) -> int:
    """The digest function as SQS runs it: each timer handled, a failed one delivered again.
    Returns how many timers it took."""
    digest = functions.module("notify_digest").lambda_handler
    taken = 0
    batch = emulator.sqs_event(stack.digest_queue_url, expect=1, timeout=wait)["Records"]
    while batch:
        taken += len(batch)
        try:
            answer = digest({"Records": batch}, FakeContext())
        except Exception:  # the whole batch failed: SQS delivers all of it again
            again = batch
        else:
            failed = {item["itemIdentifier"] for item in answer.get("batchItemFailures", [])}
            again = [record for record in batch if record["messageId"] in failed]
        later = emulator.sqs_event(stack.digest_queue_url, timeout=0.2)["Records"]
        batch = again + later
    return taken


def install(installed: list[Faults], fault: Faults) -> Faults:
    assert boto3.DEFAULT_SESSION is not None
    fault.install(boto3.DEFAULT_SESSION.events)
    installed.append(fault)
    return fault


def once(operation: str, matching: bytes = b"", after: int = 0) -> Faults:
    """One failure of `operation` that botocore does not retry away."""
    return Faults(
        frozenset({operation}),
        code="AccessDeniedException",
        limit=1,
        matching=matching,
        after=after,
    )


# (where it fails, the fault, the window's gathering delay)
FAILURES: dict[str, tuple[Faults, str]] = {
    "the claim (state table)": (once("dynamodb.UpdateItem", b'"resource#'), "1"),
    "the read under the lease": (once("sagemaker.ListTags", after=1), "1"),
    "AddTags": (once("sagemaker.AddTags"), "1"),
    "the window's write": (once("dynamodb.UpdateItem", b'"notice#'), "1"),
    "the timer's SendMessage": (once("sqs.SendMessage"), "1"),
    "the digest's lease on the window": (once("dynamodb.UpdateItem", b"lease_ends = :lease"), "1"),
    "the digest's Publish": (once("sns.Publish"), "1"),
    "the digest's mark of the window as sent": (
        once("dynamodb.UpdateItem", b"flushed = :yes"),
        "1",
    ),
    "Publish at once (no gathering delay)": (once("sns.Publish"), "0"),
    "the mark after Publish at once": (once("dynamodb.UpdateItem", b"flushed = :yes"), "0"),
}


@pytest.mark.parametrize("where", list(FAILURES))
def test_one_failure_anywhere_ends_with_exactly_one_message(
    emulator: Emulator,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    quick_retries: list[Faults],
    where: str,
) -> None:
    fault, delay = FAILURES[where]
    monkeypatch.setenv("DIGEST_DELAY_SECONDS", delay)
    app.tagger.cache_clear()
    functions.module("notify_digest").outbox.cache_clear()
    first, second = distinct(load_event(EVENT), 1), distinct(load_event(EVENT), 2)
    for event in (first, second):
        seed_from_event(emulator, event)
    install(quick_retries, fault)

    outcomes = like_lambda(first) + like_lambda(second)
    timers = fire_timers(emulator, stack, wait=3.0 if delay != "0" else 0.2)
    notes = emulator.notifications(stack)

    print(json.dumps({"where": where, "outcomes": outcomes, "timers": timers}, default=str))
    assert sum(fault.failed.values()) == 1, f"the fault at {where} never fired"
    assert len(notes) == 1, [n.subject for n in notes]
    message = notes[0]
    assert message.recipient == "alice@example.com"
    resources = [e["detail"]["responseElements"]["trainingJobArn"] for e in (first, second)]
    if delay == "0":  # the first notice went alone; the second was counted in its window
        assert resources[0] in message.body
    else:  # both gathered into one digest
        assert all(arn in message.body for arn in resources), message.body
        assert message.body.startswith("2 SageMaker resources you created")
    for arn in resources:  # and the tags were written, once each
        assert tags_of(emulator, arn)["Project"] == "Alpha-NLP"
    replay = like_lambda(first)  # one more delivery changes nothing
    assert isinstance(replay[-1], dict)
    assert replay[-1]["status"] == "duplicate"
    fire_timers(emulator, stack, wait=0.2)
    assert emulator.notifications(stack) == []


def test_a_timer_the_digest_function_gave_up_on_is_redriven(
    emulator: Emulator,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    quick_retries: list[Faults],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Publish refused until SQS gives the timer to the digest dead-letter queue (not the
    failed-events queue, whose messages are events); `autotag redrive` sends the window's
    message from there and empties the queue, so its alarm clears."""
    from autotag import cli  # noqa: PLC0415

    monkeypatch.setenv("DIGEST_DELAY_SECONDS", "1")
    app.tagger.cache_clear()
    event = distinct(load_event(EVENT), 7)
    seed_from_event(emulator, event)
    assert like_lambda(event)[-1]["notification"] == "scheduled"  # type: ignore[index]
    timer = emulator.sqs_event(stack.digest_queue_url, expect=1, timeout=3.0)["Records"]
    install(quick_retries, Faults(frozenset({"sns.Publish"}), code="AccessDeniedException"))
    digest = functions.module("notify_digest").lambda_handler
    for _ in range(5):  # maxReceiveCount in template.yaml
        with pytest.raises(Exception, match="All records failed"):
            digest({"Records": timer}, FakeContext())
    sqs = emulator.sqs()  # SQS moves it to the queue the template names
    sqs.send_message(QueueUrl=stack.digest_dead_letter_url, MessageBody=timer[0]["body"])
    for fault in quick_retries:  # Publish works again
        assert boto3.DEFAULT_SESSION is not None
        fault.uninstall(boto3.DEFAULT_SESSION.events)
    quick_retries.clear()
    assert emulator.notifications(stack) == []

    assert cli.main(["redrive", "--queue", stack.digest_dead_letter_url]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "replayed 1 (1 digest timers: 1 digest sent)" in out
    notes = emulator.notifications(stack)
    assert [n.recipient for n in notes] == ["alice@example.com"]
    left = sqs.get_queue_attributes(
        QueueUrl=stack.digest_dead_letter_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert left == "0"


@pytest.mark.parametrize(
    ("project", "reader", "metric"),
    [
        ("Alpha-NLP", "alice@example.com", "NoticesToProjectOwner"),
        (None, "admin", "NoticesToAdmin"),
    ],
)
def test_a_creator_the_registry_does_not_know_is_named_to_someone_subscribed(
    emulator: Emulator,
    stack: Stack,
    capsys: pytest.CaptureFixture[str],
    project: str | None,
    reader: str,
    metric: str,
) -> None:
    """zed signs in through IAM Identity Center: his e-mail is known, but not to the registry,
    so nobody subscribed it. The notice goes to the project's owner (or the admins), names
    him as CloudTrail shows him, and says how to add him."""
    event = copy.deepcopy(load_event("sso_CreateAutoMLJob"))
    identity = event["detail"]["userIdentity"]
    for field in ("principalId", "arn"):
        identity[field] = identity[field].replace("carol@example.com", "zed@example.com")
    if project:
        event["detail"]["requestParameters"]["tags"] = [{"key": "Project", "value": project}]
    seed_from_event(emulator, event)
    capsys.readouterr()
    summary = lambda_handler(event, FakeContext())
    notes = emulator.notifications(stack)
    assert [n.recipient for n in notes] == [reader]
    assert summary["recipient"] == reader
    body = notes[0].body
    assert "zed@example.com" in body
    assert "add them to the registry" in body
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert any(metric in record for record in emitted)


def test_a_week_of_dry_run_does_not_silence_the_first_enforced_notice(
    emulator: Emulator, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = distinct(load_event(EVENT), 11), distinct(load_event(EVENT), 12)
    for event in (first, second):
        seed_from_event(emulator, event)
    monkeypatch.setenv("MODE", "dry-run")
    app.tagger.cache_clear()
    assert lambda_handler(first, FakeContext())["notification"] == "sent"
    monkeypatch.setenv("MODE", "enforce")
    app.tagger.cache_clear()
    assert lambda_handler(second, FakeContext())["notification"] == "sent"  # its own window
    notes = emulator.notifications(stack)
    assert [n.outcome for n in notes] == ["dry-run", "tagged"]
    assert "Would add" in notes[0].body
    assert "Added:" in notes[1].body


def test_a_notice_whose_retry_comes_after_another_trigger_still_arrives(
    emulator: Emulator, stack: Stack, monkeypatch: pytest.MonkeyPatch, quick_retries: list[Faults]
) -> None:
    """The Create call's timer SendMessage fails once; before Lambda's retry, the job's state
    change claims the same resource (its record then keeps the state change's notices, none).
    The retry is a duplicate with nothing of its own to offer again: the state change, which
    took the record over, offers the notices it found there (their tags are on the resource)."""
    monkeypatch.setenv("DIGEST_DELAY_SECONDS", "1")
    app.tagger.cache_clear()
    create = distinct(load_event(EVENT), 21)
    arn = create["detail"]["responseElements"]["trainingJobArn"]
    seed_from_event(emulator, create)
    change = copy.deepcopy(load_event("state-change_TrainingJob"))
    change["detail"]["TrainingJobArn"] = arn
    change["detail"]["TrainingJobName"] = arn.rsplit("/", 1)[1]
    change["resources"] = [arn]
    install(quick_retries, once("sqs.SendMessage"))

    assert isinstance(like_lambda(create, attempts=1)[0], str)  # the timer failed
    assert tags_of(emulator, arn)["Project"] == "Alpha-NLP"  # the tags were written
    changed = like_lambda(change)
    assert isinstance(changed[-1], dict), changed
    retried = like_lambda(create)
    assert isinstance(retried[-1], dict), retried
    assert retried[-1]["status"] == "duplicate"
    fire_timers(emulator, stack, wait=3.0)

    notes = emulator.notifications(stack)
    assert [n.recipient for n in notes] == ["alice@example.com"]
    assert arn in notes[0].body
    assert "Added:" in notes[0].body


def test_a_notice_of_a_write_that_never_happened_is_not_offered_by_the_next_trigger(
    emulator: Emulator, stack: Stack, monkeypatch: pytest.MonkeyPatch, quick_retries: list[Faults]
) -> None:
    """AddTags refused for good: the Create call's claimed notice says "Added" of tags that
    are not there. The next trigger that takes the record over does not send it."""
    monkeypatch.setenv("DIGEST_DELAY_SECONDS", "0")
    app.tagger.cache_clear()
    create = distinct(load_event(EVENT), 22)
    arn = create["detail"]["responseElements"]["trainingJobArn"]
    seed_from_event(emulator, create)
    refused = install(
        quick_retries,
        Faults(frozenset({"sagemaker.AddTags"}), code="AccessDeniedException", limit=3),
    )
    assert all(isinstance(o, str) for o in like_lambda(create))  # Lambda gave up
    assert sum(refused.failed.values()) == 3
    change = copy.deepcopy(load_event("state-change_TrainingJob"))
    change["detail"]["TrainingJobArn"] = arn
    change["detail"]["TrainingJobName"] = arn.rsplit("/", 1)[1]
    change["resources"] = [arn]
    summary = like_lambda(change)[-1]
    assert isinstance(summary, dict), summary
    notes = emulator.notifications(stack)
    # the state change writes and tells on its own; the Create call's notice is not sent
    assert len(notes) == 1, [n.body for n in notes]
    assert tags_of(emulator, arn)["Project"] == "Alpha-NLP"
