"""One resource, end to end: parse, gather, decide, apply.

The Lambda handler, `autotag handle` and `autotag redrive` call `Tagger.handle` with an event;
the sweep and `autotag audit --fix` call `Tagger.process` with a Subject they built. Every
trigger goes through the same steps, each in a module of its own:

  parse   `autotag.events.parse`: the event as a Subject, or a counted skip           (pure)
  gather  `autotag.gather.Gatherer`: every read: the resource's tags, its creator (the event,
          the creator recorded at Create time, or the Create call in CloudTrail), the Studio
          profile and its execution role, the parent, the registry          (I/O, cached)
  decide  `autotag.decide.decide`: who, which project, what set, whom to tell      (pure)
  apply   `autotag.apply.Applier`: under a per-resource lease, claim the request, read the
          tags again (decide again if they changed), AddTags, tell              (I/O)

Poison events (unparseable, unsupported, failed calls, foreign accounts) are logged, counted and
answered with a summary; AWS errors raise so that Lambda retries and the failure path catches
them. With a state table, each eventID is handled once: a repeated delivery writes and tells
nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from botocore.exceptions import ClientError

from autotag import aws, events
from autotag.apply import Applier, Read, brief
from autotag.decide import decide
from autotag.events import SkipEventError, Subject, Trigger
from autotag.gather import CREATE_TRIGGERS, Gatherer, ResourceNotVisibleError
from autotag.lineage import Lineage
from autotag.notify import Notifier
from autotag.observability import Counter, Timing, logger, no_timing
from autotag.outbox import Direct, Held, Outbox
from autotag.registry import RegistryReader
from autotag.sagemaker import ResourceTags, TagsRejectedError
from autotag.settings import Mode, Settings
from autotag.state import (
    EXPIRES,
    KEY,
    NO_RECORD,
    AlreadyHandledError,
    LockBusyError,
    ResourceRecord,
    StateTable,
)
from autotag.studio import StudioProfiles
from autotag.trail import CreatorTrail

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

    from autotag.local_context import LocalContext

STATE_KEY: Final = KEY  # the state table's partition key (template.yaml, StateTable)
STATE_EXPIRY: Final = EXPIRES  # its TTL attribute

# What handling one resource can fail with, short of the whole account being unreachable: the
# sweep and `autotag audit --fix` note it and go on.
RESOURCE_FAILURES: Final = (
    ClientError,
    TagsRejectedError,
    ResourceNotVisibleError,
    LockBusyError,  # another trigger is writing the same resource right now
)
_TRIGGER_METRIC: Final = {
    Trigger.CREATE: "TriggerCreate",
    Trigger.SERVICE: "TriggerServiceEvent",
    Trigger.STATE_CHANGE: "TriggerStateChange",
    Trigger.DRIFT: "TriggerTagsRemoved",
    Trigger.SWEEP: "TriggerSweep",
}


@dataclass
class Tagger:
    # The state table: the resource's record, its lease (autotag.state).
    permissions: ClassVar = StateTable.permissions

    settings: Settings
    gatherer: Gatherer
    applier: Applier
    count: Counter
    table: StateTable | None = None  # exactly-once effects; None: every event is new
    sleep: Callable[[float], None] = time.sleep  # waiting for another trigger's lease

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        count: Counter,
        timing: Timing = no_timing,
        held: Held | None = None,
    ) -> Tagger:
        """The tagger the settings describe; notices go to `held` instead when given (a dry
        run shows what it would send)."""
        sagemaker = aws.sagemaker()
        dynamodb = aws.dynamodb()
        resources = ResourceTags(sagemaker)
        ttl = settings.cache_ttl_seconds
        studio = StudioProfiles(sagemaker, resources, ttl)
        table = StateTable(dynamodb, settings.state_table) if settings.state_table else None
        gatherer = Gatherer(
            settings=settings,
            resources=resources,
            registry=RegistryReader(dynamodb, settings.registry_table, ttl),
            studio=studio,
            count=count,
            table=table,
            lineage=Lineage(sagemaker, resources, studio, ttl),
            trail=CreatorTrail(aws.cloudtrail(), ttl, min_interval=settings.trail_interval_seconds),
        )
        applier = Applier(
            settings=settings,
            resources=resources,
            notices=held if held is not None else notices(settings, dynamodb),
            count=count,
            gatherer=gatherer,
            table=table,
            timing=timing,
        )
        return cls(settings, gatherer, applier, count, table)

    def handle(
        self, event: Any, context: LambdaContext | LocalContext | None = None
    ) -> dict[str, Any]:
        """One EventBridge event: skipped and counted, or handled exactly once per eventID."""
        try:
            call = events.parse(event)
            events.check_origin(call, self.settings.allowed_accounts, self.settings.allowed_regions)
        except SkipEventError as skip:
            self.count(skip.metric)
            logger.warning("event skipped", extra={"reason": skip.reason, "metric": skip.metric})
            return {"status": "skipped", "reason": skip.reason}
        self.count(_TRIGGER_METRIC[call.trigger])
        if call.trigger is Trigger.STATE_CHANGE and not self.gatherer.registry.config().policy.gaps(
            call.request_tags
        ):
            # The event carries the resource's tags, and they meet the policy: the usual case
            # (each job changes state several times), answered without a call.
            return brief(call, self.settings.mode, "compliant")
        return self.process(call, context)

    def process(
        self, call: Subject, context: LambdaContext | LocalContext | None = None
    ) -> dict[str, Any]:
        """One subject. With a state table, each request id is handled once: a repeated
        delivery writes nothing and only finishes telling what its first try decided. A
        resource another request is writing is waited for (its lease is short), then read
        afresh."""
        del context  # the record is per request id; Lambda's context adds nothing to it
        waited = 0.0
        while True:
            try:
                return self.tag(call)
            except AlreadyHandledError as handled:
                return self.duplicate(call, handled.record)
            except LockBusyError as busy:
                wait = min(max(busy.until - time.time(), 0.05), self.settings.lease_seconds)
                if waited + wait > self.settings.lease_seconds * 1.5:
                    self.count("ResourcesBusy")
                    raise
                self.sleep(wait)
                waited += wait

    def duplicate(self, call: Subject, record: ResourceRecord = NO_RECORD) -> dict[str, Any]:
        """A request claimed before: its notices are offered again (`Applier.offer_again`)."""
        self.count("EventsDuplicate")
        logger.info("duplicate event", extra={"eventId": call.event_id})
        offered = self.applier.offer_again(call, record)
        return brief(call, self.settings.mode, "duplicate", duplicate=True, offered_again=offered)

    def unaffected(self, call: Subject) -> dict[str, Any]:
        """DeleteTags of keys the policy does not require: nothing to do."""
        self.count("DriftIgnored")
        return brief(call, self.settings.mode, "unaffected", removed=list(call.removed))

    def tag(self, call: Subject) -> dict[str, Any]:
        config = self.gatherer.registry.config()
        if call.trigger is Trigger.DRIFT and not set(call.removed) & set(config.policy.required):
            return self.unaffected(call)
        # A trigger that names no creator reads the resource's record (its creator, and whether
        # this request was handled); a Create call's duplicate is caught by its one write.
        record = NO_RECORD
        if self.table is not None and call.trigger not in CREATE_TRIGGERS:
            record = self.table.record(call.resource.arn)
            finished = call.event_id in record.handled and record.last_request != call.event_id
            if finished and self.settings.mode is Mode.ENFORCE:
                raise AlreadyHandledError(call.event_id, record)
        read_at = self.gatherer.clock()
        listed = self.gatherer.read(call)
        if listed is None:
            return self.applier.gone(call)
        evidence = self.gatherer.gather(call, config, listed, record)
        return self.applier.apply(evidence, decide(evidence), Read(listed, read_at))


def notices(settings: Settings, dynamodb: DynamoDBClient) -> Direct | Outbox:
    """Windows when there is a state table and a window; else every notice at once."""
    notifier = Notifier(aws.sns(), settings.notify_topic_arn)
    if not settings.state_table or settings.notify_window_seconds <= 0:
        return Direct(notifier)
    queue = settings.digest_queue_url
    return Outbox(
        dynamodb=dynamodb,
        table=settings.state_table,
        notifier=notifier,
        window_seconds=settings.notify_window_seconds,
        delay_seconds=settings.digest_delay_seconds if queue else 0.0,
        sqs=aws.sqs() if queue else None,
        queue_url=queue,
        daily_cap=settings.daily_message_cap,
    )
