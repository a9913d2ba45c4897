"""The reconciling sweep: every supported resource, in every status, through the same path.

Each page of the inventory (100 resources) is checked against the tag policy with the tags the
listing returned; a resource that lacks a required key goes to `Tagger.process`, the resolution
and writer every event uses. Its request id is the ARN, a digest of its tags and the reminder
period, so a second pass over an unchanged account writes and tells nothing (the sweep's own
mark passes it by; were the mark lost, the request repeats and the tagger answers duplicate),
and a resource still incomplete after `ReminderDays` is raised again.

The position of the walk is saved in the state table after every page; a run that is near its
timeout stops there, and the next run resumes from it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from autotag import aws
from autotag.aws import error_code
from autotag.events import Subject, Trigger
from autotag.inventory import FIRST, Found, Inventory, Position, is_throttling, next_kind
from autotag.observability import Counter, Timing, logger, no_timing
from autotag.settings import Settings, SettingsError
from autotag.state import (
    SWEEP_LEASE,
    SWEEP_MARK_PREFIX,
    SWEEP_POSITION,
    LockBusyError,
    is_conditional_failure,
)
from autotag.tagger import RESOURCE_FAILURES, STATE_EXPIRY, STATE_KEY, Tagger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

    from autotag.local_context import LocalContext
    from autotag.policy import Policy

POSITION_KEY: Final = SWEEP_POSITION
LEASE_KEY: Final = SWEEP_LEASE  # held by the run in progress: one run at a time


def request_id(found: Found) -> str:
    """Unique to the resource and its current tags: an unchanged resource is not redone."""
    return _digest(found.arn.arn, found.tags)


def _digest(arn: str, tags: Mapping[str, str]) -> str:
    text = json.dumps([arn, sorted(tags.items())], ensure_ascii=False)
    return SWEEP_MARK_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:40]


def _after(found: Found, summary: Mapping[str, Any]) -> dict[str, str]:
    """The resource's tags once the tagger is done with it."""
    if summary.get("mode") != "enforce":
        return dict(found.tags)
    added = summary.get("added") or {}
    return {**found.tags, **{key: str(a["value"]) for key, a in added.items()}}


def subject(found: Found, period: int | None = None) -> Subject:
    """What the tagger is asked about a resource the sweep (or the audit) found. The sweep
    names its reminder period: a reminder is a new request, not a duplicate."""
    suffix = f"@{period}" if period is not None else ""
    return Subject(
        event_id=request_id(found) + suffix,
        spec=found.spec,
        resource=found.arn,
        resource_name=found.name,
        request_tags={},
        user_identity={},
        event_time=found.created,
        accounts=frozenset({found.arn.account}),
        regions=frozenset({found.arn.region}),
        trigger=Trigger.SWEEP,
        references=found.references,
    )


@dataclass
class Tally:
    status: str = "done"  # "paused": the next run resumes; "busy": another run holds the lease
    resumed_from: dict[str, Any] | None = None
    pages: int = 0
    listing_calls: int = 0  # Search, List*, and ListTags for kinds Search does not cover
    resources: int = 0
    compliant: int = 0
    handled: dict[str, int] = field(default_factory=dict)  # the tagger's status -> count
    unchanged: int = 0  # handled by an earlier pass, tags unchanged since: passed by
    failed: list[str] = field(default_factory=list)  # resources the tagger could not handle
    skipped_kinds: list[str] = field(default_factory=list)  # kinds that could not be listed
    next: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        return asdict(self)


class Sweep:
    permissions: Final = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")

    def __init__(
        self,
        *,
        inventory: Inventory,
        tagger: Tagger,
        dynamodb: DynamoDBClient,
        table: str,
        margin_seconds: float = 60.0,
        remember_seconds: float = 86400.0,
        reminder_seconds: float = 7 * 86400.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._inventory = inventory
        self._tagger = tagger
        self._dynamodb = dynamodb
        self._table = table
        self._margin = margin_seconds
        # A resource the tagger failed on is tried again once this is over.
        self._remember = remember_seconds
        # A resource handled but still incomplete is raised again once this is over.
        self._reminder = reminder_seconds
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, count: Counter, timing: Timing = no_timing) -> Sweep:
        if not settings.state_table:
            raise SettingsError("the sweep needs STATE_TABLE: it keeps its position there")
        tagger = Tagger.from_settings(settings, count, timing)
        return cls(
            inventory=Inventory(aws.sagemaker(), tagger.gatherer.resources),
            tagger=tagger,
            dynamodb=aws.dynamodb(),
            table=settings.state_table,
            margin_seconds=settings.sweep_margin_seconds,
            remember_seconds=settings.idempotency_ttl_seconds,
            reminder_seconds=settings.reminder_days * 86400,
        )

    def run(
        self,
        remaining_seconds: Callable[[], float],
        context: LambdaContext | LocalContext | None = None,
    ) -> dict[str, Any]:
        """Go on from the saved position (or start a pass) until done or near the timeout."""
        tally = Tally()
        if not self.lease(remaining_seconds()):
            tally.status = "busy"
            logger.info("another sweep is running")
            return tally.summary()
        try:
            return self._walk(tally, remaining_seconds, context)
        finally:
            try:
                self.release()
            except ClientError:  # the lease expires anyway; keep the walk's own outcome
                logger.exception("sweep lease not released")

    def _walk(
        self,
        tally: Tally,
        remaining_seconds: Callable[[], float],
        context: LambdaContext | LocalContext | None,
    ) -> dict[str, Any]:
        position: Position | None = self.load()
        restarted: set[str] = set()
        if position is not None:
            tally.resumed_from = position._asdict()
        position = position or FIRST
        policy = self._tagger.gatherer.registry.config().policy
        while position is not None:
            if remaining_seconds() < self._margin:
                return self._pause(tally, position)
            try:
                page = self._inventory.page(position)
            except ClientError as error:
                if error_code(error) != "ValidationException" or position.token is None:
                    raise
                # A page token SageMaker no longer takes: the kind starts over, once a run;
                # refused again, the kind is left for the next pass.
                logger.warning("sweep token refused", extra={"kind": position.kind})
                first_time = position.kind not in restarted
                restarted.add(position.kind)
                if not first_time:
                    tally.skipped_kinds.append(f"{position.kind}: its page token was refused")
                position = Position(position.kind) if first_time else next_kind(position.kind)
                continue
            tally.pages += 1
            tally.listing_calls += page.calls
            if page.error:
                tally.skipped_kinds.append(page.error)
            tally.failed += page.unreadable
            for found in page.found:
                if remaining_seconds() < self._margin:
                    # Stop inside the page: it is done again next time, which changes nothing
                    # for the resources already handled (their request ids repeat).
                    return self._pause(tally, position)
                self.visit(found, policy, tally, context)
            position = page.next
            if position is not None:
                self.save(position)
        self.clear()
        logger.info("sweep done", extra={"sweep": tally.summary()})
        return tally.summary()

    def visit(
        self,
        found: Found,
        policy: Policy,
        tally: Tally,
        context: LambdaContext | LocalContext | None,
    ) -> None:
        tally.resources += 1
        if not policy.gaps(found.tags):
            tally.compliant += 1
            return
        if self.seen(request_id(found)):
            tally.unchanged += 1
            return
        self._tagger.count("TriggerSweep")
        try:
            # One request per resource, tags and reminder period: a visit again in the same
            # period (the mark was lost) is the same request; a reminder is a new one.
            period = int(self._clock() // max(self._reminder, 1.0))
            summary = self._tagger.process(subject(found, period=period), context)
        except RESOURCE_FAILURES as error:
            if is_throttling(error):
                raise  # the account is busy: stop here, the next run resumes this page
            if isinstance(error, LockBusyError):
                tally.failed.append(f"{found.arn.arn}: being handled elsewhere right now")
                return  # another invocation has it; the next pass looks again
            # One resource the tagger cannot handle must not hold up the rest: it is logged,
            # counted and tried again in a day.
            tally.failed.append(f"{found.arn.arn}: {error}")
            logger.warning("sweep could not handle a resource", extra={"arn": found.arn.arn})
            self.mark(request_id(found))
            return
        if summary.get("duplicate"):
            tally.unchanged += 1
            return
        status = str(summary.get("status"))
        tally.handled[status] = tally.handled.get(status, 0) + 1
        if status != "gone" and summary.get("mode") == "enforce":
            # Remember the tags it has now: the next pass finds it so and passes it by. (A dry
            # run's replies are kept by the tagger's own records, apart from real ones.)
            # Until the reminder is due: then the same tags make a new request (a new id).
            self.mark(_digest(found.arn.arn, _after(found, summary)), self._reminder)

    def _pause(self, tally: Tally, position: Position) -> dict[str, Any]:
        self.save(position)
        tally.status = "paused"
        tally.next = position._asdict()
        logger.info("sweep paused before the timeout", extra={"sweep": tally.summary()})
        return tally.summary()

    # ------------------------------------------------------------------ one run at a time

    def lease(self, seconds: float) -> bool:
        """Take the lease for this run's time; False when another run holds it."""
        now = self._clock()
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    STATE_KEY: {"S": LEASE_KEY},
                    STATE_EXPIRY: {"N": str(int(now + seconds))},
                },
                ConditionExpression="attribute_not_exists(#pk) OR #expires < :now",
                ExpressionAttributeNames={"#pk": STATE_KEY, "#expires": STATE_EXPIRY},
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except ClientError as error:
            if is_conditional_failure(error):
                return False
            raise
        return True

    def release(self) -> None:
        self._dynamodb.delete_item(TableName=self._table, Key={STATE_KEY: {"S": LEASE_KEY}})

    # ------------------------------------------------------------------ what was handled

    def seen(self, key: str) -> bool:
        item = self._dynamodb.get_item(TableName=self._table, Key={STATE_KEY: {"S": key}})
        expires = item.get("Item", {}).get(STATE_EXPIRY, {}).get("N")
        return expires is not None and float(expires) > self._clock()

    def mark(self, key: str, seconds: float | None = None) -> None:
        expires = int(self._clock() + (self._remember if seconds is None else seconds))
        self._dynamodb.put_item(
            TableName=self._table,
            Item={STATE_KEY: {"S": key}, STATE_EXPIRY: {"N": str(expires)}},
        )

    # ------------------------------------------------------------------ the saved position

    def load(self) -> Position | None:
        item = self._dynamodb.get_item(
            TableName=self._table, Key={STATE_KEY: {"S": POSITION_KEY}}, ConsistentRead=True
        ).get("Item")
        if not item or "kind" not in item:
            return None
        token = item.get("token", {}).get("S")
        return Position(item["kind"]["S"], token)

    def save(self, position: Position) -> None:
        item = {STATE_KEY: {"S": POSITION_KEY}, "kind": {"S": position.kind}}
        if position.token:
            item["token"] = {"S": position.token}
        self._dynamodb.put_item(TableName=self._table, Item=item)

    def clear(self) -> None:
        self._dynamodb.delete_item(TableName=self._table, Key={STATE_KEY: {"S": POSITION_KEY}})
