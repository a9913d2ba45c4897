"""The state table: everything that outlives one invocation, under one key scheme.

| key | what | written by |
|---|---|---|
| `resource#<arn>` | its creator, the request ids handled (exactly once), a lease | tagger |
| `drift#<arn>` | keys removed on purpose under a report-only drift policy | tagger |
| `notice#<hash>`, `notice#<hash>#text` | a notification window and its text | outbox |
| `sweep#position`, `sweep#lease`, `sweep:<hash>` | its place, its lease, what it did | sweep |

The resource item keeps the creator recorded at Create time (the first trusted one stays), the
request ids handled for the resource (a repeated delivery finds its id and does nothing), and
the lease of the one invocation writing its tags. Every item expires through the TTL attribute
`expires` (epoch seconds).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from botocore.exceptions import ClientError

from autotag.aws import error_code
from autotag.identity import Principal, PrincipalKind

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEY: Final = "pk"  # the partition key (template.yaml, StateTable)
EXPIRES: Final = "expires"  # the TTL attribute
RESOURCE_PREFIX: Final = "resource#"
DRIFT_PREFIX: Final = "drift#"
NOTICE_PREFIX: Final = "notice#"
SWEEP_POSITION: Final = "sweep#position"
SWEEP_LEASE: Final = "sweep#lease"
SWEEP_MARK_PREFIX: Final = "sweep:"

RECORD_SECONDS: Final = 3 * 365 * 86400  # as long as a resource plausibly lives
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


@dataclass(frozen=True)
class ResourceRecord:
    """What the state table keeps about one resource."""

    creator: Principal | None = None  # recorded when it was created (or first found)
    handled: frozenset[str] = frozenset()  # request ids already handled (exactly once)


NO_RECORD: Final = ResourceRecord()


class AlreadyHandledError(Exception):
    """Another delivery of the same request finished first."""


class StateTable:
    """One item per resource (`resource#<arn>`): its creator, the request ids handled for it
    (exactly once per request), and a short lease held by the one invocation writing its tags.
    A request costs one read and one write; one that writes tags, one more (the lease)."""

    permissions: ClassVar = ("dynamodb:GetItem", "dynamodb:UpdateItem")

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

    # ------------------------------------------------------------------ one item per resource

    def record(self, arn: str) -> ResourceRecord:
        item = self._get(RESOURCE_PREFIX + arn)
        if item is None:
            return NO_RECORD
        text = item.get("creator", {}).get("S")
        return ResourceRecord(
            principal_from_json(text) if text else None,
            frozenset(item.get("handled", {}).get("SS", [])),
        )

    def creator(self, arn: str) -> Principal | None:
        return self.record(arn).creator

    def record_creator(self, arn: str, principal: Principal) -> None:
        """Keep `principal` as the creator of `arn`, unless one is kept already."""
        self._client.update_item(
            TableName=self._table,
            Key=key(RESOURCE_PREFIX + arn),
            UpdateExpression="SET #creator = if_not_exists(#creator, :creator), #expires = :e",
            ExpressionAttributeNames={"#creator": "creator", "#expires": EXPIRES},
            ExpressionAttributeValues={
                ":creator": {"S": principal_to_json(principal)},
                ":e": self._expires(RECORD_SECONDS),
            },
        )

    def lock(self, arn: str, owner: str, request_id: str) -> bool:
        """Take the resource's lease for `request_id`; False when another invocation holds it.
        AlreadyHandledError when the request was handled meanwhile (a duplicate delivery)."""
        now = self._clock()
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key(RESOURCE_PREFIX + arn),
                UpdateExpression="SET #owner = :me, #until = :until, #expires = :expires",
                ConditionExpression=(
                    "(attribute_not_exists(#until) OR #until < :now OR #owner = :me) "
                    "AND (attribute_not_exists(#handled) OR NOT contains(#handled, :id))"
                ),
                ExpressionAttributeNames={
                    "#owner": "lock_owner",
                    "#until": "lock_until",
                    "#expires": EXPIRES,
                    "#handled": "handled",
                },
                ExpressionAttributeValues={
                    ":me": {"S": owner},
                    ":until": {"N": str(int(now + LOCK_SECONDS))},
                    ":now": {"N": str(int(now))},
                    ":id": {"S": request_id},
                    ":expires": self._expires(RECORD_SECONDS),
                },
            )
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            if request_id in self.record(arn).handled:
                raise AlreadyHandledError(request_id) from None
            return False
        return True

    def unlock(self, arn: str, owner: str) -> None:
        """Give the lease back without marking the request handled (it failed: retried)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key(RESOURCE_PREFIX + arn),
                UpdateExpression="REMOVE #owner, #until",
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={"#owner": "lock_owner", "#until": "lock_until"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
        except ClientError as error:
            if not is_conditional_failure(error):  # else expired and taken: theirs now
                raise

    def finish(
        self,
        arn: str,
        request_id: str,
        creator: Principal | None,
        owner: str | None,
        *,
        replace: bool = False,
    ) -> None:
        """One write: the request is handled; the creator kept if none was (the first trusted
        creator stays); the lease, if `owner` holds it, given back. Without a lease, the write
        is also the duplicate check: AlreadyHandledError when the request was handled before
        (a request that takes the lease was checked when it took it)."""
        sets = ["#expires = :expires"]
        names = {"#handled": "handled", "#expires": EXPIRES}
        values: dict[str, Any] = {
            ":id": {"SS": [request_id]},
            ":expires": self._expires(RECORD_SECONDS),
        }
        if creator is not None:
            sets.append(
                "#creator = :creator" if replace else "#creator = if_not_exists(#creator, :creator)"
            )
            names["#creator"] = "creator"
            values[":creator"] = {"S": principal_to_json(creator)}
        expression = f"SET {', '.join(sets)} ADD #handled :id"
        if owner is None:
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=key(RESOURCE_PREFIX + arn),
                    UpdateExpression=expression,
                    ConditionExpression=(
                        "attribute_not_exists(#handled) OR NOT contains(#handled, :one)"
                    ),
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={**values, ":one": {"S": request_id}},
                )
            except ClientError as error:
                if not is_conditional_failure(error):
                    raise
                raise AlreadyHandledError(request_id) from None
            return
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key(RESOURCE_PREFIX + arn),
                UpdateExpression=f"{expression} REMOVE #owner, #until",
                ConditionExpression="#owner = :me",
                ExpressionAttributeNames={**names, "#owner": "lock_owner", "#until": "lock_until"},
                ExpressionAttributeValues={**values, ":me": {"S": owner}},
            )
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            with contextlib.suppress(AlreadyHandledError):  # the lease ran out: keep the rest
                self.finish(arn, request_id, creator, None, replace=replace)

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
