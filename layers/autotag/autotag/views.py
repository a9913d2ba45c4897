"""Terminal views for the CLI and the demo, drawn with rich. The Lambda never imports this."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

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
