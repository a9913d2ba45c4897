"""One created resource, end to end: parse, who, read, decide, write, tell.

The Lambda handler and `autotag handle` both call `Tagger.handle`. Poison events (unparseable,
unsupported, failed calls) are logged, counted and answered with a summary; AWS errors raise so
that Lambda retries and the failure path catches them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from autotag import aws, events, resolve
from autotag.events import CreateCall, SkipEventError
from autotag.identity import Principal, who
from autotag.notify import Notifier, Outcome, choose_recipient, compose
from autotag.observability import Counter, logger
from autotag.policy import PROJECT_KEY
from autotag.registry import PersonEntry, RegistryReader
from autotag.resolve import Facts, TagPlan
from autotag.sagemaker import ResourceTags
from autotag.settings import Mode, Settings
from autotag.studio import StudioProfiles


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


@dataclass
class Tagger:
    settings: Settings
    resources: ResourceTags
    registry: RegistryReader
    studio: StudioProfiles
    notifier: Notifier
    count: Counter

    @classmethod
    def from_settings(cls, settings: Settings, count: Counter) -> Tagger:
        sagemaker = aws.sagemaker()
        resources = ResourceTags(sagemaker)
        ttl = settings.cache_ttl_seconds
        return cls(
            settings=settings,
            resources=resources,
            registry=RegistryReader(aws.dynamodb(), settings.registry_table, ttl),
            studio=StudioProfiles(sagemaker, resources, ttl),
            notifier=Notifier(aws.sns(), settings.notify_topic_arn),
            count=count,
        )

    def handle(self, event: Any) -> dict[str, Any]:
        try:
            call = events.parse(event)
        except SkipEventError as skip:
            self.count(skip.metric)
            logger.warning("event skipped", extra={"reason": skip.reason, "metric": skip.metric})
            return {"status": "skipped", "reason": skip.reason}
        return self.tag(call)

    def creator(self, principal: Principal) -> Creator:
        found = self.registry.person(principal.lookup_keys)
        if found is None:
            return Creator(principal)
        entry, key = found
        return Creator(principal, entry, own=key.casefold() == principal.lookup_keys[0].casefold())

    def gather(self, call: CreateCall, creator: Creator) -> Facts:
        """Read everything the decision needs: the resource, the registry, the Studio profile."""
        principal = creator.principal
        existing = self.resources.read(call.resource.arn)
        config = self.registry.config()
        profile = self.studio.lookup(principal)
        profile_tags = dict(profile.tags) if profile else {}
        person_tags = creator.tags
        parent: dict[str, str] = {}  # lineage (parent-resource tags) plugs in here
        names = resolve.candidate_projects(
            [existing, parent, profile_tags, person_tags, config.defaults]
        )
        projects = {name: entry for name in names if (entry := self.registry.project(name))}
        facts = Facts(
            policy=config.policy,
            existing=existing,
            parent=parent,
            profile=profile_tags,
            profile_detail=principal.profile_name or "",
            person=person_tags,
            person_detail=creator.entry.id if creator.entry else "",
            event=resolve.event_tags(call.spec.phase.value, creator.owner),
            defaults=config.defaults,
            projects=projects,
        )
        if profile is not None and profile.note:
            logger.info("no user-profile tags", extra={"note": profile.note})
        return facts

    def tag(self, call: CreateCall) -> dict[str, Any]:
        principal = who(call.user_identity, call.request_tags)
        creator = self.creator(principal)
        facts = self.gather(call, creator)
        plan = resolve.plan(facts)
        mode = self.settings.mode
        status = _status(plan, mode)
        recipient = None
        # Tell first, then write: if the write fails, the retried invocation still finds the
        # keys missing and tells again, rather than finding them present and telling nobody.
        if plan.needs_notice:
            outcome = Outcome(status)
            target = choose_recipient(principal, creator.person, plan.project)
            notice = compose(
                call=call,
                principal=principal,
                plan=plan,
                recipient=target,
                outcome=outcome,
                required=facts.policy.required,
                existing=facts.existing,
            )
            self.notifier.send(notice)
            self.count("NotificationsSent")
            recipient = notice.recipient
        if plan.add and mode is Mode.ENFORCE:
            self.resources.add(call.resource.arn, plan.tags_to_write())
            self.count("ResourcesTagged")
            self.count("TagsAdded", len(plan.add))
        self.count("ResourcesCompliant" if status == "compliant" else "ResourcesMissingTags")
        if not plan.complete:
            self.count("ResourcesIncomplete")
        summary = summarize(
            call=call, principal=principal, plan=plan, status=status, recipient=recipient, mode=mode
        )
        logger.info("resource handled", extra={"summary": summary})
        return summary


def _added(plan: TagPlan) -> dict[str, dict[str, str]]:
    return {key: {"value": a.value, "source": a.source} for key, a in plan.add.items()}


def summarize(
    *,
    call: CreateCall,
    principal: Principal,
    plan: TagPlan,
    status: str,
    recipient: str | None,
    mode: Mode,
) -> dict[str, Any]:
    """The JSON-serialisable answer of one invocation."""
    summary: Mapping[str, Any] = {
        "status": status,
        "mode": mode.value,
        "eventName": call.event_name,
        "eventId": call.event_id,
        "resourceArn": call.resource.arn,
        "principal": {"kind": principal.kind.value, "name": principal.name, "via": principal.via},
        "project": plan.project.name if plan.project else None,
        "missingBefore": list(plan.missing_before),
        "added": _added(plan),
        "missing": list(plan.still_missing),
        "rejected": list(plan.rejected),
        "problems": [{"key": p.key, "message": p.message} for p in plan.problems],
        "notified": recipient is not None,
        "recipient": recipient,
    }
    return dict(summary)
