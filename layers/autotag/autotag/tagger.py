"""One resource, end to end: parse, gather, decide, apply.

The Lambda handler, `autotag handle` and `autotag redrive` call `Tagger.handle` with an event;
the sweep and `autotag audit --fix` call `Tagger.process` with a Subject they built. Every
trigger goes through the same three steps:

  gather  every read: the resource's tags, its creator (the event, the creator recorded at
          Create time, or the Create call in CloudTrail), the Studio profile and its execution
          role, the parent, the registry                                        (I/O, cached)
  decide  `autotag.decide.decide`: who, which project, what set, whom to tell      (pure)
  apply   under a per-resource lease: read the tags again (decide again if they changed),
          tell, AddTags, record the creator                                      (I/O)

Poison events (unparseable, unsupported, failed calls, foreign accounts) are logged, counted and
answered with a summary; AWS errors raise so that Lambda retries and the failure path catches
them. With a state table, each eventID is handled once: a repeated delivery writes and tells
nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Final, NamedTuple

from botocore.exceptions import ClientError

from autotag import aws, events, resolve
from autotag.decide import Decision, Evidence, Told, attribute, decide, find_person
from autotag.events import SkipEventError, Subject, Trigger
from autotag.identity import NO_CLAIMS, Claims, Principal, PrincipalKind, claims, who
from autotag.lineage import NO_PARENT, Lineage
from autotag.notify import ADMIN, CREATOR, PROJECT_OWNER, Notice, Notifier
from autotag.observability import Counter, Timing, logger, no_timing, without_emails
from autotag.outbox import Delivery, Direct, Held, Outbox
from autotag.policy import OWNER_KEY, PROJECT_KEY, Drift, Policy
from autotag.registry import Config, PersonEntry, RegistryReader
from autotag.resolve import TagPlan
from autotag.sagemaker import ResourceMissingError, ResourceTags, TagsRejectedError
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
from autotag.studio import Profile, StudioProfiles
from autotag.trail import WINDOW as TRAIL_WINDOW
from autotag.trail import CreatorTrail

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

    from autotag.local_context import LocalContext

STATE_KEY: Final = KEY  # the state table's partition key (template.yaml, StateTable)
STATE_EXPIRY: Final = EXPIRES  # its TTL attribute


class ResourceNotVisibleError(Exception):
    """The new resource cannot be read yet; raised so that Lambda retries the invocation."""


_VISIBILITY_WAITS: Final = (0.5, 1.0, 2.0)  # seconds: a short, bounded wait before giving up
# A write decided this long after the tags were read reads them again first (a person may have
# tagged the resource while its creator was looked up). Sooner, a second read would leave the
# same few milliseconds before AddTags as the first: SageMaker's AddTags takes no condition.
_READ_AGAIN_AFTER: Final = timedelta(seconds=0.5)
# A replaced request's notices older than this are not offered again: their window item, kept
# a day past the window, may be gone (autotag.outbox), and a message that late tells nobody
# anything the daily sweep would not.
_TAKE_OVER_WITHIN: Final = 86400.0


def _age(call: Subject, now: datetime) -> float | None:
    """Seconds since the resource was created: the Create call's time, the listing's creation
    time (the sweep), or a state-change event's `CreationTime` (epoch milliseconds)."""
    created = call.references.get("CreationTime") if call.trigger is Trigger.STATE_CHANGE else None
    if isinstance(created, int | float) and not isinstance(created, bool):
        return now.timestamp() - created / 1000
    return _event_age(call, now)


def _event_age(call: Subject, now: datetime) -> float | None:
    try:
        created = datetime.fromisoformat(call.event_time.replace("Z", "+00:00"))
    except ValueError:
        return None
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return (now - created).total_seconds()


@dataclass
class Tagger:
    # The state table: the resource's record, its lease (autotag.state).
    permissions: ClassVar = StateTable.permissions

    settings: Settings
    resources: ResourceTags
    registry: RegistryReader
    studio: StudioProfiles
    notices: Direct | Outbox | Held
    count: Counter
    state: DynamoDBClient | None = None  # the state table's client: exactly-once effects
    lineage: Lineage | None = None  # parent resources; None: no parent is read
    trail: CreatorTrail | None = None  # CloudTrail: the creator of a resource with no record
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    timing: Timing = no_timing  # seconds from a resource's creation to its tags' write

    def __post_init__(self) -> None:
        self.table: StateTable | None = None
        if self.state is not None and self.settings.state_table:
            self.table = StateTable(self.state, self.settings.state_table)

    @classmethod
    def from_settings(
        cls, settings: Settings, count: Counter, timing: Timing = no_timing
    ) -> Tagger:
        sagemaker = aws.sagemaker()
        dynamodb = aws.dynamodb()
        resources = ResourceTags(sagemaker)
        ttl = settings.cache_ttl_seconds
        studio = StudioProfiles(sagemaker, resources, ttl)
        return cls(
            settings=settings,
            resources=resources,
            registry=RegistryReader(dynamodb, settings.registry_table, ttl),
            studio=studio,
            notices=notices(settings, dynamodb),
            count=count,
            state=dynamodb if settings.state_table else None,
            lineage=Lineage(sagemaker, resources, studio, ttl),
            trail=CreatorTrail(aws.cloudtrail(), ttl, min_interval=settings.trail_interval_seconds),
            timing=timing,
        )

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
        if call.trigger is Trigger.STATE_CHANGE and not self.registry.config().policy.gaps(
            call.request_tags
        ):
            # The event carries the resource's tags, and they meet the policy: the usual case
            # (each job changes state several times), answered without a call.
            return self.brief(call, "compliant")
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
        """A request claimed before. If its notices were decided (and perhaps not all offered:
        the try failed after its claim), they are offered again; offering is idempotent."""
        self.count("EventsDuplicate")
        logger.info("duplicate event", extra={"eventId": call.event_id})
        offered: list[str] = []
        if self.notices.replayable and record.told and record.last_request == call.event_id:
            for notice, keys, line, at, _ in unpack_told(record.told):
                offered.append(self.notices.offer(notice, keys, line, call.event_id, at).value)
        return self.brief(call, "duplicate", duplicate=True, offered_again=offered)

    def read_existing(self, call: Subject) -> dict[str, str] | None:
        """The resource's tags; None when it was deleted. A resource too new to be visible gets
        a short wait, then ResourceNotVisibleError so that Lambda retries later."""
        arn = call.resource.arn
        for delay in (*_VISIBILITY_WAITS, None):
            try:
                return self.resources.read(arn)
            except ResourceMissingError:
                if call.trigger not in (Trigger.CREATE, Trigger.SERVICE):
                    return None  # listed or changed already: it was deleted since
                age = _event_age(call, self.clock())
                if age is None or age > self.settings.visibility_grace_seconds:
                    return None
                if delay is None:
                    self.count("ResourcesNotVisible")
                    raise ResourceNotVisibleError(
                        f"{arn} is not visible {age:.0f} s after {call.event_name}; retry later"
                    ) from None
                self.sleep(delay)
        return None  # not reached: the loop returns or raises

    # ------------------------------------------------------------------ gather

    def gather(
        self,
        call: Subject,
        config: Config,
        listed: Mapping[str, str],
        record: ResourceRecord = NO_RECORD,
    ) -> Evidence:
        """Every read the decision needs. Pure helpers (`attribute`, `find_person`) tell which
        entries to read; `decide` weighs them again from the evidence alone."""
        policy = config.policy
        # Tags the Create call (or SageMaker's event) carried are the resource's own, even if
        # ListTags does not show them yet: never written over.
        carried = call.request_tags if call.trigger in _CARRY_TAGS else {}
        existing = {**carried, **listed}
        said, recorded = self.creator_claims(call, record.creator, existing)
        studio = None
        if said.studio is not None and said.role_arn:  # only a role can be a profile's
            studio = self.studio.lookup(said.studio.name, said.studio.domain_id)
        lacking = any(not existing.get(key) for key in policy.required)
        caller = attribute(Evidence(call, policy, existing, said, recorded, studio))
        by_sagemaker = caller.is_sagemaker
        parent = (
            self.lineage.parent(call, existing, by_sagemaker=by_sagemaker)
            if self.lineage and lacking
            else NO_PARENT
        )
        if parent.creator is None and parent.arn and self.table is not None:
            # the parent's own creator, recorded when it was created (a tuning job's)
            parent = parent._replace(creator=self.table.creator(parent.arn))
        evidence = Evidence(
            call=call,
            policy=policy,
            existing=existing,
            claims=said,
            recorded=recorded,
            studio=studio,
            parent=parent,
            defaults=config.defaults,
            writable=self.settings.managed_keys,
            mode=self.settings.mode,
        )
        principal = attribute(evidence)
        profiles: dict[str, Profile] = {}
        if principal.kind is PrincipalKind.STUDIO_USER and principal.profile_name and lacking:
            profiles[principal.profile_name.casefold()] = self.studio.lookup(
                principal.profile_name, principal.domain_id
            )
        people = self.people(principal)
        actor = claims(call.actor, {}) if call.actor else None
        if actor is not None:
            people |= self.people(who(actor, vouched_roles=policy.vouched_roles))
        creator = find_person(principal, people)
        profile_tags = [profile.tags for profile in profiles.values()]
        names = resolve.candidate_projects(
            [existing, parent.tags, *profile_tags, creator.tags, config.defaults]
        )
        projects = {e.name: e for name in names if (e := self.registry.project(name))}
        return replace(
            evidence,
            profiles=profiles,
            people=people,
            projects=projects,
            withheld=self.withheld(call, existing, policy),
            actor=actor,
        )

    def creator_claims(
        self, call: Subject, recorded: Principal | None, existing: Mapping[str, str]
    ) -> tuple[Claims, Principal | None]:
        """What names the creator: the event itself (a Create call); else the creator recorded
        when it was created; else the Create call CloudTrail kept, looked up only when the
        creator would change what is written (no `Owner` or no `Project` yet; otherwise the
        project's owner is told). Never a tag on the resource."""
        if call.trigger in _CREATE_TRIGGERS:
            return claims(call.user_identity, call.request_tags), None
        if recorded is not None:
            return NO_CLAIMS, recorded
        if existing.get(OWNER_KEY) and existing.get(PROJECT_KEY):
            return NO_CLAIMS, None
        # The sweep knows when a resource was created: one older than CloudTrail's event
        # history cannot be looked up.
        age = _event_age(call, self.clock()) if call.trigger is Trigger.SWEEP else None
        if age is not None and age > TRAIL_WINDOW.total_seconds():
            self.count("CreatorsBeyondCloudTrail")
        elif self.trail is not None:
            found = self.trail.create_record(
                call.spec.event_name, call.resource_name, call.resource.arn
            )
            if found is not None:
                self.count("CreatorsFoundInCloudTrail")
                return claims(found.user_identity, found.request_tags), None
        self.count("CreatorsUnknown")
        return NO_CLAIMS, None

    def people(self, principal: Principal) -> dict[str, PersonEntry]:
        found = self.registry.person(principal.lookup_keys)
        return {found[1].casefold(): found[0]} if found else {}

    def withheld(
        self, call: Subject, existing: Mapping[str, str], policy: Policy
    ) -> frozenset[str]:
        """Keys removed on purpose under a report-only drift policy: left off by every trigger.
        Read only when that policy is on and the resource lacks a required key."""
        if (
            policy.drift is not Drift.REPORT_ONLY
            or self.table is None
            or all(existing.get(key) for key in policy.required)
        ):
            return frozenset()
        return self.table.withheld(call.resource.arn)

    def brief(self, call: Subject, status: str, **more: Any) -> dict[str, Any]:
        """The summary of a request answered without a decision: nothing written or told."""
        return {
            "status": status,
            "mode": self.settings.mode.value,
            "eventName": call.event_name,
            "eventId": call.event_id,
            "trigger": call.trigger.value,
            "resourceArn": call.resource.arn,
            **more,
            "notified": False,
            "recipient": None,
        }

    def unaffected(self, call: Subject) -> dict[str, Any]:
        """DeleteTags of keys the policy does not require: nothing to do."""
        self.count("DriftIgnored")
        return self.brief(call, "unaffected", removed=list(call.removed))

    def gone(self, call: Subject, principal: Principal | None = None) -> dict[str, Any]:
        self.count("ResourcesGone")
        who_ = principal or who(claims(call.user_identity, call.request_tags))
        creator = {"kind": who_.kind.value, "name": who_.name}
        summary = self.brief(call, "gone", principal=creator)
        logger.info("resource gone", extra={"summary": without_emails(summary)})
        return summary

    def tag(self, call: Subject) -> dict[str, Any]:
        config = self.registry.config()
        if call.trigger is Trigger.DRIFT and not set(call.removed) & set(config.policy.required):
            return self.unaffected(call)
        # A trigger that names no creator reads the resource's record (its creator, and whether
        # this request was handled); a Create call's duplicate is caught by its one write.
        record = NO_RECORD
        if self.table is not None and call.trigger not in _CREATE_TRIGGERS:
            record = self.table.record(call.resource.arn)
            finished = call.event_id in record.handled and record.last_request != call.event_id
            if finished and self.settings.mode is Mode.ENFORCE:
                raise AlreadyHandledError(call.event_id, record)
        read_at = self.clock()
        listed = self.read_existing(call)
        if listed is None:
            return self.gone(call)
        evidence = self.gather(call, config, listed, record)
        return self.apply(evidence, decide(evidence), Read(listed, read_at))

    # ------------------------------------------------------------------ apply

    def apply(self, evidence: Evidence, decision: Decision, read: Read) -> dict[str, Any]:
        """Every write, in an order that survives one failure:
          1. claim: one conditional write (the request handled, the creator kept, the notices
             decided, and, when tags are to be written, a short lease on the resource);
          2. if gathering took long, read the tags again under the lease (a person may have
             tagged it meanwhile; another trigger would hold the lease) and, if they changed,
             gather and decide again;
          3. AddTags;
          4. tell (after the write: a notice never says a tag was added that was not).
        A failure at 2 or 3 leaves the request claimed by itself: Lambda's retry claims it
        again and does the rest. A failure at 4 finds the tags written: the retry is a
        duplicate, which offers the claimed notices again (offering is idempotent)."""
        call = evidence.call
        owner = f"{call.event_id}#{uuid.uuid4().hex[:8]}"  # this try
        decided = time.time()  # the notices' window: a replay of them joins the same one
        before = self.claim(evidence, decision, owner, decided)
        try:
            # Before this request's own steps: a failure in them cannot then lose what it
            # replaced (and a failure here gives the lease back like any other).
            self.take_over(call, before, read.tags)
            if decision.writes and self.clock() - read.at > _READ_AGAIN_AFTER:
                fresh = self.read_existing(call)
                if fresh is None:
                    return self.gone(call, decision.principal)
                if fresh != read.tags:  # gathered again: the new tags may name another project
                    record = ResourceRecord(evidence.recorded)
                    evidence = self.gather(call, self.registry.config(), fresh, record)
                    decision = decide(evidence)
                    self.count("ResourcesChangedMeanwhile")
                    self.claim(evidence, decision, owner, decided, again=True)
                read = Read(fresh, self.clock())
            if decision.withhold and self.table is not None:
                self.table.withhold(call.resource.arn, list(decision.withhold))
            if decision.writes and not self.write(call, decision.plan):
                return self.gone(call, decision.principal)
        except BaseException:
            if decision.writes and self.table is not None:
                self.table.release(call.resource.arn, owner)
            raise
        deliveries = [self.tell(told, call.event_id, decided) for told in _told(decision)]
        status = decision.status
        self.count("ResourcesCompliant" if status == "compliant" else "ResourcesMissingTags")
        if not decision.plan.complete:
            self.count("ResourcesIncomplete")
        delivery = deliveries[0] if decision.notice and deliveries else None
        summary = Handled(call, decision, delivery).to_json()
        ids = {p.email.casefold(): p.id for p in evidence.people.values() if p.email}
        logger.info("resource handled", extra={"summary": without_emails(summary, ids)})
        return summary

    def take_over(self, call: Subject, before: ResourceRecord, tags: Mapping[str, str]) -> None:
        """Offer again the notices of the request this one's claim replaced in the record:
        that request's retry finds itself a duplicate with nothing left to offer, so a step
        it failed after its write (its window's timer, say) would be lost. Offering is
        idempotent: when that request finished, its window counts nothing twice. Only notices
        whose "Added" tags are on the resource (as read here), and whose window is not gone."""
        previous = before.last_request  # left out when unchanged: this request's own
        if not self.notices.replayable or not before.told or previous in ("", call.event_id):
            return
        for notice, keys, line, at, added in unpack_told(before.told):
            if any(tags.get(k) != v for k, v in added.items()):
                continue  # its write never happened: never say "Added"
            if at is None or time.time() - at > _TAKE_OVER_WITHIN:
                continue
            # counted by its own request already (if it got that far): only the offer here
            self.notices.offer(notice, keys, line, previous, at)
            self.count("NoticesTakenOver")

    def tell(self, told: Told, request_id: str, at: float) -> Delivery:
        delivery = self.notices.offer(told.notice, told.keys, told.line, request_id, at)
        self.count(_DELIVERY_METRIC[delivery])
        if delivery in _REACHES:
            self.count(_RECIPIENT_METRIC.get(told.notice.role, "NoticesToAdmin"))
        return delivery

    def claim(
        self,
        evidence: Evidence,
        decision: Decision,
        owner: str,
        decided: float,
        *,
        again: bool = False,
    ) -> ResourceRecord:
        """The request's one write (autotag.state.StateTable.claim); returns the record as it
        found it. A dry run records nothing: running it twice gives the same answer."""
        if self.table is None or evidence.mode is not Mode.ENFORCE:
            return NO_RECORD
        principal = decision.principal
        call = evidence.call
        known = principal.kind is not PrincipalKind.UNKNOWN
        # A Create call names the creator of the resource that exists now (a name used again
        # after a deletion makes the same ARN): it replaces an older record. Other triggers
        # only fill one in.
        replace = call.trigger in _CREATE_TRIGGERS and known
        keep = replace or (evidence.recorded is None and known)
        told = _told(decision)
        added = {k: a.value for k, a in decision.plan.add.items()} if decision.writes else {}
        return self.table.claim(
            call.resource.arn,
            call.event_id,
            creator=principal if keep else None,
            replace=replace,
            lease_seconds=self.settings.lease_seconds if decision.writes else 0.0,
            told=pack_told(told, decided, added) if told else None,
            again=again or bool(decision.writes),
            owner=owner,
        )

    def write(self, call: Subject, plan: TagPlan) -> bool:
        """AddTags; False when the resource was deleted meanwhile. A refusal raises."""
        try:
            self.resources.add(call.resource.arn, plan.tags_to_write())
        except TagsRejectedError:
            try:
                self.resources.read(call.resource.arn)
            except ResourceMissingError:
                return False
            self.count("TagsRejected")
            raise
        self.count("ResourcesTagged")
        self.count("TagsAdded", len(plan.add))
        age = _age(call, self.clock())
        if age is not None:
            self.timing("SecondsToTag", max(age, 0.0), call.trigger.value)
            if PROJECT_KEY in plan.add:  # it ran this long charged to nobody
                self.timing("SecondsWithoutProject", max(age, 0.0), call.trigger.value)
        return True


class Read(NamedTuple):
    """The resource's tags as first read, and when."""

    tags: Mapping[str, str]
    at: datetime


def _told(decision: Decision) -> list[Told]:
    return [t for t in (decision.notice, decision.membership) if t is not None]


def pack_told(told: list[Told], at: float, added: Mapping[str, str] | None = None) -> str:
    """The notices decided, when, and the tags they say were added, as the resource's record
    keeps them."""
    return json.dumps(
        [
            {
                "notice": t.notice.to_json(),
                "keys": list(t.keys),
                "line": t.line,
                "at": at,
                "added": dict(added or {}),
            }
            for t in told
        ]
    )


class Claimed(NamedTuple):
    """One notice a claim kept (`pack_told`)."""

    notice: Notice
    keys: tuple[str, ...]
    line: str
    at: float | None
    added: dict[str, str]


def unpack_told(text: str) -> list[Claimed]:
    try:
        return [
            Claimed(
                Notice.from_json(item["notice"]),
                tuple(item["keys"]),
                item["line"],
                float(item["at"]) if "at" in item else None,
                {str(k): str(v) for k, v in item.get("added", {}).items()},
            )
            for item in json.loads(text)
        ]
    except (ValueError, KeyError, TypeError):
        logger.warning(
            "a claimed notice could not be read", extra={"told": without_emails(text[:200])}
        )
        return []


# What handling one resource can fail with, short of the whole account being unreachable: the
# sweep and `autotag audit --fix` note it and go on.
RESOURCE_FAILURES: Final = (
    ClientError,
    TagsRejectedError,
    ResourceNotVisibleError,
    LockBusyError,  # another trigger is writing the same resource right now
)
# Triggers whose tags are the resource's own at the time (not the sweep's possibly stale read).
_CARRY_TAGS: Final = frozenset({Trigger.CREATE, Trigger.SERVICE, Trigger.STATE_CHANGE})
# Triggers that name the creator themselves.
_CREATE_TRIGGERS: Final = frozenset({Trigger.CREATE, Trigger.SERVICE})

_TRIGGER_METRIC: Final = {
    Trigger.CREATE: "TriggerCreate",
    Trigger.SERVICE: "TriggerServiceEvent",
    Trigger.STATE_CHANGE: "TriggerStateChange",
    Trigger.DRIFT: "TriggerTagsRemoved",
    Trigger.SWEEP: "TriggerSweep",
}

_DELIVERY_METRIC: Final = {
    Delivery.SENT: "NotificationsSent",
    Delivery.SCHEDULED: "NotificationsScheduled",
    Delivery.GATHERED: "NotificationsGathered",
    Delivery.SUPPRESSED: "NotificationsSuppressed",
    Delivery.HELD: "NotificationsHeld",
}
# Notices that will reach their reader (sent, or in a message still to go), by reader.
_REACHES: Final = frozenset({Delivery.SENT, Delivery.SCHEDULED, Delivery.GATHERED})
_RECIPIENT_METRIC: Final = {
    CREATOR: "NoticesToCreator",
    PROJECT_OWNER: "NoticesToProjectOwner",
    ADMIN: "NoticesToAdmin",
}


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


@dataclass(frozen=True)
class Handled:
    """What became of one request: the decision as carried out. `to_json()` is what the handler
    returns and logs."""

    call: Subject
    decision: Decision
    delivery: Delivery | None = None  # what became of the notice to the creator's reader

    def to_json(self) -> dict[str, Any]:
        call, decision = self.call, self.decision
        plan, principal, delivery = decision.plan, decision.principal, self.delivery
        summary: dict[str, Any] = {
            "status": decision.status,
            "mode": decision.mode.value,
            "eventName": call.event_name,
            "eventId": call.event_id,
            "trigger": call.trigger.value,
            "resourceArn": call.resource.arn,
            "principal": {
                "kind": principal.kind.value,
                "name": principal.name,
                "via": principal.via,
            },
            "project": plan.project.name if plan.project else None,
            "missingBefore": list(plan.missing_before),
            "added": {key: {"value": a.value, "source": a.source} for key, a in plan.add.items()},
            "missing": list(plan.still_missing),
            "rejected": list(plan.rejected),
            "problems": [{"key": p.key, "message": p.message} for p in plan.problems],
            "notified": delivery in {Delivery.SENT, Delivery.SCHEDULED, Delivery.GATHERED},
            "notification": delivery.value if delivery else None,
            "recipient": decision.notice.notice.recipient if decision.notice else None,
        }
        if decision.membership is not None:
            summary["membership"] = {
                "project": plan.project.name if plan.project else None,
                "told": decision.membership.notice.recipient,
            }
        return summary
