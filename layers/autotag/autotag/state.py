"""The state table: everything that outlives one invocation, under one key scheme.

| key | what | written by |
|---|---|---|
| `resource#<arn>` | its creator, the request ids handled (exactly once), a lease | tagger |
| `drift#<arn>` | keys removed on purpose under a report-only drift policy | tagger |
| `notice#<hash>` | a notification window: its text, count, listing, request ids | outbox |
| `sweep#position`, `sweep#lease`, `sweep:<hash>` | its place, its lease, what it did | sweep |
| `showback#<YYYY-MM>#<hash>` | an owner's monthly showback: its lease, then when sent | showback |

The resource item keeps the creator recorded at Create time (the first trusted one stays), the
request ids handled for the resource (a repeated delivery finds its id and does nothing), the
short lease of the one invocation writing its tags (it runs out on its own: no second write),
and the notices the last request decided (its retry offers them again; a later request that
replaces them offers them itself). Every item expires through the TTL attribute `expires`
(epoch seconds).
"""

from __future__ import annotations

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
SHOWBACK_PREFIX: Final = "showback#"

RECORD_SECONDS: Final = 3 * 365 * 86400  # as long as a resource plausibly lives
DRIFT_SECONDS: Final = 365 * 86400


class LockBusyError(Exception):
    """Another invocation is writing tags to the same resource right now: retried later."""

    def __init__(self, arn: str, until: float) -> None:
        super().__init__(f"{arn} is being tagged by another invocation until {until:.0f}")
        self.until = until


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
    last_request: str = ""  # the request that claimed it last
    told: str | None = None  # the notices that request decided (JSON)
    lease_owner: str = ""  # the request writing its tags now, until `lease_until`
    lease_until: float = 0.0


NO_RECORD: Final = ResourceRecord()


class AlreadyHandledError(Exception):
    """Another delivery of the same request (or an earlier try of it) claimed it first."""

    def __init__(self, request_id: str, record: ResourceRecord = NO_RECORD) -> None:
        super().__init__(request_id)
        self.record = record


class StateTable:
    """One item per resource (`resource#<arn>`): its creator, the request ids handled for it
    (exactly once per request), a short lease held by the one invocation writing its tags, and
    the notices decided. A request costs one conditional write (`claim`); a trigger that names
    no creator reads the item first."""

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
        return NO_RECORD if item is None else _record(item)

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

    def claim(
        self,
        arn: str,
        request_id: str,
        *,
        creator: Principal | None = None,
        replace: bool = False,
        lease_seconds: float = 0.0,
        told: str | None = None,
        again: bool = False,
        owner: str = "",
    ) -> ResourceRecord:
        """The one write a request makes about its resource, before any tag is written or any
        notice offered: the request is handled (exactly once); the creator kept (a Create call
        replaces an older record, other triggers only fill one in); with `lease_seconds`, the
        resource is this request's to write for that long; `told` keeps the notices decided, so
        that a retry offers them again even when the tags it finds need nothing more.

        Refused when another request holds the lease (LockBusyError, with its end) or this
        request was handled (AlreadyHandledError, with the record). `again`: a request whose
        tags still need writing may claim again what its own earlier try claimed. `owner` names
        this try (the lease is a try's, not a request's: two deliveries of one request at once
        do not both write).

        Returns the record as the claim found it (the attributes it replaced): the notices the
        request before this one decided, which its own retry can no longer offer again."""
        owner = owner or request_id
        now = self._clock()
        last: dict[str, Any] = {"request": {"S": request_id}}
        if told is not None:
            last["told"] = {"S": told}
        sets = ["#expires = :expires", "#last = :last"]
        names = {"#handled": "handled", "#expires": EXPIRES, "#last": "last"}
        names |= {"#lease": "lease", "#owner": "owner", "#until": "until"}
        values: dict[str, Any] = {
            ":ids": {"SS": [request_id]},
            ":id": {"S": request_id},
            ":last": {"M": last},
            ":me": {"S": owner},
            ":now": {"N": str(now)},
            ":expires": self._expires(RECORD_SECONDS),
        }
        if creator is not None:
            sets.append(
                "#creator = :creator" if replace else "#creator = if_not_exists(#creator, :creator)"
            )
            names["#creator"] = "creator"
            values[":creator"] = {"S": principal_to_json(creator)}
        if lease_seconds > 0:
            sets.append("#lease = :lease")
            values[":lease"] = {
                "M": {"owner": {"S": owner}, "until": {"N": str(now + lease_seconds)}}
            }
        expression = f"SET {', '.join(sets)} ADD #handled :ids"
        fresh = "NOT contains(#handled, :id)"  # true with no such attribute yet
        if again:
            fresh = f"({fresh} OR #last.#id = :id)"
            names["#id"] = "request"
        free = "attribute_not_exists(#lease) OR #lease.#until < :now OR #lease.#owner = :me"
        try:
            before = self._client.update_item(
                TableName=self._table,
                Key=key(RESOURCE_PREFIX + arn),
                UpdateExpression=expression,
                ConditionExpression=f"({free}) AND {fresh}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            ).get("Attributes", {})
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            # Judged on the item the condition saw (the lease may run out in between).
            seen: Any = error.response.get("Item")
            record = _record(seen) if isinstance(seen, Mapping) else self.record(arn)
            handled = request_id in record.handled and not (
                again and record.last_request == request_id
            )
            if handled:
                raise AlreadyHandledError(request_id, record) from None
            raise LockBusyError(arn, record.lease_until) from None
        return _record(before)

    def release(self, arn: str, owner: str) -> None:
        """Give the lease back (a try that failed: its retry should not wait for it)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=key(RESOURCE_PREFIX + arn),
                UpdateExpression="REMOVE #lease",
                ConditionExpression="#lease.#owner = :me",
                ExpressionAttributeNames={"#lease": "lease", "#owner": "owner"},
                ExpressionAttributeValues={":me": {"S": owner}},
            )
        except ClientError as error:
            if not is_conditional_failure(error):  # else it ran out and is another's now
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


def _record(item: Mapping[str, Any]) -> ResourceRecord:
    text = item.get("creator", {}).get("S")
    last = item.get("last", {}).get("M", {})
    lease = item.get("lease", {}).get("M", {})
    return ResourceRecord(
        creator=principal_from_json(text) if text else None,
        handled=frozenset(item.get("handled", {}).get("SS", [])),
        last_request=last.get("request", {}).get("S", ""),
        told=last.get("told", {}).get("S"),
        lease_owner=lease.get("owner", {}).get("S", ""),
        lease_until=float(lease.get("until", {}).get("N", "0")),
    )


def is_conditional_failure(error: Exception) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"
