"""Replay what failed: the rule's dead-letter queue holds EventBridge events, the function's
failed-events queue holds Lambda's on-failure records (the event is in `requestPayload`), the
digest dead-letter queue holds notification windows' timers (`{"key": "notice#..."}`). Events
go through the same `Tagger.handle`, timers through the same `Outbox.flush`; a message is
deleted only after it was handled."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from autotag.state import NOTICE_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

permissions: Final = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility")


def event_of(body: str) -> dict[str, Any] | None:
    """The EventBridge event a queued message carries, or None if it carries none."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError:
        return None
    if not isinstance(message, dict):
        return None
    payload = message.get("requestPayload", message)  # a Lambda on-failure record, or the event
    return payload if isinstance(payload, dict) and "detail" in payload else None


def timer_of(body: str) -> str | None:
    """The notification window a digest timer names, or None if the message is no timer."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError:
        return None
    key = message.get("key") if isinstance(message, dict) else None
    return key if isinstance(key, str) and key.startswith(NOTICE_PREFIX) else None


def _keep(sqs: SQSClient, queue_url: str, receipt: str) -> None:
    """Leave the message in the queue, visible again for the next attempt."""
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)


@dataclass
class RedriveResult:
    replayed: int = 0
    failed: list[str] = field(default_factory=list)  # why each kept message failed
    unreadable: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)  # "event", "digest timer"


def redrive(
    sqs: SQSClient,
    queue_url: str,
    handle: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    flush: Callable[[str], bool] | None = None,
    limit: int | None = None,
) -> RedriveResult:
    """Handle every message of the queue once; delete those handled, keep the others. Events
    go to `handle`; digest timers to `flush` (without it they are kept, as unreadable)."""
    result = RedriveResult()
    seen: set[str] = set()
    while limit is None or len(seen) < limit:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=120
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        for again in (m for m in messages if m["MessageId"] in seen):
            _keep(sqs, queue_url, again["ReceiptHandle"])  # met before: left for next time
        if not fresh:
            return result
        for message in fresh:
            seen.add(message["MessageId"])
            body = message.get("Body", "")
            event, key = event_of(body), timer_of(body)
            if event is None and (key is None or flush is None):
                result.unreadable += 1
                _keep(sqs, queue_url, message["ReceiptHandle"])
                continue
            kind = "event" if event is not None else "digest timer"
            try:
                if event is not None:
                    summary = handle(event)
                elif flush is not None and key is not None:
                    summary = {"status": "digest sent" if flush(key) else "digest sent before"}
            except Exception as error:  # any failure: kept in the queue and reported
                result.failed.append(f"{message['MessageId']}: {type(error).__name__}: {error}")
                _keep(sqs, queue_url, message["ReceiptHandle"])
                continue
            result.kinds[kind] = result.kinds.get(kind, 0) + 1
            status = str(summary.get("status", "?"))
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.replayed += 1
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return result
