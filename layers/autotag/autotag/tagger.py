"""One resource, end to end: parse, read, who, parent, decide, write, tell.

The Lambda handler, `autotag handle` and `autotag redrive` call `Tagger.handle` with an event;
the sweep and `autotag audit --fix` call `Tagger.process` with a Subject they built. Every
trigger goes through the same resolution and the same writer. Poison
events (unparseable, unsupported, failed calls, foreign accounts) are logged, counted and
answered with a summary; AWS errors raise so that Lambda retries and the failure path catches
them. With a state table, each eventID is handled once: a repeated delivery writes and tells
nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Final, cast

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
)
from botocore.exceptions import ClientError

from autotag import aws, events, resolve
from autotag.events import SkipEventError, Subject, Trigger
from autotag.identity import Principal, from_owner_tag, who
from autotag.lineage import NO_PARENT, Lineage, Parent
from autotag.notify import Notifier, Outcome, choose_recipient, compose
from autotag.observability import Counter, logger
from autotag.outbox import Delivery, Direct, Held, Outbox
from autotag.policy import OWNER_KEY, PROJECT_KEY, Drift, Policy
from autotag.registry import PersonEntry, RegistryReader
from autotag.resolve import Facts, TagPlan
from autotag.sagemaker import ResourceMissingError, ResourceTags, TagsRejectedError
from autotag.settings import Mode, Settings
from autotag.studio import StudioProfiles

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_dynamodb import DynamoDBClient

    from autotag.local_context import LocalContext

STATE_KEY: Final = "pk"  # the state table's partition key (template.yaml, StateTable)
STATE_EXPIRY: Final = "expires"  # its TTL attribute
DRIFT_PREFIX: Final = "drift#"  # keys removed under a report-only drift policy, per resource
DRIFT_MEMORY_SECONDS: Final = 365 * 86400


@dataclass(frozen=True)
class Creator:
    """The principal and the registry entry found for them."""

    principal: Principal
    entry: PersonEntry | None = None
    own: bool = False  # the entry is the principal's own, not the role they used

    @property
    def person(self) -> PersonEntry | None:
        """The registry entry when it describes the principal themself."""
        return self.entry if self.own else None

    @property
    def owner(self) -> str | None:
        """`Owner`: the person's e-mail, else their name. Roles and services own nothing,
        unless the registry maps the role (a CI pipeline)."""
        if self.person is not None:
            return self.person.email or self.person.id
        if self.principal.is_person:
            return self.principal.email or self.principal.name
        return None

    @property
    def tags(self) -> dict[str, str]:
        """The registry entry's tags and default project (a role's apply to its users too)."""
        entry = self.entry
        if entry is None:
            return {}
        return {**entry.tags, **({PROJECT_KEY: entry.project} if entry.project else {})}


def _status(plan: TagPlan, mode: Mode) -> str:
    if not plan.needs_notice:
        return "compliant"
    if mode is Mode.DRY_RUN:
        return Outcome.DRY_RUN.value
    return Outcome.TAGGED.value if plan.complete else Outcome.INCOMPLETE.value


class ResourceNotVisibleError(Exception):
    """The new resource cannot be read yet; raised so that Lambda retries the invocation."""


_VISIBILITY_WAITS: Final = (0.5, 1.0, 2.0)  # seconds: a short, bounded wait before giving up


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
    # Powertools idempotency on the state table: a record per eventID.
    permissions: ClassVar = (
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    )

    settings: Settings
    resources: ResourceTags
    registry: RegistryReader
    studio: StudioProfiles
    notices: Direct | Outbox | Held
    count: Counter
    state: DynamoDBClient | None = None  # the state table's client: exactly-once effects
    lineage: Lineage | None = None  # parent resources; None: no parent is read
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self._idempotency: IdempotencyConfig | None = None
        self._once: Callable[..., dict[str, Any]] | None = None
        if self.state is not None and self.settings.state_table:
            self._idempotency = IdempotencyConfig(
                event_key_jmespath="eventId",
                raise_on_no_idempotency_key=True,
                expires_after_seconds=int(self.settings.idempotency_ttl_seconds),
                response_hook=self._replayed,
            )
            layer = DynamoDBPersistenceLayer(
                table_name=self.settings.state_table,
                key_attr=STATE_KEY,
                expiry_attr=STATE_EXPIRY,
                boto3_client=self.state,
            )
            self._once = idempotent_function(
                data_keyword_argument="key",
                persistence_store=layer,
                config=self._idempotency,
                key_prefix="event",
            )(self._tag_once)

    @classmethod
    def from_settings(cls, settings: Settings, count: Counter) -> Tagger:
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
        """One subject, handled exactly once per event_id when there is a state table."""
        if self._once is None or self._idempotency is None:
            return self.tag(call)
        if context is not None:
            self._idempotency.register_lambda_context(cast("LambdaContext", context))
        # A dry run's answer must not stand in for a real run's: each mode has its own record.
        suffix = "" if self.settings.mode is Mode.ENFORCE else f"#{self.settings.mode.value}"
        return self._once(call, key={"eventId": call.event_id + suffix})

    def _tag_once(self, call: Subject, key: dict[str, str]) -> dict[str, Any]:
        del key  # what makes the call unique; the decorator keys on it
        return self.tag(call)

    def _replayed(self, response: Any, idempotent_data: DataRecord) -> Any:
        """A repeated delivery: answer what the first one did, write and tell nothing."""
        del idempotent_data
        self.count("EventsDuplicate")
        logger.info("duplicate event", extra={"eventId": response.get("eventId")})
        return {**response, "duplicate": True}

    def creator(self, principal: Principal) -> Creator:
        found = self.registry.person(principal.lookup_keys)
        if found is None:
            return Creator(principal)
        entry, key = found
        return Creator(principal, entry, own=key.casefold() == principal.lookup_keys[0].casefold())

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

    def parent(self, call: Subject, existing: dict[str, str], policy: Policy) -> Parent:
        """The parent resource, read only when the resource lacks a required key."""
        if self.lineage is None or all(key in existing for key in policy.required):
            return NO_PARENT
        return self.lineage.parent(call, existing)

    def gather(
        self, call: Subject, creator: Creator, existing: dict[str, str], parent: Parent
    ) -> Facts:
        """Read everything else the decision needs: the registry and the Studio profile."""
        principal = creator.principal
        config = self.registry.config()
        profile = self.studio.lookup(principal)
        profile_tags = dict(profile.tags) if profile else {}
        person_tags = creator.tags
        names = resolve.candidate_projects(
            [existing, parent.tags, profile_tags, person_tags, config.defaults]
        )
        projects = {name: entry for name in names if (entry := self.registry.project(name))}
        if profile is not None and profile.note:
            logger.info("no user-profile tags", extra={"note": profile.note})
        return Facts(
            policy=config.policy,
            existing=existing,
            parent=parent.tags,
            parent_detail=parent.detail,
            profile=profile_tags,
            profile_detail=principal.profile_name or "",
            person=person_tags,
            person_detail=creator.entry.id if creator.entry else "",
            event=resolve.event_tags(call.spec.phase.value, creator.owner),
            defaults=config.defaults,
            projects=projects,
            writable=self.settings.managed_keys,
        )

    # ------------------------------------------------------------------ drift, report only

    def _drift_key(self, call: Subject) -> dict[str, Any]:
        return {STATE_KEY: {"S": f"{DRIFT_PREFIX}{call.resource.arn}"}}

    def withhold(self, call: Subject, policy: Policy) -> None:
        """Remember the required keys someone removed, so that no trigger puts them back."""
        if self.state is None or not self.settings.state_table:
            return
        keys = sorted(set(call.removed) & set(policy.required))
        expires = int(self.clock().timestamp() + DRIFT_MEMORY_SECONDS)
        self.state.update_item(
            TableName=self.settings.state_table,
            Key=self._drift_key(call),
            UpdateExpression="ADD #keys :keys SET #expires = :expires",
            ExpressionAttributeNames={"#keys": "keys", "#expires": STATE_EXPIRY},
            ExpressionAttributeValues={":keys": {"SS": keys}, ":expires": {"N": str(expires)}},
        )

    def withheld(
        self, call: Subject, existing: Mapping[str, str], policy: Policy
    ) -> frozenset[str]:
        """Keys removed on purpose under a report-only drift policy: left off by every trigger.
        Read only when that policy is on and the resource lacks a required key."""
        if (
            policy.drift is not Drift.REPORT_ONLY
            or self.state is None
            or not self.settings.state_table
            or all(key in existing for key in policy.required)
        ):
            return frozenset()
        item = self.state.get_item(
            TableName=self.settings.state_table, Key=self._drift_key(call)
        ).get("Item", {})
        expires = float(item.get(STATE_EXPIRY, {}).get("N", "0"))
        if expires < self.clock().timestamp():
            return frozenset()
        return frozenset(item.get("keys", {}).get("SS", []))

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

    def gone(self, call: Subject, principal: Principal) -> dict[str, Any]:
        self.count("ResourcesGone")
        creator = {"kind": principal.kind.value, "name": principal.name}
        summary = self.brief(call, "gone", principal=creator)
        logger.info("resource gone", extra={"summary": summary})
        return summary

    def tag(self, call: Subject) -> dict[str, Any]:
        policy = self.registry.config().policy
        if call.trigger is Trigger.DRIFT and not set(call.removed) & set(policy.required):
            return self.unaffected(call)
        listed = self.read_existing(call)
        if listed is None:
            return self.gone(call, who(call.user_identity, call.request_tags))
        # Tags the Create call (or SageMaker's event) carried are the resource's own, even if
        # ListTags does not show them yet: never written over.
        carried = call.request_tags if call.trigger in _CARRY_TAGS else {}
        existing = {**carried, **listed}
        # Studio's system tags name the creator also when the trigger does not (sweep, events).
        principal = who(call.user_identity, {**existing, **call.request_tags})
        parent = self.parent(call, existing, policy)
        if not principal.is_person and parent.creator is not None:
            principal = parent.creator  # a pipeline's starter, a space's owner
        elif not principal.is_person and not call.user_identity and existing.get(OWNER_KEY):
            # No creator in the trigger (sweep, drift, state change): the Owner tag names one.
            principal = from_owner_tag(existing[OWNER_KEY])
        creator = self.creator(principal)
        withheld = self.withheld(call, existing, policy)
        facts = replace(self.gather(call, creator, existing, parent), withheld=withheld)
        plan = resolve.plan(facts)
        mode = self.settings.mode
        if call.trigger is Trigger.DRIFT and policy.drift is Drift.REPORT_ONLY:
            mode = Mode.DRY_RUN  # the policy says: tell, do not put back
            if self.settings.mode is Mode.ENFORCE:
                self.withhold(call, policy)
        status = _status(plan, mode)
        recipient: str | None = None
        delivery: Delivery | None = None
        # Tell first, then write: if the write fails, the retried invocation still finds the
        # keys missing and tells again, rather than finding them present and telling nobody.
        if plan.needs_notice:
            # The remover hears about removed tags; otherwise the creator.
            told = self.creator(who(call.actor, {})) if call.actor else creator
            target = choose_recipient(told.principal, told.person, plan.project)
            notice = compose(
                call=call,
                principal=principal,
                plan=plan,
                recipient=target,
                outcome=Outcome(status),
                required=facts.policy.required,
                existing=facts.existing,
            )
            keys = tuple(
                k for k in facts.policy.required if k in {*plan.missing_before, *plan.rejected}
            )
            delivery = self.notices.offer(notice, keys, _line(call, principal))
            self.count(_DELIVERY_METRIC[delivery])
            recipient = notice.recipient
        if plan.add and mode is Mode.ENFORCE and not self.write(call, plan):
            return self.gone(call, principal)
        self.count("ResourcesCompliant" if status == "compliant" else "ResourcesMissingTags")
        if not plan.complete:
            self.count("ResourcesIncomplete")
        summary = summarize(
            call=call,
            principal=principal,
            plan=plan,
            status=status,
            recipient=recipient,
            delivery=delivery,
            mode=mode,
        )
        logger.info("resource handled", extra={"summary": summary})
        return summary

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
        return True


# What handling one resource can fail with, short of the whole account being unreachable: the
# sweep and `autotag audit --fix` note it and go on.
RESOURCE_FAILURES: Final = (
    ClientError,
    TagsRejectedError,
    ResourceNotVisibleError,
    IdempotencyAlreadyInProgressError,  # another run is on the same resource right now
)
# Triggers whose tags are the resource's own at the time (not the sweep's possibly stale read).
_CARRY_TAGS: Final = frozenset({Trigger.CREATE, Trigger.SERVICE, Trigger.STATE_CHANGE})

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
    )


def _line(call: Subject, principal: Principal) -> str:
    """The resource as a digest lists it."""
    return (
        f"{call.spec.kind} {call.resource_name} ({call.resource.arn}), "
        f"created {call.event_time or 'at an unknown time'} by {principal.name}"
    )


def _added(plan: TagPlan) -> dict[str, dict[str, str]]:
    return {key: {"value": a.value, "source": a.source} for key, a in plan.add.items()}


def summarize(
    *,
    call: Subject,
    principal: Principal,
    plan: TagPlan,
    status: str,
    recipient: str | None,
    delivery: Delivery | None,
    mode: Mode,
) -> dict[str, Any]:
    """The JSON-serialisable answer of one invocation."""
    summary: Mapping[str, Any] = {
        "status": status,
        "mode": mode.value,
        "eventName": call.event_name,
        "eventId": call.event_id,
        "trigger": call.trigger.value,
        "resourceArn": call.resource.arn,
        "principal": {"kind": principal.kind.value, "name": principal.name, "via": principal.via},
        "project": plan.project.name if plan.project else None,
        "missingBefore": list(plan.missing_before),
        "added": _added(plan),
        "missing": list(plan.still_missing),
        "rejected": list(plan.rejected),
        "problems": [{"key": p.key, "message": p.message} for p in plan.problems],
        "notified": delivery in {Delivery.SENT, Delivery.SCHEDULED, Delivery.GATHERED},
        "notification": delivery.value if delivery else None,
        "recipient": recipient,
    }
    return dict(summary)
