"""The state table: everything that outlives one invocation, under one key scheme.

| key | what | written by |
|---|---|---|
| `event#<hash>` | exactly-once record per request id (Powertools idempotency) | tagger |
| `creator#<arn>` | the resource's trusted creator, recorded at Create time | tagger |
| `lock#<arn>` | a short lease: one writer per resource at a time | tagger |
| `drift#<arn>` | keys removed on purpose under a report-only drift policy | tagger |
| `notice#<hash>`, `notice#<hash>#text` | a notification window and its text | outbox |
| `sweep#position`, `sweep#lease`, `sweep:<hash>` | its place, its lease, what it did | sweep |

Every item expires through the TTL attribute `expires` (epoch seconds).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, ClassVar, Final

from botocore.exceptions import ClientError

from autotag.aws import error_code
from autotag.identity import Principal, PrincipalKind

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEY: Final = "pk"  # the partition key (template.yaml, StateTable)
EXPIRES: Final = "expires"  # the TTL attribute
EVENT_PREFIX: Final = "event"  # Powertools adds "#<hash>"
CREATOR_PREFIX: Final = "creator#"
LOCK_PREFIX: Final = "lock#"
DRIFT_PREFIX: Final = "drift#"
NOTICE_PREFIX: Final = "notice#"
SWEEP_POSITION: Final = "sweep#position"
SWEEP_LEASE: Final = "sweep#lease"
SWEEP_MARK_PREFIX: Final = "sweep:"

CREATOR_SECONDS: Final = 3 * 365 * 86400  # as long as a resource plausibly lives
DRIFT_SECONDS: Final = 365 * 86400
LOCK_SECONDS: Final = 30


class LockBusyError(Exception):
    """Another invocation is writing tags to the same resource right now: retried later."""


def key(text: str) -> dict[str, Any]:
    return {KEY: {"S": text}}


def principal_to_json(principal: Principal) -> str:
    fields = {k: v for k, v in asdict(principal).items() if v not in (None, (), "")}
    return json.dumps(fields, sort_keys=True)


def principal_from_json(text: str) -> Principal | None:
    try:
        fields = json.loads(text)
        fields["kind"] = PrincipalKind(fields["kind"])
        fields["lookup_keys"] = tuple(fields.get("lookup_keys", ()))
        return Principal(**fields)
    except (ValueError, KeyError, TypeError):
        return None  # a record of an older shape: as if there were none


class StateTable:
    """Creator records, per-resource leases and withheld drift keys."""

    permissions: ClassVar = (
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    )

    def __init__(
        self, client: DynamoDBClient, table: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def _get(self, name: str) -> Mapping[str, Any] | None:
        item = self._client.get_item(TableName=self._table, Key=key(name), ConsistentRead=True).get(
            "Item"
        )
        if item is None or float(item.get(EXPIRES, {}).get("N", "0")) < self._clock():
            return None
        return item

    def _expires(self, seconds: float) -> dict[str, str]:
        return {"N": str(int(self._clock() + seconds))}

    # ------------------------------------------------------------------ creators

    def creator(self, arn: str) -> Principal | None:
        item = self._get(CREATOR_PREFIX + arn)
        text = item.get("creator", {}).get("S") if item else None
        return principal_from_json(text) if text else None

    def record_creator(self, arn: str, principal: Principal) -> None:
        """Keep the first trusted creator of `arn`: a later trigger never replaces it."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **key(CREATOR_PREFIX + arn),
                    "creator": {"S": principal_to_json(principal)},
                    EXPIRES: self._expires(CREATOR_SECONDS),
                },
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": KEY},
            )
        except ClientError as error:
            if not is_conditional_failure(error):
                raise

    # ------------------------------------------------------------------ one writer per resource

    def lock(self, arn: str, owner: str) -> bool:
        """Take the resource's lease; False when another invocation holds it."""
        now = self._clock()
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **key(LOCK_PREFIX + arn),
                    "owner": {"S": owner},
                    EXPIRES: {"N": str(int(now + LOCK_SECONDS))},
                },
                ConditionExpression="attribute_not_exists(#pk) OR #expires < :now OR #owner = :me",
                ExpressionAttributeNames={"#pk": KEY, "#expires": EXPIRES, "#owner": "owner"},
                ExpressionAttributeValues={":now": {"N": str(int(now))}, ":me": {"S": owner}},
            )
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            return False
        return True

    def unlock(self, arn: str, owner: str) -> None:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=key(LOCK_PREFIX + arn),
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
        except ClientError as error:
            if not is_conditional_failure(error):  # else expired and taken: theirs now
                raise

    # ------------------------------------------------------------------ report-only drift

    def withhold(self, arn: str, keys: list[str]) -> None:
        """Remember the required keys someone removed, so that no trigger puts them back."""
        if not keys:
            return
        self._client.update_item(
            TableName=self._table,
            Key=key(DRIFT_PREFIX + arn),
            UpdateExpression="ADD #keys :keys SET #expires = :expires",
            ExpressionAttributeNames={"#keys": "keys", "#expires": EXPIRES},
            ExpressionAttributeValues={
                ":keys": {"SS": keys},
                ":expires": self._expires(DRIFT_SECONDS),
            },
        )

    def withheld(self, arn: str) -> frozenset[str]:
        item = self._get(DRIFT_PREFIX + arn)
        return frozenset(item.get("keys", {}).get("SS", [])) if item else frozenset()


def is_conditional_failure(error: Exception) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"
