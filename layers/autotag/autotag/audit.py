"""The account's compliance today: per resource kind, per project and per owner. Pure.

A resource is compliant when it carries every required key, spelled exactly, with a value the
policy allows (`Policy.gaps`); the sweep uses the same test.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from autotag.identity import PROFILE_ARN_TAG
from autotag.inventory import Found
from autotag.policy import OWNER_KEY, PROJECT_KEY, Policy

NO_PROJECT: Final = "(no project)"
NO_OWNER: Final = "(unknown)"


@dataclass
class Group:
    """Compliance of a set of resources: a kind, a project or an owner."""

    name: str
    total: int = 0
    compliant: int = 0
    missing: Counter[str] = field(default_factory=Counter)  # key -> resources lacking it

    @property
    def coverage(self) -> float:
        """Percent compliant; 100 for an empty group."""
        return 100.0 * self.compliant / self.total if self.total else 100.0

    def add(self, gaps: tuple[str, ...]) -> None:
        self.total += 1
        self.compliant += not gaps
        self.missing.update(gaps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "compliant": self.compliant,
            "total": self.total,
            "coverage": round(self.coverage, 1),
            "missing": dict(self.missing.most_common()),
        }


@dataclass(frozen=True)
class Resource:
    kind: str
    name: str
    arn: str
    project: str
    owner: str
    gaps: tuple[str, ...]  # required keys missing or holding a value the policy rejects
    found: Found  # as the inventory read it: what `--fix` hands to the tagger


@dataclass
class Report:
    required: tuple[str, ...]
    overall: Group = field(default_factory=lambda: Group("all resources"))
    kinds: dict[str, Group] = field(default_factory=dict)
    projects: dict[str, Group] = field(default_factory=dict)
    owners: dict[str, Group] = field(default_factory=dict)
    resources: list[Resource] = field(default_factory=list)

    def offenders(self, top: int = 5) -> list[Group]:
        """The owners with the most non-compliant resources, worst first."""
        ranked = sorted(
            (g for g in self.owners.values() if g.total > g.compliant),
            key=lambda g: (g.compliant - g.total, g.name),
        )
        return ranked[:top]

    def as_dict(self, top: int = 5) -> dict[str, Any]:
        return {
            "required": list(self.required),
            "overall": self.overall.as_dict(),
            "kinds": [g.as_dict() for g in _sorted(self.kinds)],
            "projects": [g.as_dict() for g in _sorted(self.projects)],
            "offenders": [g.as_dict() for g in self.offenders(top)],
            "resources": [
                {
                    "kind": r.kind,
                    "name": r.name,
                    "arn": r.arn,
                    "project": r.project,
                    "owner": r.owner,
                    "compliant": not r.gaps,
                    "missing": list(r.gaps),
                }
                for r in self.resources
            ],
        }


def _sorted(groups: Mapping[str, Group]) -> list[Group]:
    return [groups[name] for name in sorted(groups)]


def owner_of(tags: Mapping[str, str]) -> str:
    """Whom a resource belongs to as its tags tell: `Owner`, else its Studio user profile."""
    if tags.get(OWNER_KEY):
        return tags[OWNER_KEY]
    profile = tags.get(PROFILE_ARN_TAG, "")
    return profile.rsplit("/", 1)[-1] if "/" in profile else NO_OWNER


def audit(found: Iterable[Found], policy: Policy) -> Report:
    report = Report(policy.required)
    for item in found:
        gaps = policy.gaps(item.tags)
        project = item.tags.get(PROJECT_KEY) or NO_PROJECT
        owner = owner_of(item.tags)
        report.resources.append(
            Resource(item.spec.kind, item.name, item.arn.arn, project, owner, gaps, item)
        )
        report.overall.add(gaps)
        for groups, name in (
            (report.kinds, item.spec.kind),
            (report.projects, project),
            (report.owners, owner),
        ):
            groups.setdefault(name, Group(name)).add(gaps)
    return report


TIMING_DAYS: Final = 30  # the audit's look back at the time-to-tag metrics
PERCENTILES: Final = ("p50", "p90")  # the time to tag's distribution, as CloudWatch names them


@dataclass(frozen=True)
class TimeToTag:
    """How long resources went untagged, from the functions' metrics (`SecondsToTag`,
    `SecondsWithoutProject`, by trigger, over TIMING_DAYS), and the resource-hours spent
    without `Project`: until the tagger wrote it, plus those still without it today."""

    # trigger -> count, p50, p90, average, max (seconds; percentiles where CloudWatch has them)
    by_trigger: dict[str, dict[str, float]]
    hours_until_tagged: float
    hours_still_untagged: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "days": TIMING_DAYS,
            "by_trigger": self.by_trigger,
            "resource_hours_without_project": round(
                self.hours_until_tagged + self.hours_still_untagged, 1
            ),
            "until_tagged_hours": round(self.hours_until_tagged, 1),
            "still_untagged_hours": round(self.hours_still_untagged, 1),
        }

    def line(self) -> str:
        parts = [
            f"{t}: {v['count']:.0f} writes, "
            + (
                f"median {v['p50_seconds']:.0f} s, 90 % within {v['p90_seconds']:.0f} s, "
                if "p50_seconds" in v and "p90_seconds" in v
                else ""
            )
            + f"average {v['average_seconds']:.0f} s, longest {v['max_seconds']:.0f} s"
            for t, v in self.by_trigger.items()
        ] or ["no write in the metrics"]
        hours = self.hours_until_tagged + self.hours_still_untagged
        return (
            f"time to tag, last {TIMING_DAYS} days: {'; '.join(parts)}; "
            f"{hours:,.1f} resource-hours without Project"
        )


def untagged_hours(report: Report, now: datetime) -> float:
    """Hours since creation of the resources that still have no `Project`."""
    hours = 0.0
    for resource in report.resources:
        created = resource.found.created
        if resource.project != NO_PROJECT or not created:
            continue
        try:
            since = datetime.fromisoformat(created)
        except ValueError:
            continue
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        hours += max((now - since).total_seconds(), 0.0) / 3600
    return hours


CSV_HEADER: Final = ("section", "name", "compliant", "total", "coverage_percent", "missing")


def csv_rows(report: Report, top: int = 5) -> list[tuple[str, ...]]:
    """One row per group: overall, each kind, each project, the worst owners."""
    sections = [
        ("overall", [report.overall]),
        ("kind", _sorted(report.kinds)),
        ("project", _sorted(report.projects)),
        ("offender", report.offenders(top)),
    ]
    rows: list[tuple[str, ...]] = [CSV_HEADER]
    for section, groups in sections:
        for g in groups:
            missing = " ".join(f"{key}={n}" for key, n in g.missing.most_common())
            rows.append(
                (section, g.name, str(g.compliant), str(g.total), f"{g.coverage:.1f}", missing)
            )
    return rows
