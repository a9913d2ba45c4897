"""Notification windows: at most one message per (recipient, missing-key set) per window.

Windows are fixed spans of time (`window_seconds`, counted from the epoch). The first notice of
a window opens it and starts a short gathering delay (an SQS message sent
with DelaySeconds); notices arriving during the delay are gathered; when the delay ends the
digest function sends one message, the notice itself if it stands alone, else a digest naming
the count and listing the resources. Notices arriving later in the same window are counted, not
sent. With no delay the first notice goes out at once. Everything lives in the state table
under `notice#...` keys, expiring with the window.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Final

from botocore.exceptions import ClientError

from autotag.notify import Notice, Notifier, Outcome, compose_digest
from autotag.state import NOTICE_PREFIX, is_conditional_failure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

KEY_PREFIX: Final = NOTICE_PREFIX
# Resources listed per window for the digest; the count goes on. It bounds the window item
# (about 10 KB), so each notice's write stays small and cheap.
MAX_LISTED: Final = 50
MAX_SQS_DELAY: Final = 900
# A window is two items: a small counter (`notice#...`), written by every notice, and its text
# (`notice#...#text`: the first notice, the listed resources), read once when it is sent.
TEXT_SUFFIX: Final = "#text"


class WindowNotReadyError(Exception):
    """The digest timer fired before the window's first notice finished writing."""


_LEASE_SECONDS: Final = 60  # a flush in progress holds the window this long


class Delivery(StrEnum):
    SENT = "sent"  # published now
    SCHEDULED = "scheduled"  # opened a window; the digest function sends it after the delay
    GATHERED = "gathered"  # joined a window still gathering: it will be in the digest
    SUPPRESSED = "suppressed"  # the window's message already went out: counted, not sent


class Direct:
    """No windows: every notice is published at once."""

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    def offer(self, notice: Notice, keys: tuple[str, ...], line: str) -> Delivery:
        del keys, line
        self._notifier.send(notice)
        return Delivery.SENT


class Held:
    """Notices kept, not sent: `autotag audit --fix --dry-run` shows what it would do."""

    def __init__(self) -> None:
        self.held: list[Notice] = []

    def offer(self, notice: Notice, keys: tuple[str, ...], line: str) -> Delivery:
        del keys, line
        self.held.append(notice)
        return Delivery.SUPPRESSED


def window_key(recipient: str, keys: tuple[str, ...], start: int) -> str:
    material = "\x1f".join((recipient.casefold(), str(start), *sorted(keys)))
    return KEY_PREFIX + hashlib.sha256(material.encode()).hexdigest()[:40]


@dataclass
class Outbox:
    """Windows in the state table; the timer is a delayed SQS message."""

    permissions: ClassVar = ("dynamodb:UpdateItem", "sqs:SendMessage")
    flush_permissions: ClassVar = ("dynamodb:UpdateItem", "dynamodb:GetItem")  # digest function

    dynamodb: DynamoDBClient
    table: str
    notifier: Notifier
    window_seconds: float
    delay_seconds: float = 0.0
    sqs: SQSClient | None = None
    queue_url: str | None = None
    clock: Callable[[], float] = time.time

    def offer(self, notice: Notice, keys: tuple[str, ...], line: str) -> Delivery:
        """Take one notice; returns what became of it. Windows are fixed spans of
        `window_seconds`, so a notice finds its window by key alone: one small UpdateItem
        counts it in (creating the window), a second lists it while there is room."""
        now = self.clock()
        start = int(now // self.window_seconds * self.window_seconds)
        key = window_key(notice.recipient, keys, start)
        ends = start + int(self.window_seconds)
        count, flushed = self._count(key, ends)
        if count <= MAX_LISTED:
            self._list(key, notice, keys, line, ends, first=count == 1)
        if count == 1:  # the window's first notice
            if self.delay_seconds <= 0 or self.sqs is None or not self.queue_url:
                self.flush(key)
                return Delivery.SENT
            self.sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=json.dumps({"key": key}),
                DelaySeconds=int(min(self.delay_seconds, MAX_SQS_DELAY)),
            )
            return Delivery.SCHEDULED
        return Delivery.SUPPRESSED if flushed else Delivery.GATHERED

    def _count(self, key: str, ends: int) -> tuple[int, bool]:
        """Count a notice into its window; the window's count and whether its message went."""
        attributes = self.dynamodb.update_item(
            TableName=self.table,
            Key={"pk": {"S": key}},
            UpdateExpression="SET #expires = if_not_exists(#expires, :expires), "
            "#flushed = if_not_exists(#flushed, :no) ADD #count :one",
            ExpressionAttributeNames={
                "#expires": "expires",
                "#flushed": "flushed",
                "#count": "notice_count",
            },
            ExpressionAttributeValues={
                ":expires": {"N": str(ends + 86400)},
                ":no": {"BOOL": False},
                ":one": {"N": "1"},
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
        return int(attributes["notice_count"]["N"]), bool(attributes["flushed"]["BOOL"])

    def _list(
        self, key: str, notice: Notice, keys: tuple[str, ...], line: str, ends: int, *, first: bool
    ) -> None:
        """List the resource in the window; the first notice also leaves the window's text."""
        values: dict[str, Any] = {":none": {"L": []}, ":line": {"L": [{"S": line}]}}
        names = {"#listed": "listed"}
        assignments = ["#listed = list_append(if_not_exists(#listed, :none), :line)"]
        if first:
            fields = {
                "expires": {"N": str(ends + 86400)},
                "recipient": {"S": notice.recipient},
                "missing_keys": {"L": [{"S": k} for k in keys]},
                "outcome": {"S": notice.outcome.value},
                "subject": {"S": notice.subject},
                "body": {"S": notice.body},
                "window_ends": {"N": str(ends)},
            }
            assignments += [f"#{name} = :{name}" for name in fields]
            names |= {f"#{name}": name for name in fields}
            values |= {f":{name}": value for name, value in fields.items()}
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"pk": {"S": key + TEXT_SUFFIX}},
            UpdateExpression="SET " + ", ".join(assignments),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def flush(self, key: str) -> bool:
        """Send the window's one message, unless it went out already. True when sent now."""
        now = int(self.clock())
        try:
            item = self.dynamodb.update_item(
                TableName=self.table,
                Key={"pk": {"S": key}},
                UpdateExpression="SET lease_ends = :lease",
                ConditionExpression=(
                    "attribute_exists(pk) AND flushed = :no "
                    "AND (attribute_not_exists(lease_ends) OR lease_ends < :now)"
                ),
                ExpressionAttributeValues={
                    ":lease": {"N": str(now + _LEASE_SECONDS)},
                    ":no": {"BOOL": False},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if is_conditional_failure(error):
                return False
            raise
        text = self.dynamodb.get_item(
            TableName=self.table, Key={"pk": {"S": key + TEXT_SUFFIX}}, ConsistentRead=True
        ).get("Item")
        if text is None:  # the first notice's text is not written yet: try again later
            raise WindowNotReadyError(f"window {key} has no text yet")
        self.notifier.send(_message(int(item["notice_count"]["N"]), text))
        self.dynamodb.update_item(
            TableName=self.table,
            Key={"pk": {"S": key}},
            UpdateExpression="SET flushed = :yes",
            ExpressionAttributeValues={":yes": {"BOOL": True}},
        )
        return True


def _message(total: int, item: Mapping[str, Any]) -> Notice:
    """The window's message: the notice itself if it stands alone, else a digest."""
    outcome = Outcome(item["outcome"]["S"])
    recipient = item["recipient"]["S"]
    if total == 1:
        return Notice(recipient, outcome, item["subject"]["S"], item["body"]["S"])
    return compose_digest(
        recipient=recipient,
        outcome=outcome,
        keys=tuple(k["S"] for k in item["missing_keys"]["L"]),
        total=total,
        lines=[line["S"] for line in item["listed"]["L"]],
        first_body=item["body"]["S"],
        window_ends=int(item["window_ends"]["N"]),
    )
