"""The monthly showback: each project owner is told last month's SageMaker spend of the projects
they own, by phase, with the share of the account's SageMaker spend that no project claims.

One message per owner and month, whatever the number of their projects, through the
notification topic (`recipient` = the owner, as `autotag subscribe` filters it). Each message
is a ledger item in the state table (`showback#<YYYY-MM>#<hash of the owner>`): a run leases it,
asks Cost Explorer, publishes, then marks it sent. A failure gives the lease back and the run
goes on with the other owners, then fails, so Lambda's retry (or an operator's invocation)
sends what is left and nothing twice. A crash between Publish and the mark sends that one
message again once the lease runs out: at least once, like the other notices.

The figures are `costs.answer`'s, the ones `autotag costs --project NAME --by phase` prints:
the account's spend by Project tag is asked once a run, each project's phases once each. An
owner learns their own projects' amounts and the account's unallocated share, not the account's
total or other projects' amounts.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Final

from botocore.exceptions import BotoCoreError, ClientError

from autotag.costs import (
    By,
    CostExplorer,
    CostsError,
    Kept,
    Question,
    Report,
    answer,
    key_status,
    last_month,
    month,
)
from autotag.notify import MAX_MESSAGE_BYTES, MAX_SUBJECT, PROJECT_OWNER, Notice, Outcome
from autotag.observability import Counter, logger
from autotag.policy import PROJECT_KEY
from autotag.registry import ProjectEntry, RegistryReader
from autotag.state import EXPIRES, KEY, SHOWBACK_PREFIX, is_conditional_failure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from autotag.notify import Notifier

# A run holds an owner's message for the rest of its invocation (it cannot outlive its
# timeout), so two runs never both send it; a run that died holds it that long at most.
LEASE_MARGIN_SECONDS: Final = 10
SENT: Final = "already"
BUSY: Final = "busy"
KEEP_SECONDS: Final = 400 * 86400  # a month's ledger outlives the next year's same month
METRIC: Final = "UnblendedCost"  # what `autotag costs` shows by default


# ------------------------------------------------------------------ the message (pure)


def money(amount: float, currency: str) -> str:
    return f"${amount:,.2f}" if currency == "USD" else f"{amount:,.2f} {currency}"


@dataclass(frozen=True)
class Section:
    """One project's part of an owner's message."""

    project: ProjectEntry
    report: Report


def _section(section: Section) -> list[str]:
    report, project = section.report, section.project
    currency = report.currency
    lines = [f"{project.name}: {money(report.total, currency)}"]
    if project.budget is not None:
        used = report.total / project.budget.monthly if project.budget.monthly else 0.0
        lines.append(
            f"  budget {money(project.budget.monthly, 'USD')} a month: {used:.0%} of it spent"
        )
    if not report.rows:
        lines.append("  no SageMaker spend carried this project's tag")
    phases: dict[str, dict[str, float]] = {}  # phase -> source -> amount
    for row in report.rows:
        by_source = phases.setdefault(row.phase or "Other", {})
        by_source[row.source] = by_source.get(row.source, 0.0) + row.amount
    for phase, by_source in sorted(phases.items(), key=lambda kv: -sum(kv[1].values())):
        said = {"tag": "by its ML-Phase tag", "usage type": "by the usage type (no ML-Phase tag)"}
        how = ", ".join(
            f"{money(amount, currency)} {said.get(source, source)}" if len(by_source) > 1
            else said.get(source, source)
            for source, amount in sorted(by_source.items())
        )  # fmt: skip
        amount = money(sum(by_source.values()), currency)
        lines.append(f"  {phase:<14} {amount:>14}   {how}")
    return lines


def compose(owner: str, sections: list[Section]) -> Notice:
    """The owner's message for one month: each project by phase, then the account's
    unallocated spend, and how to see more."""
    first = sections[0].report
    start = first.question.start
    named = f"{start:%B %Y}"
    total = sum(s.report.total for s in sections)
    currency = first.currency
    figure = f"SageMaker spend in {named}: {money(total, currency)}"
    if len(sections) == 1:  # the name gives way, never the amount
        name = sections[0].project.name.encode("ascii", "replace").decode()
        room = MAX_SUBJECT - len(f"[autotag] : {figure}")
        name = name if len(name) <= room else name[: room - 3] + "..."
        subject = f"[autotag] {name}: {figure}"
    else:
        subject = f"[autotag] Your {len(sections)} projects' {figure}"
    end = first.question.end
    head = [
        f"SageMaker spend in {named} ({start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d}) "
        "of the projects you own, as Cost Explorer counts it by the Project tag "
        f"({METRIC}, credits and refunds left out):",
        "",
    ]
    tail = [
        "",
        f"Across the account, {first.unallocated_share:.1%} of SageMaker spend carried no "
        "Project tag: no project pays for it. "
        "Tags are not retroactive: a resource's spend counts for its project from when it "
        "carries the tag.",
        "",
        "Cost Explorer may still revise these figures until the month's bill is final. "
        "To look closer:",
        *(
            f"  autotag costs --month {start:%Y-%m} --project {s.project.name} --by phase"
            for s in sections[:3]
        ),
        "",
        "You receive this as the owner of these projects in the tagging registry.",
    ]
    parts: list[str] = []  # one a project, a blank line between
    room = MAX_MESSAGE_BYTES - len("\n".join(head + tail).encode()) - 200
    for index, section in enumerate(sections):
        text = "\n".join(_section(section))
        if len(text.encode()) + 2 > room:
            parts.append(f"... and {len(sections) - index} more projects (too long to list)")
            break
        room -= len(text.encode()) + 2
        parts.append(text)
    return Notice(
        recipient=owner,
        outcome=Outcome.SHOWBACK,
        subject=subject,
        body="\n".join([*head, "\n\n".join(parts), *tail]) + "\n",
        role=PROJECT_OWNER,
    )


def owners(projects: list[ProjectEntry]) -> tuple[dict[str, list[ProjectEntry]], list[str]]:
    """The projects by owner (each owner once, whatever the spelling of the address), and the
    names of the projects nobody owns."""
    found: dict[str, list[ProjectEntry]] = {}
    spelled: dict[str, str] = {}
    nobody: list[str] = []
    for project in sorted(projects, key=lambda p: p.name):
        if not project.owner:
            nobody.append(project.name)
            continue
        owner = spelled.setdefault(project.owner.casefold(), project.owner)
        found.setdefault(owner, []).append(project)
    return found, nobody


def ledger_key(start: date, owner: str) -> str:
    digest = hashlib.sha256(owner.casefold().encode()).hexdigest()[:40]
    return f"{SHOWBACK_PREFIX}{start:%Y-%m}#{digest}"


# ------------------------------------------------------------------ the ledger (I/O)


@dataclass
class Ledger:
    """Which owners' messages of a month went, in the state table."""

    _client: DynamoDBClient
    _table: str
    _clock: Callable[[], float] = time.time
    permissions: ClassVar[tuple[str, ...]] = ("dynamodb:UpdateItem",)

    def take(self, key: str, seconds: float) -> dict[str, str] | str:
        """A lease of `seconds` on the owner's message; else why not: `SENT` (it went) or
        `BUSY` (another run holds it)."""
        now = int(self._clock())
        lease = {"N": str(now + int(seconds) + 1)}
        try:
            self._client.update_item(
                TableName=self._table,
                Key={KEY: {"S": key}},
                UpdateExpression=f"SET lease_ends = :lease, {EXPIRES} = :expires",
                ConditionExpression=(
                    "attribute_not_exists(sent) "
                    "AND (attribute_not_exists(lease_ends) OR lease_ends < :now)"
                ),
                ExpressionAttributeValues={
                    ":lease": lease,
                    ":now": {"N": str(now)},
                    ":expires": {"N": str(now + KEEP_SECONDS)},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if is_conditional_failure(error):
                found: Mapping[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
                return SENT if "sent" in found else BUSY
            raise
        return lease

    def give_back(self, key: str, lease: dict[str, str]) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={KEY: {"S": key}},
                UpdateExpression="REMOVE lease_ends",
                ConditionExpression="lease_ends = :lease",
                ExpressionAttributeValues={":lease": lease},
            )
        except ClientError:  # the lease runs out on its own; the retry waits for it
            logger.exception("showback lease not given back", extra={"ledger": key})

    def mark_sent(self, key: str, message_id: str) -> None:
        """Once Publish took the message. Failing, it is logged, not raised: sending again
        would be worse (the lease runs out and a later run sends once more)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={KEY: {"S": key}},
                UpdateExpression="SET sent = :now, message_id = :id REMOVE lease_ends",
                ExpressionAttributeValues={
                    ":now": {"N": str(int(self._clock()))},
                    ":id": {"S": message_id},
                },
            )
        except ClientError:
            logger.exception("showback sent but not marked", extra={"ledger": key})


class Preview:
    """A ledger and a notifier for `autotag showback`: every owner is taken, nothing is
    written, and the messages are kept to print."""

    def __init__(self) -> None:
        self.messages: list[Notice] = []

    def take(self, key: str, seconds: float) -> dict[str, str] | str:
        del key, seconds
        return {"N": "0"}

    def give_back(self, key: str, lease: dict[str, str]) -> None:
        del key, lease

    def mark_sent(self, key: str, message_id: str) -> None:
        del key, message_id

    def send(self, notice: Notice) -> str:
        self.messages.append(notice)
        return "preview"


# ------------------------------------------------------------------ the run


@dataclass
class Showback:
    registry: RegistryReader
    costs: CostExplorer
    ledger: Ledger | Preview
    notifier: Notifier | Preview
    count: Counter
    permissions: ClassVar[tuple[str, ...]] = ("ce:GetCostAndUsage", "ce:ListCostAllocationTags")

    def run(
        self, start: date, end: date, time_left: Callable[[], float] = lambda: 900.0
    ) -> dict[str, Any]:
        """Every owner's message for the month from `start` to `end` (exclusive) that has not
        gone yet. Stops early with time under a minute left. `left` counts the owners not
        reached and those another run holds: with `failed`, what a retry should send."""
        # Before any figure: with the key not active for cost allocation, every project
        # would read $0.00 and the whole bill as nobody's. A wrong figure is worse than none.
        status = key_status(self.costs, PROJECT_KEY)
        if status is not None and status != "Active":
            self.count("ShowbackKeyInactive")
            raise CostsError(
                f"the {PROJECT_KEY} tag key is {status} for cost allocation: every figure would "
                "read as unallocated; run `autotag activate` in the management account"
            )
        kept = Kept()  # the run's answers: the account's spend is asked once, not per owner
        config = self.registry.config()
        names = config.policy.projects or ()
        entries = {name: self.registry.project(name) for name in names}
        missing = sorted(name for name, entry in entries.items() if entry is None)
        by_owner, nobody = owners([e for e in entries.values() if e is not None])
        summary: dict[str, Any] = {
            "month": f"{start:%Y-%m}",
            "owners": len(by_owner),
            "sent": 0,
            "already": 0,
            "failed": [],
            "left": 0,
            "without_owner": nobody,
            "missing": missing,  # named by the registry's config, with no project item
        }
        if not names or missing:  # nothing to send is worth a look, not a silent success
            self.count("ShowbackRegistryGaps", max(len(missing), 1))
            logger.warning(
                "showback: registry projects not found; load the registry again",
                extra={"projects": len(names), "missing": missing},
            )
        if nobody:
            self.count("ShowbackProjectsWithoutOwner", len(nobody))
        for position, (owner, projects) in enumerate(sorted(by_owner.items())):
            if time_left() < 60:
                summary["left"] += len(by_owner) - position
                break
            hold = time_left() + LEASE_MARGIN_SECONDS
            outcome = self._one(owner, projects, Question(start, end, By.PHASE, METRIC), hold, kept)
            if outcome == "failed":
                summary["failed"].append(ledger_key(start, owner))
            elif outcome == BUSY:
                summary["left"] += 1
            else:
                summary[outcome] += 1
        self.count("ShowbacksSent", summary["sent"])
        if summary["failed"]:
            self.count("ShowbacksFailed", len(summary["failed"]))
        return summary

    def _one(
        self,
        owner: str,
        projects: list[ProjectEntry],
        asked: Question,
        hold: float,
        kept: Kept,
    ) -> str:
        """One owner's message: `asked` is the question put for each of their projects."""
        key = ledger_key(asked.start, owner)
        try:
            lease = self.ledger.take(key, hold)
        except (ClientError, BotoCoreError):
            logger.exception("showback ledger not read", extra={"ledger": key})
            return "failed"
        if isinstance(lease, str):
            return lease  # SENT, or BUSY: another run is sending it now
        try:
            sections = [
                Section(p, answer(self.costs, replace(asked, project=p.name), kept))
                for p in projects
            ]
            message_id = self.notifier.send(compose(owner, sections))
        except (ClientError, BotoCoreError, CostsError):
            # A Publish that timed out may have gone: the retry may send it again (at least
            # once, like every notice), rather than never.
            self.ledger.give_back(key, lease)
            logger.exception("showback not sent", extra={"ledger": key})
            return "failed"
        except BaseException:
            self.ledger.give_back(key, lease)
            raise
        self.ledger.mark_sent(key, message_id)
        logger.info("showback sent", extra={"ledger": key, "projects": [p.name for p in projects]})
        return "sent"


def read_month(event: Mapping[str, Any], today: date) -> tuple[date, date]:
    """The month a run reports: `month` (YYYY-MM) when an operator names it, else the month
    before the schedule's `time` (or before today). A month not over is refused: its figures
    would be partial, and marked sent they would stand for the month."""
    named = event.get("month")
    if named:
        start, end = month(str(named))
        if end > today:
            raise CostsError(f"{start:%Y-%m} is not over: name a month before {today:%Y-%m}")
        return start, end
    stamp = str(event.get("time", ""))[:10]
    try:
        when = date.fromisoformat(stamp)
    except ValueError:
        when = today
    return last_month(when)
