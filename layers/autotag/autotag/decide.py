"""decide: everything gathered about one resource -> what to write and whom to tell. Pure.

`autotag.gather` reads (tags, creator record or CloudTrail, Studio profile and its execution
role, parent, registry); `decide` weighs it; `autotag.apply` writes. Nothing here calls AWS, so
every rule about who pays and who is told is tested directly (tests/unit/test_decide.py),
including that no input a caller can write changes the creator, project or recipient.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from autotag import resolve
from autotag.events import Subject, Trigger
from autotag.identity import NO_CLAIMS, Claims, Principal, PrincipalKind, who
from autotag.lineage import NO_PARENT, Parent
from autotag.notify import (
    Notice,
    Outcome,
    Recipient,
    choose_recipient,
    compose,
    compose_membership,
)
from autotag.policy import PROJECT_KEY, Drift, Membership, Policy
from autotag.registry import PersonEntry, ProjectEntry
from autotag.resolve import Facts, TagPlan
from autotag.settings import Mode
from autotag.studio import Profile


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

    @property
    def names(self) -> frozenset[str] | None:
        """Every name the registry knows the creator by (folded); None when it does not."""
        return frozenset(self.entry.keys) if self.entry is not None else None


def find_person(principal: Principal, people: Mapping[str, PersonEntry]) -> Creator:
    """The registry entry of the first of the principal's lookup keys that has one."""
    for index, name in enumerate(principal.lookup_keys):
        entry = people.get(name.casefold())
        if entry is not None:
            return Creator(principal, entry, own=index == 0)
    return Creator(principal)


@dataclass(frozen=True)
class Evidence:
    """Every read about one resource, nothing decided."""

    call: Subject
    policy: Policy
    existing: Mapping[str, str]  # the resource's tags (and those its Create call carried)
    claims: Claims = NO_CLAIMS  # the creator's call: the event's, or the one CloudTrail kept
    recorded: Principal | None = None  # the creator recorded when the resource was created
    studio: Profile | None = None  # the Studio profile `claims` names (its execution roles)
    parent: Parent = NO_PARENT
    profiles: Mapping[str, Profile] = field(default_factory=dict)  # folded profile name ->
    people: Mapping[str, PersonEntry] = field(default_factory=dict)  # folded registry key ->
    projects: Mapping[str, ProjectEntry] = field(default_factory=dict)  # registry name ->
    defaults: Mapping[str, str] = field(default_factory=dict)
    withheld: frozenset[str] = frozenset()
    writable: frozenset[str] = frozenset()
    actor: Claims | None = None  # drift: who removed the tags
    mode: Mode = Mode.ENFORCE


@dataclass(frozen=True)
class Told:
    """A notice decided: its text, its reader, and the window it goes through."""

    notice: Notice
    recipient: Recipient
    keys: tuple[str, ...]  # the window's key set
    line: str  # the resource as a digest lists it


@dataclass(frozen=True)
class Decision:
    principal: Principal
    creator: Creator
    plan: TagPlan
    mode: Mode  # the mode in force for this resource (report-only drift: dry run)
    status: str
    notice: Told | None = None
    membership: Told | None = None  # to the project's owner: charged by a non-member
    withhold: tuple[str, ...] = ()  # report-only drift: keys to remember as removed

    @property
    def writes(self) -> dict[str, str]:
        return self.plan.tags_to_write() if self.mode is Mode.ENFORCE else {}


_CREATE_TRIGGERS: Final = frozenset({Trigger.CREATE, Trigger.SERVICE})


def attribute(evidence: Evidence) -> Principal:
    """The creator, by the trust order (autotag.identity); then the parent's person, where
    SageMaker itself made the resource (a tuning job's training jobs, a pipeline's steps),
    where nobody is known (and the parent was not found through a tag a caller can write), or
    where a role made something that runs inside the parent (an app in a space)."""
    if evidence.recorded is not None and evidence.call.trigger not in _CREATE_TRIGGERS:
        principal = evidence.recorded
    else:
        roles = evidence.studio.execution_roles if evidence.studio else frozenset()
        principal = who(
            evidence.claims, studio_roles=roles, vouched_roles=evidence.policy.vouched_roles
        )
    parent = evidence.parent.creator
    if parent is None:
        return principal
    if principal.is_sagemaker:
        return parent
    if principal.kind is PrincipalKind.UNKNOWN and not evidence.parent.from_tag:
        return parent
    if principal.kind is PrincipalKind.ROLE and evidence.parent.inside:
        return parent
    return principal


def _status(plan: TagPlan, mode: Mode) -> str:
    if not plan.needs_notice:
        return "compliant"
    if mode is Mode.DRY_RUN:
        return Outcome.DRY_RUN.value
    return Outcome.TAGGED.value if plan.complete else Outcome.INCOMPLETE.value


def line(call: Subject, principal: Principal) -> str:
    """The resource as a digest lists it."""
    return (
        f"{call.spec.kind} {call.resource_name} ({call.resource.arn}), "
        f"created {call.event_time or 'at an unknown time'} by {principal.name}"
    )


def decide(evidence: Evidence) -> Decision:
    call = evidence.call
    policy = evidence.policy
    principal = attribute(evidence)
    creator = find_person(principal, evidence.people)
    profile = (
        evidence.profiles.get(principal.profile_name.casefold())
        if principal.kind is PrincipalKind.STUDIO_USER and principal.profile_name
        else None
    )
    facts = Facts(
        policy=policy,
        existing=evidence.existing,
        parent=evidence.parent.tags,
        parent_detail=evidence.parent.detail,
        profile=dict(profile.tags) if profile else {},
        profile_detail=principal.profile_name or "",
        person=creator.tags,
        person_detail=creator.entry.id if creator.entry else "",
        event=resolve.event_tags(call.spec.phase.value, creator.owner),
        defaults=evidence.defaults,
        projects=evidence.projects,
        writable=evidence.writable,
        withheld=evidence.withheld,
        member_of=_member_of(creator, evidence.projects),
    )
    plan = resolve.plan(facts)
    mode = evidence.mode
    withhold: tuple[str, ...] = ()
    if call.trigger is Trigger.DRIFT and policy.drift is Drift.REPORT_ONLY:
        mode = Mode.DRY_RUN  # the policy says: tell, do not put back
        if evidence.mode is Mode.ENFORCE:
            withhold = tuple(sorted(set(call.removed) & set(policy.required)))
    status = _status(plan, mode)
    told: Told | None = None
    if plan.needs_notice:
        # The remover hears about removed tags; otherwise the creator.
        reader = creator
        if evidence.actor is not None and not evidence.actor.empty:
            reader = find_person(
                who(evidence.actor, vouched_roles=policy.vouched_roles), evidence.people
            )
        recipient = choose_recipient(reader.principal, reader.person, plan.project)
        notice = compose(
            call=call,
            principal=principal,
            plan=plan,
            recipient=recipient,
            outcome=Outcome(status),
            required=policy.required,
            existing=evidence.existing,
        )
        keys = tuple(k for k in policy.required if k in {*plan.missing_before, *plan.rejected})
        told = Told(notice, recipient, keys, line(call, principal))
    return Decision(
        principal=principal,
        creator=creator,
        plan=plan,
        mode=mode,
        status=status,
        notice=told,
        membership=_membership(evidence, principal, plan),
        withhold=withhold,
    )


def _member_of(creator: Creator, projects: Mapping[str, ProjectEntry]) -> frozenset[str] | None:
    names = creator.names
    if names is None or creator.entry is None:
        return None
    joined = {p.name for p in projects.values() if names & {m.casefold() for m in p.members}}
    if creator.entry.project:
        joined.add(creator.entry.project)
    return frozenset(joined)


def _membership(evidence: Evidence, principal: Principal, plan: TagPlan) -> Told | None:
    project = plan.project
    if (
        not plan.outsider
        or project is None
        or not project.owner
        or evidence.policy.membership is Membership.IGNORE
    ):
        return None
    outcome = Outcome.DRY_RUN if evidence.mode is Mode.DRY_RUN else Outcome.INCOMPLETE
    notice = compose_membership(
        call=evidence.call, principal=principal, project=project, outcome=outcome
    )
    recipient = Recipient(project.owner, "project owner")
    keys = (f"membership:{project.name}",)
    return Told(notice, recipient, keys, line(evidence.call, principal))
