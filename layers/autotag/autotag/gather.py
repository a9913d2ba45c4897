"""Gather: every read one decision needs, for one resource (I/O, cached in the warm container).

The resource's tags (a new one too young to be visible is waited for, briefly); its creator
(the event itself, the creator recorded at Create time, or the Create call CloudTrail kept);
the Studio profile and its execution role; the parent resource; the registry's people and
projects; the keys a report-only drift policy withholds. Pure helpers from `autotag.decide`
tell which entries to read; `decide` then weighs them from the `Evidence` alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Final

from autotag import resolve
from autotag.decide import Evidence, attribute, find_person
from autotag.events import Subject, Trigger
from autotag.identity import NO_CLAIMS, Claims, Principal, PrincipalKind, claims, who
from autotag.lineage import NO_PARENT, Lineage
from autotag.observability import Counter
from autotag.policy import OWNER_KEY, PROJECT_KEY, Drift, Policy
from autotag.registry import Config, PersonEntry, RegistryReader
from autotag.sagemaker import ResourceMissingError, ResourceTags
from autotag.settings import Settings
from autotag.state import NO_RECORD, ResourceRecord, StateTable
from autotag.studio import Profile, StudioProfiles
from autotag.trail import WINDOW as TRAIL_WINDOW
from autotag.trail import CreatorTrail


class ResourceNotVisibleError(Exception):
    """The new resource cannot be read yet; raised so that Lambda retries the invocation."""


_VISIBILITY_WAITS: Final = (0.5, 1.0, 2.0)  # seconds: a short, bounded wait before giving up
# Triggers whose tags are the resource's own at the time (not the sweep's possibly stale read).
_CARRY_TAGS: Final = frozenset({Trigger.CREATE, Trigger.SERVICE, Trigger.STATE_CHANGE})
# Triggers that name the creator themselves.
CREATE_TRIGGERS: Final = frozenset({Trigger.CREATE, Trigger.SERVICE})


def event_age(call: Subject, now: datetime) -> float | None:
    """Seconds since the event (for the sweep: since the resource was created)."""
    try:
        created = datetime.fromisoformat(call.event_time.replace("Z", "+00:00"))
    except ValueError:
        return None
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return (now - created).total_seconds()


@dataclass
class Gatherer:
    settings: Settings
    resources: ResourceTags
    registry: RegistryReader
    studio: StudioProfiles
    count: Counter
    table: StateTable | None = None  # creators recorded at Create time; withheld keys
    lineage: Lineage | None = None  # parent resources; None: no parent is read
    trail: CreatorTrail | None = None  # CloudTrail: the creator of a resource with no record
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def read(self, call: Subject) -> dict[str, str] | None:
        """The resource's tags; None when it was deleted. A resource too new to be visible gets
        a short wait, then ResourceNotVisibleError so that Lambda retries later."""
        arn = call.resource.arn
        for delay in (*_VISIBILITY_WAITS, None):
            try:
                return self.resources.read(arn)
            except ResourceMissingError:
                if call.trigger not in (Trigger.CREATE, Trigger.SERVICE):
                    return None  # listed or changed already: it was deleted since
                age = event_age(call, self.clock())
                if age is None or age > self.settings.visibility_grace_seconds:
                    return None
                if delay is None:
                    self.count("ResourcesNotVisible")
                    raise ResourceNotVisibleError(
                        f"{arn} is not visible {age:.0f} s after {call.event_name}; retry later"
                    ) from None
                self.sleep(delay)
        return None  # not reached: the loop returns or raises

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
        if call.trigger in CREATE_TRIGGERS:
            return claims(call.user_identity, call.request_tags), None
        if recorded is not None:
            return NO_CLAIMS, recorded
        if existing.get(OWNER_KEY) and existing.get(PROJECT_KEY):
            return NO_CLAIMS, None
        # The sweep knows when a resource was created: one older than CloudTrail's event
        # history cannot be looked up.
        age = event_age(call, self.clock()) if call.trigger is Trigger.SWEEP else None
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
