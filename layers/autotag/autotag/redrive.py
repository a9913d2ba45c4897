"""Replay the events that failed: the rule's dead-letter queue holds EventBridge events, the
function's failed-events queue holds Lambda's on-failure records (the event is in
`requestPayload`). Each goes through the same `Tagger.handle`; a message is deleted only after
its event was handled."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

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


def _keep(sqs: SQSClient, queue_url: str, receipt: str) -> None:
    """Leave the message in the queue, visible again for the next attempt."""
    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)


@dataclass
class RedriveResult:
    replayed: int = 0
    failed: list[str] = field(default_factory=list)  # why each kept message failed
    unreadable: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


def redrive(
    sqs: SQSClient,
    queue_url: str,
    handle: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    limit: int | None = None,
) -> RedriveResult:
    """Handle every message of the queue once; delete those handled, keep the others."""
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
            event = event_of(message.get("Body", ""))
            if event is None:
                result.unreadable += 1
                _keep(sqs, queue_url, message["ReceiptHandle"])
                continue
            try:
                summary = handle(event)
            except Exception as error:  # any failure: kept in the queue and reported
                result.failed.append(f"{message['MessageId']}: {type(error).__name__}: {error}")
                _keep(sqs, queue_url, message["ReceiptHandle"])
                continue
            status = str(summary.get("status", "?"))
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.replayed += 1
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return result
