"""Terminal views for the CLI and the demo, drawn with rich. The Lambda never imports this."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from autotag.audit import Group as AuditGroup
from autotag.audit import Report
from autotag.registry_file import Registry

STATUS_STYLE = {
    "tagged": "green",
    "compliant": "green",
    "incomplete": "yellow",
    "dry-run": "cyan",
    "skipped": "dim",
}


def status_text(status: str) -> Text:
    return Text(status, style=f"bold {STATUS_STYLE.get(status, 'white')}")


def _added(summary: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    added: dict[str, dict[str, str]] = summary.get("added", {})
    return added


def before_after(
    summary: Mapping[str, Any],
    before: Mapping[str, str],
    after: Mapping[str, str],
    required: Sequence[str],
) -> Table:
    """Every tag of one resource: before the tagger ran, after, and where each added value came
    from. Required keys come first; a required key still missing shows as a red dash."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("tag")
    table.add_column("before")
    table.add_column("after")
    table.add_column("added from", style="dim")
    added = _added(summary)
    others = sorted(key for key in {*before, *after} if key not in required)
    for key in [*required, *others]:
        was, now = before.get(key), after.get(key)
        source = added.get(key, {}).get("source", "")
        key_style = "bold" if key in required else "dim"
        table.add_row(
            Text(key, style=key_style),
            Text(was) if was is not None else Text("—", style="dim"),
            Text(now, style="green" if key in added else "")
            if now is not None
            else Text("— missing" if key in required else "—", style="red"),
            source,
        )
    return table


def summary_view(summary: Mapping[str, Any]) -> RenderableType:
    """One invocation's summary: status, who, what was added and from where, what is missing."""
    if summary.get("status") == "skipped":
        return Text.assemble(status_text("skipped"), f"  {summary.get('reason', '')}")
    principal = summary.get("principal", {})
    head = Text.assemble(
        status_text(summary.get("status", "")),
        f"  {summary.get('eventName', '')}  {summary.get('resourceArn', '')}\n",
        f"creator: {principal.get('name', '?')} ({principal.get('via', '?')}),  ",
        f"project: {summary.get('project') or '—'},  ",
        f"notified: {summary.get('recipient') or 'nobody'}",
    )
    parts: list[RenderableType] = [head]
    added = _added(summary)
    if added:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False)
        table.add_column("added tag")
        table.add_column("value", style="green")
        table.add_column("from", style="dim")
        for key, item in added.items():
            table.add_row(key, item["value"], item["source"])
        parts.append(table)
    parts += problems_view(summary)
    return Group(*parts)


def problems_view(summary: Mapping[str, Any]) -> list[RenderableType]:
    lines: list[RenderableType] = []
    if summary.get("missing"):
        lines.append(Text(f"still missing: {', '.join(summary['missing'])}", style="red"))
    lines += [
        Text(f"{problem['key']}: {problem['message']}", style="yellow")
        for problem in summary.get("problems", [])
    ]
    return lines


def notification_panel(recipient: str, subject: str, body: str) -> Panel:
    return Panel(
        Text(body.rstrip()),
        title=Text(f"To: {recipient}", style="bold"),
        subtitle=Text(subject),
        title_align="left",
        subtitle_align="left",
        box=box.ROUNDED,
    )


def registry_tables(registry: Registry) -> Iterable[Table]:
    """The registry as an operator reads it: policy, projects, people."""
    policy = Table(title="policy", box=box.SIMPLE_HEAD, title_justify="left")
    policy.add_column("required key")
    policy.add_column("allowed values")
    policy.add_column("default")
    config = registry.config
    for key in config.policy.required:
        policy.add_row(
            key,
            ", ".join(config.policy.allowed.get(key, ())) or "any",
            config.defaults.get(key, ""),
        )
    yield policy

    projects = Table(title="projects", box=box.SIMPLE_HEAD, title_justify="left")
    for column in ("project", "tags", "owner", "members"):
        projects.add_column(column, overflow="fold")
    for project in registry.projects.values():
        projects.add_row(
            project.name,
            ", ".join(f"{k}={v}" for k, v in project.tags.items()),
            project.owner or "",
            ", ".join(project.members),
        )
    yield projects

    people = Table(title="people", box=box.SIMPLE_HEAD, title_justify="left")
    for column in ("id", "e-mail", "also known as", "project", "tags"):
        people.add_column(column, overflow="fold")
    for person in registry.people:
        people.add_row(
            person.id,
            person.email or "",
            ", ".join(person.aliases),
            person.project or "",
            ", ".join(f"{k}={v}" for k, v in person.tags.items()),
        )
    yield people


def _coverage_text(coverage: float) -> Text:
    style = "green" if coverage >= 100 else "yellow" if coverage >= 80 else "red"
    return Text(f"{coverage:.1f} %", style=style)


def _groups_table(title: str, groups: Iterable[AuditGroup]) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False)
    table.add_column(title.split(maxsplit=1)[0].lower())
    table.add_column("compliant / total", justify="right")
    table.add_column("coverage", justify="right")
    table.add_column("keys missing (resources)")
    for group in groups:
        missing = ", ".join(f"{key} ({n})" for key, n in group.missing.most_common())
        table.add_row(
            group.name,
            f"{group.compliant} / {group.total}",
            _coverage_text(group.coverage),
            missing or "—",
        )
    return table


def audit_view(report: Report, top: int = 5) -> RenderableType:
    """The compliance report: overall, per kind, per project, and the worst offenders."""
    overall = report.overall
    head = Text.assemble(
        "Compliance: ",
        (f"{overall.compliant} of {overall.total} resources", "bold"),
        " carry every required tag (",
        _coverage_text(overall.coverage),
        f"). Required: {', '.join(report.required)}",
    )
    parts: list[RenderableType] = [
        head,
        _groups_table("Kind of resource", (report.kinds[k] for k in sorted(report.kinds))),
        _groups_table("Project", (report.projects[k] for k in sorted(report.projects))),
    ]
    offenders = report.offenders(top)
    if offenders:
        parts.append(_groups_table("Owner (worst offenders)", offenders))
    return Group(*parts)


def fixes_view(fixes: Sequence[Mapping[str, Any]], *, dry_run: bool) -> RenderableType:
    """What `audit --fix` wrote (or would write), one row per resource."""
    verb = "would add" if dry_run else "added"
    table = Table(
        title=f"Fixes ({'dry run: nothing written, nobody told' if dry_run else 'written'})",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    table.add_column("resource")
    table.add_column("status")
    table.add_column(verb)
    table.add_column("still missing", style="red")
    for fix in fixes:
        added = ", ".join(f"{key}={a['value']}" for key, a in _added(fix).items())
        table.add_row(
            str(fix.get("resourceArn", "")).rsplit(":", 1)[-1],
            status_text(str(fix.get("status"))),
            added or "—",
            ", ".join(fix.get("missing", [])) or "—",
        )
    return table
