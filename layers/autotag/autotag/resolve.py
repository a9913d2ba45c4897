"""Decide which tags a resource is missing and where each value comes from. Pure.

One coherent set per project:
  1 the resource's own tags are never overwritten (an empty value counts as missing; a
    wrong-cased key is reported and its value copied to the canonical key);
  2 the project: the resource's tag > the parent > the trusted Studio profile > the registry
    person (their project, else their single membership) > the registry defaults;
  3 every key the event itself answers: `ML-Phase` from the API, `Owner` = the resolved creator
    (`Owner` comes from nowhere else);
  4 the project's own tags (`CostCenter`, `Team`, ...) for every key the project defines;
  5 for keys the project leaves open: the parent's tags, then the Studio profile's, then the
    registry person's;
  6 the registry defaults.
A project the creator is not a member of is kept, and flagged (`TagPlan.outsider`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from autotag.policy import (
    MAX_TAGS,
    OWNER_KEY,
    PHASE_KEY,
    PROJECT_KEY,
    Policy,
    clean_value,
    counted_tags,
    is_system_key,
)
from autotag.registry import ProjectEntry


class SourceName(StrEnum):
    RESOURCE = "resource"
    EVENT = "event"
    PARENT = "parent resource"
    REGISTRY_PROJECT = "registry project"
    USER_PROFILE = "Studio user profile"
    REGISTRY_PERSON = "registry person"
    DEFAULTS = "registry defaults"


class Source(NamedTuple):
    name: SourceName
    tags: Mapping[str, str]
    detail: str = ""  # e.g. which person or project

    @property
    def label(self) -> str:
        return f"{self.name.value} {self.detail}".strip()


class Added(NamedTuple):
    value: str
    source: str


class Problem(NamedTuple):
    key: str
    message: str


@dataclass(frozen=True)
class Facts:
    """Everything the decision needs, gathered by the caller."""

    policy: Policy
    existing: Mapping[str, str]  # the resource's tags as ListTags returns them
    parent: Mapping[str, str] = field(default_factory=dict)
    parent_detail: str = ""  # which parent: "pipeline p1"
    profile: Mapping[str, str] = field(default_factory=dict)
    profile_detail: str = ""
    person: Mapping[str, str] = field(default_factory=dict)  # registry tags, with Project
    person_detail: str = ""
    event: Mapping[str, str] = field(default_factory=dict)  # ML-Phase, Owner
    defaults: Mapping[str, str] = field(default_factory=dict)
    projects: Mapping[str, ProjectEntry] = field(default_factory=dict)  # known candidates
    writable: frozenset[str] = frozenset()  # keys the function may write; empty: any
    withheld: frozenset[str] = frozenset()  # removed on purpose (report-only drift): left off
    # The projects the creator belongs to (registry); None when the registry does not know
    # the creator, and membership cannot be judged.
    member_of: frozenset[str] | None = None


@dataclass(frozen=True)
class TagPlan:
    missing_before: tuple[str, ...]  # required keys the resource lacked (exact spelling)
    add: Mapping[str, Added]
    still_missing: tuple[str, ...]
    problems: tuple[Problem, ...]
    project: ProjectEntry | None  # the registered project the resource belongs to
    rejected: tuple[str, ...] = ()  # required keys whose existing value the policy rejects
    # The resource is charged to a project its creator is not a member of.
    outsider: bool = False

    @property
    def complete(self) -> bool:
        return not self.still_missing and not self.rejected

    @property
    def needs_notice(self) -> bool:
        """The creator should hear about it: a key was missing or holds a rejected value."""
        return bool(self.missing_before or self.rejected)

    def tags_to_write(self) -> dict[str, str]:
        return {key: added.value for key, added in self.add.items()}


def event_tags(phase: str, owner: str | None) -> dict[str, str]:
    """What the event itself says: the ML phase of the API, and the owner it resolved."""
    return {PHASE_KEY: phase, **({OWNER_KEY: owner} if owner else {})}


def candidate_projects(sources: Sequence[Mapping[str, str]]) -> list[str]:
    """Every Project value that could win, so the caller can look them up before `plan`."""
    names: list[str] = []
    for tags in sources:
        for key, value in tags.items():
            if key.casefold() == PROJECT_KEY.casefold() and value and value not in names:
                names.append(value)
    return names


def _project_of(tags: Mapping[str, str]) -> str | None:
    return next((v for k, v in tags.items() if k.casefold() == PROJECT_KEY.casefold() and v), None)


def _quote(value: str, limit: int = 60) -> str:
    """`value` quoted for a message, shortened when long."""
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")


class _Planner:
    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.policy = facts.policy
        self.add: dict[str, Added] = {}
        self.missing: list[str] = []
        self.rejected: list[str] = []
        self.problems: list[Problem] = []
        self.project: ProjectEntry | None = None

    def sources(self, key: str) -> list[Source]:
        """Where a missing `key` may come from, in precedence order (the module's 2 to 6)."""
        facts = self.facts
        project = self.project
        if key == OWNER_KEY:  # the resolved creator, and nobody's tag
            return [Source(SourceName.EVENT, facts.event)]
        if key == PROJECT_KEY:
            return [
                Source(SourceName.PARENT, facts.parent, facts.parent_detail),
                Source(SourceName.USER_PROFILE, facts.profile, facts.profile_detail),
                Source(SourceName.REGISTRY_PERSON, facts.person, facts.person_detail),
                Source(SourceName.DEFAULTS, facts.defaults),
            ]
        if PROJECT_KEY in self.rejected:
            # The resource names a project the registry does not know: nothing can be said to
            # belong with it, beyond what the event and the defaults say.
            return [
                Source(SourceName.EVENT, facts.event),
                Source(SourceName.DEFAULTS, facts.defaults),
            ]
        project_tags: Mapping[str, str] = project.tags if project else {}
        return [
            Source(SourceName.EVENT, facts.event),
            Source(SourceName.REGISTRY_PROJECT, project_tags, project.name if project else ""),
            Source(SourceName.PARENT, facts.parent, facts.parent_detail),
            Source(SourceName.USER_PROFILE, facts.profile, facts.profile_detail),
            Source(SourceName.REGISTRY_PERSON, facts.person, facts.person_detail),
            Source(SourceName.DEFAULTS, facts.defaults),
        ]

    def check(self, key: str, value: str, source: str, *, existing: bool) -> str | None:
        """The value to write for `key`, or None with the reason recorded."""
        verb = "has" if existing else "would get"
        cleaned = value if existing else clean_value(value)
        if cleaned is None:
            self.problems.append(Problem(key, f"{source} gives {_quote(value)}: no usable value"))
            return None
        allowed = self.policy.allowed_value(key, cleaned)
        if allowed is None:
            choices = list(self.policy.allowed.get(key, ()))
            self.problems.append(
                Problem(
                    key, f"resource {verb} {_quote(cleaned)} from {source}, not one of {choices}"
                )
            )
            return None
        if key == PROJECT_KEY:
            allowed = self._known_project(allowed)
            if allowed is None:
                self.problems.append(
                    Problem(key, f"resource {verb} unknown project {_quote(cleaned)} from {source}")
                )
                return None
        if allowed != value:
            message = (
                f"resource has {_quote(value)}; the allowed spelling is {allowed!r} (left as is)"
                if existing
                else f"{source} gives {_quote(value)}; written as {_quote(allowed)} to fit"
            )
            self.problems.append(Problem(key, message))
        return allowed

    def answers(self, key: str) -> list[tuple[str, str]]:
        """Every (value, source) offered for a missing key, in precedence order: a wrong-cased
        key on the resource first, then the sources."""
        existing = self.facts.existing
        found: list[tuple[str, str]] = []
        # A wrong-cased key is copied to the canonical one, but never `Owner`: it names whom
        # the caller chose; `Owner` comes only from the resolved creator.
        wrong_cased = [k for k in existing if k.casefold() == key.casefold() and k != key]
        for other in sorted(wrong_cased if key != OWNER_KEY else []):
            self.problems.append(Problem(key, f"the resource has {other!r}: the key is {key!r}"))
            if existing[other]:
                found.append((existing[other], f"resource tag {other!r}"))
        found += [(s.tags[key], s.label) for s in self.sources(key) if s.tags.get(key)]
        return found

    def _known_project(self, name: str) -> str | None:
        """The registry's spelling of project `name` (ignoring case), when it is known."""
        folded = name.casefold()
        return next((known for known in self.facts.projects if known.casefold() == folded), None)

    def resolve(self, key: str) -> None:
        existing = self.facts.existing
        if existing.get(key):  # an empty value holds nothing to keep: filled like a missing one
            value = self.check(key, existing[key], "its own tag", existing=True)
            if value is None:
                self.rejected.append(key)
            elif key == PROJECT_KEY:
                self.project = self.facts.projects[value]
            return
        if key in self.facts.withheld:
            self.missing.append(key)
            self.problems.append(
                Problem(key, "someone removed it; the drift policy is report-only, so it stays off")
            )
            return
        if self.facts.writable and key not in self.facts.writable:
            self.missing.append(key)
            self.problems.append(
                Problem(key, "the stack may not write this key (add it to ManagedTagKeys)")
            )
            return
        # First valid answer wins; each rejected one is reported.
        for offered, source in self.answers(key):
            value = self.check(key, offered, source, existing=False)
            if value is not None:
                self.add[key] = Added(value, source)
                if key == PROJECT_KEY:
                    self.project = self.facts.projects[value]
                return
        self.missing.append(key)

    def make_room(self) -> None:
        existing = self.facts.existing
        room = MAX_TAGS - counted_tags(existing)
        new_keys = [key for key in self.add if key not in existing]  # others fill empty values
        for key in new_keys[max(room, 0) :]:
            del self.add[key]
            self.missing.append(key)
            self.problems.append(Problem(key, f"no room: the resource would pass {MAX_TAGS} tags"))


def plan(facts: Facts) -> TagPlan:
    """Decide the tags to add. Existing values are never changed."""
    planner = _Planner(facts)
    required = facts.policy.required
    # Project first: the project's own tags answer other keys.
    order = sorted(required, key=lambda key: key != PROJECT_KEY)
    for key in order:
        if not is_system_key(key):
            planner.resolve(key)
    planner.make_room()
    missing_before = tuple(key for key in required if not facts.existing.get(key))
    project = planner.project
    outsider = (
        project is not None
        and facts.member_of is not None
        and project.name.casefold() not in {name.casefold() for name in facts.member_of}
    )
    return TagPlan(
        missing_before=missing_before,
        add={key: planner.add[key] for key in required if key in planner.add},
        still_missing=tuple(key for key in required if key in planner.missing),
        problems=tuple(planner.problems),
        project=planner.project,
        rejected=tuple(key for key in required if key in planner.rejected),
        outsider=outsider,
    )
