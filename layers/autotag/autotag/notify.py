"""Tell the creator what their resource was missing, what was added, and how to tag next time."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Final, NamedTuple

from botocore import xform_name

from autotag.events import Subject, Trigger
from autotag.identity import Principal, PrincipalKind
from autotag.registry import PersonEntry, ProjectEntry
from autotag.resolve import TagPlan

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef

ADMIN: Final = "admin"
CREATOR: Final = "creator"
PROJECT_OWNER: Final = "project owner"
MAX_SUBJECT: Final = 99


class Outcome(StrEnum):
    TAGGED = "tagged"  # every required key is now present
    INCOMPLETE = "incomplete"  # some required keys are still missing
    DRY_RUN = "dry-run"  # nothing written: the function runs in dry-run mode
    SHOWBACK = "showback"  # not about a resource: last month's spend, to a project owner


class Recipient(NamedTuple):
    address: str  # an e-mail address, or ADMIN
    role: str  # CREATOR, PROJECT_OWNER or ADMIN


@dataclass(frozen=True)
class Notice:
    recipient: str
    outcome: Outcome
    subject: str
    body: str
    role: str = CREATOR  # who the recipient is to the resource: CREATOR, PROJECT_OWNER, ADMIN
    about: str = ""  # the creator, as a digest to someone else names them

    def to_json(self) -> dict[str, str]:
        return {
            "recipient": self.recipient,
            "outcome": self.outcome.value,
            "subject": self.subject,
            "body": self.body,
            "role": self.role,
            "about": self.about,
        }

    @classmethod
    def from_json(cls, fields: Mapping[str, str]) -> Notice:
        return cls(
            recipient=fields["recipient"],
            outcome=Outcome(fields["outcome"]),
            subject=fields["subject"],
            body=fields["body"],
            role=fields.get("role", CREATOR),
            about=fields.get("about", ""),
        )

    def attributes(self) -> dict[str, MessageAttributeValueTypeDef]:
        return {
            "recipient": {"DataType": "String", "StringValue": self.recipient},
            "outcome": {"DataType": "String", "StringValue": self.outcome.value},
        }


def choose_recipient(
    principal: Principal, person: PersonEntry | None, project: ProjectEntry | None
) -> Recipient:
    """Someone subscribed to the topic (`autotag subscribe`: registry people and project
    owners): the creator's registry e-mail; else the owner of the resource's project; else the
    admins. An e-mail the registry does not know (an Identity Center user's) has no
    subscription, so it is never the recipient. The account's root user is the admins'."""
    if principal.kind is PrincipalKind.ROOT:
        return Recipient(ADMIN, ADMIN)
    if person is not None and person.email:
        return Recipient(person.email, CREATOR)
    if project is not None and project.owner:
        return Recipient(project.owner, PROJECT_OWNER)
    return Recipient(ADMIN, ADMIN)


def _kind_words(call: Subject) -> str:
    return call.spec.kind.replace("-", " ").replace("automl", "AutoML")


def _tag_list(tags: Mapping[str, str], indent: str) -> str:
    lines = [
        f'{indent}    {{"Key": {json.dumps(k)}, "Value": {json.dumps(v)}}},'
        for k, v in tags.items()
    ]
    return "\n".join(lines)


def _fix(call: Subject, suggested: Mapping[str, str]) -> list[str]:
    method = xform_name(call.spec.event_name)
    return [
        "Next time, pass the tags when you create it.",
        "",
        "  SageMaker Python SDK (Estimator, Processor, Model, ...):",
        "    tags=[",
        _tag_list(suggested, "    "),
        "    ]",
        "",
        "  boto3:",
        f"    sagemaker.{method}(",
        "        ...,",
        "        Tags=[",
        _tag_list(suggested, "        "),
        "        ],",
        "    )",
    ]


def compose(
    *,
    call: Subject,
    principal: Principal,
    plan: TagPlan,
    recipient: Recipient,
    outcome: Outcome,
    required: tuple[str, ...],
    existing: Mapping[str, str],
) -> Notice:
    """The message for one resource. Pure."""
    what = f"SageMaker {_kind_words(call)} {call.resource_name!r}"
    by = principal.described
    lines: list[str] = []
    if recipient.role == ADMIN:
        lines += [f"Nobody in the registry created {what}; it was {by}.", ""]
    elif recipient.role == PROJECT_OWNER:
        lines += [f"You own the project of {what}; its creator {by} is not in the registry.", ""]
    if recipient.role != CREATOR and principal.kind is not PrincipalKind.ROOT:
        lines += [_add_to_registry(principal), ""]
    if plan.missing_before:
        missing = ", ".join(plan.missing_before)
        lines.append(_lacked(call, what, missing))
    if plan.rejected:
        rejected = ", ".join(plan.rejected)
        lines.append(f"{what} has tags whose values the tag policy rejects: {rejected}.")
    lines += [
        f"Resource: {call.resource.arn}",
        f"Created: {call.event_time or 'unknown time'} by {by}"
        if call.trigger is not Trigger.DRIFT
        else f"Removed: {call.event_time or 'unknown time'}",
        "",
    ]
    if plan.add:
        head = _HEADS[call.trigger is Trigger.DRIFT, outcome is Outcome.DRY_RUN]
        width = max(len(key) for key in plan.add)
        lines.append(head)
        lines += [
            f"  {key.ljust(width)} = {added.value}    (from {added.source})"
            for key, added in plan.add.items()
        ]
        lines.append("")
    if plan.still_missing:
        lines += [f"Still missing, please add: {', '.join(plan.still_missing)}", ""]
    if plan.rejected:
        lines += [f"Please correct: {', '.join(plan.rejected)}", ""]
    if plan.problems:
        lines.append("Problems found:")
        lines += [f"  - {problem.key}: {problem.message}" for problem in plan.problems]
        lines.append("")
    if call.trigger is Trigger.DRIFT:
        lines.append(
            "Please leave the required tags in place: spend on a resource without them cannot "
            "be allocated, and tags are not retroactive."
        )
    else:
        lines += _fix(call, _suggested(plan, required, existing))
    return Notice(
        recipient.address,
        outcome,
        _subject(call, plan, outcome),
        "\n".join(lines) + "\n",
        role=recipient.role,
        about=principal.described,
    )


def _add_to_registry(principal: Principal) -> str:
    """How to make the creator someone the tagger can tell: a registry entry."""
    name = principal.lookup_keys[0] if principal.lookup_keys else principal.name
    return (
        "To have them told directly next time, add them to the registry (people: - id: "
        f"{json.dumps(name)}, email: ..., project: ...) and run `autotag registry load` and "
        "`autotag subscribe`."
    )


def compose_membership(
    *, call: Subject, principal: Principal, project: ProjectEntry, outcome: Outcome
) -> Notice:
    """To a project's owner: someone outside the project charged a resource to it. Pure."""
    what = f"SageMaker {_kind_words(call)} {call.resource_name!r}"
    body = [
        f"{what} is charged to your project {project.name}, but its creator "
        f"{principal.described} is not a member of {project.name} in the registry.",
        "",
        f"Resource: {call.resource.arn}",
        "",
        "The tag was kept. If the charge is right, add the creator to the project's members in "
        "the registry; if not, ask them to correct the Project tag.",
    ]
    subject = f"[autotag] {call.spec.kind} {call.resource_name} charged to {project.name}"
    subject = subject.encode("ascii", "replace").decode("ascii")[:MAX_SUBJECT]
    return Notice(
        project.owner or ADMIN,
        outcome,
        subject,
        "\n".join(body) + "\n",
        role=PROJECT_OWNER if project.owner else ADMIN,
        about=principal.described,
    )


# (removed tags?, nothing written?) -> the heading of the values
_HEADS: Final = {
    (False, False): "Added:",
    (False, True): "Would add (dry run, nothing written):",
    (True, False): "Put back:",
    (True, True): "Would put back (the policy says report only; nothing written):",
}


def _lacked(call: Subject, what: str, missing: str) -> str:
    """The opening line: how the resource came to lack the keys."""
    if call.trigger is Trigger.DRIFT:
        removed = ", ".join(call.removed)
        return (
            f"Required cost-allocation tags were removed from {what} (DeleteTags {removed}); "
            f"it now lacks: {missing}."
        )
    if call.trigger in (Trigger.SWEEP, Trigger.STATE_CHANGE):
        return f"{what} was found without these required cost-allocation tags: {missing}."
    return f"{what} was created without these required cost-allocation tags: {missing}."


def _suggested(
    plan: TagPlan, required: tuple[str, ...], existing: Mapping[str, str]
) -> dict[str, str]:
    """The value to pass next time for each required key; `<Key>` where nobody knows."""
    suggested: dict[str, str] = {}
    for key in required:
        if key in plan.add:
            suggested[key] = plan.add[key].value
        elif key in existing and key not in plan.rejected:
            suggested[key] = existing[key]
        else:
            suggested[key] = f"<{key}>"
    return suggested


def _subject(call: Subject, plan: TagPlan, outcome: Outcome) -> str:
    thing = f"{call.spec.kind} {call.resource_name}"
    if outcome is Outcome.DRY_RUN:
        keys = ", ".join(plan.missing_before or plan.rejected)
        subject = f"[autotag] (dry run) {thing} needs {keys}"
    elif plan.still_missing:
        subject = f"[autotag] {thing} still lacks {', '.join(plan.still_missing)}"
    elif plan.rejected:
        subject = f"[autotag] {thing} has tags to correct: {', '.join(plan.rejected)}"
    elif call.trigger is Trigger.DRIFT:
        subject = f"[autotag] Put back {', '.join(plan.add)} on {thing}"
    else:
        count = len(plan.missing_before)
        subject = f"[autotag] Tagged {thing}: it lacked {count} required tag{'s' * (count > 1)}"
    subject = subject.encode("ascii", "replace").decode("ascii")
    if len(subject) > MAX_SUBJECT:
        subject = subject[: MAX_SUBJECT - 3] + "..."
    return subject


MAX_MESSAGE_BYTES: Final = 250_000  # SNS takes 256 KB; leave room for the attributes


def compose_together(notices: list[Notice], cap: int) -> Notice:
    """Several windows' messages to one reader as one: the first in full, then those the daily
    cap held back. Always under SNS's 256 KB: what does not fit is named by its subject."""
    first, rest = notices[0], notices[1:]
    if not rest:
        return first
    parts = [
        first.body,
        "",
        f"Held back earlier by the limit of {cap} messages a day, {len(rest)} more:",
    ]
    budget = MAX_MESSAGE_BYTES - len("\n".join(parts).encode()) - 200
    for notice in rest:
        section = f"\n--- {notice.subject}\n\n{notice.body}"
        size = len(section.encode()) + 1
        if size > budget:
            section = f"\n--- {notice.subject} (not shown in full: too long)"
            size = len(section.encode()) + 1
        budget -= size
        parts.append(section)
    subject = f"{first.subject} (+{len(rest)} held back)"
    subject = subject.encode("ascii", "replace").decode("ascii")[:MAX_SUBJECT]
    return replace(first, subject=subject, body="\n".join(parts) + "\n")


def compose_digest(
    *,
    recipient: str,
    outcome: Outcome,
    keys: tuple[str, ...],
    total: int,
    lines: list[str],
    first_body: str,
    window_ends: int,
    role: str = CREATOR,
    creators: tuple[str, ...] = (),
) -> Notice:
    """One message for a burst: how many resources, which ones, and the first notice in full.
    Always under SNS's 256 KB: resources that do not fit are counted, not listed. A creator
    reads "resources you created"; an admin or project owner, whose creators they were."""
    until = datetime.fromtimestamp(window_ends, UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = [
        f"{total} SageMaker resources {_created_by(role, creators)} lacked the same required "
        f"tags: {', '.join(keys)}.",
        "",
        "Resources:",
    ]
    tail = [
        "",
        f"Until {until}, further resources missing the same tags get their tags without "
        "another message.",
        "",
        "The first of them, in full:",
        "",
        first_body,
    ]
    budget = MAX_MESSAGE_BYTES - len("\n".join(head + tail).encode()) - 200
    listed: list[str] = []
    for line in lines:
        entry = f"  - {line}"
        budget -= len(entry.encode()) + 1
        if budget < 0:
            break
        listed.append(entry)
    if total > len(listed):
        listed.append(f"  ... and {total - len(listed)} more not listed")
    subject = f"[autotag] {total} resources lacked {', '.join(keys)}"
    subject = subject.encode("ascii", "replace").decode("ascii")[:MAX_SUBJECT]
    return Notice(recipient, outcome, subject, "\n".join(head + listed + tail) + "\n", role=role)


def _created_by(role: str, creators: tuple[str, ...]) -> str:
    if role == CREATOR:
        return "you created"
    if len(creators) == 1:
        return f"created by {creators[0]}"
    if creators:
        return f"created by {len(creators)} people (each line names the creator)"
    return "created by people the registry does not know"


class Notifier:
    """Publishes notices to the SNS topic people subscribe to (filtered on `recipient`)."""

    permissions: Final = ("sns:Publish",)

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def send(self, notice: Notice) -> str:
        response = self._client.publish(
            TopicArn=self._topic_arn,
            Subject=notice.subject,
            Message=notice.body,
            MessageAttributes=notice.attributes(),
        )
        return response["MessageId"]
