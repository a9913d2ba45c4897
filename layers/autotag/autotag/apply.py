"""Apply: carry out one decision, in an order that survives any one failure.

Under a per-resource lease: claim the request (one conditional write), offer again the notices
of a request this claim replaced, read the tags again if gathering took long (and gather and
decide again if they changed), AddTags, then tell. `Handled` is what the handler returns and
logs. The notices a claim keeps in the resource's record are packed here (`pack_told`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, NamedTuple

from autotag.decide import Decision, Evidence, Told, decide
from autotag.events import Subject, Trigger
from autotag.gather import CREATE_TRIGGERS, Gatherer, event_age
from autotag.identity import Principal, PrincipalKind, claims, who
from autotag.notify import ADMIN, CREATOR, PROJECT_OWNER, Notice
from autotag.observability import Counter, Timing, logger, no_timing, without_emails
from autotag.outbox import Delivery, Direct, Held, Outbox
from autotag.policy import PROJECT_KEY
from autotag.resolve import TagPlan
from autotag.sagemaker import ResourceMissingError, ResourceTags, TagsRejectedError
from autotag.settings import Mode, Settings
from autotag.state import NO_RECORD, ResourceRecord, StateTable

# A write decided this long after the tags were read reads them again first (a person may have
# tagged the resource while its creator was looked up). Sooner, a second read would leave the
# same few milliseconds before AddTags as the first: SageMaker's AddTags takes no condition.
_READ_AGAIN_AFTER: Final = timedelta(seconds=0.5)
# A replaced request's notices older than this are not offered again: their window item, kept
# a day past the window, may be gone (autotag.outbox), and a message that late tells nobody
# anything the daily sweep would not.
_TAKE_OVER_WITHIN: Final = 86400.0


def _age(call: Subject, now: datetime) -> float | None:
    """Seconds since the resource was created: the Create call's time, the listing's creation
    time (the sweep), or a state-change event's `CreationTime` (epoch milliseconds)."""
    created = call.references.get("CreationTime") if call.trigger is Trigger.STATE_CHANGE else None
    if isinstance(created, int | float) and not isinstance(created, bool):
        return now.timestamp() - created / 1000
    return event_age(call, now)


def brief(call: Subject, mode: Mode, status: str, **more: Any) -> dict[str, Any]:
    """The summary of a request answered without a decision: nothing written or told."""
    return {
        "status": status,
        "mode": mode.value,
        "eventName": call.event_name,
        "eventId": call.event_id,
        "trigger": call.trigger.value,
        "resourceArn": call.resource.arn,
        **more,
        "notified": False,
        "recipient": None,
    }


@dataclass
class Applier:
    settings: Settings
    resources: ResourceTags
    notices: Direct | Outbox | Held
    count: Counter
    gatherer: Gatherer  # the read again under the lease, and the gathering again
    table: StateTable | None = None  # the request's claim, the resource's lease
    timing: Timing = no_timing  # seconds from a resource's creation to its tags' write

    def gone(self, call: Subject, principal: Principal | None = None) -> dict[str, Any]:
        self.count("ResourcesGone")
        who_ = principal or who(claims(call.user_identity, call.request_tags))
        creator = {"kind": who_.kind.value, "name": who_.name}
        summary = brief(call, self.settings.mode, "gone", principal=creator)
        logger.info("resource gone", extra={"summary": without_emails(summary)})
        return summary

    def offer_again(self, call: Subject, record: ResourceRecord) -> list[str]:
        """A request claimed before: if its notices were decided (and perhaps not all offered:
        the try failed after its claim), they are offered again; offering is idempotent."""
        offered: list[str] = []
        if self.notices.replayable and record.told and record.last_request == call.event_id:
            for notice, keys, line, at, _ in unpack_told(record.told):
                offered.append(self.notices.offer(notice, keys, line, call.event_id, at).value)
        return offered

    def apply(self, evidence: Evidence, decision: Decision, read: Read) -> dict[str, Any]:
        """Every write, in an order that survives one failure:
          1. claim: one conditional write (the request handled, the creator kept, the notices
             decided, and, when tags are to be written, a short lease on the resource);
          2. if gathering took long, read the tags again under the lease (a person may have
             tagged it meanwhile; another trigger would hold the lease) and, if they changed,
             gather and decide again;
          3. AddTags;
          4. tell (after the write: a notice never says a tag was added that was not).
        A failure at 2 or 3 leaves the request claimed by itself: Lambda's retry claims it
        again and does the rest. A failure at 4 finds the tags written: the retry is a
        duplicate, which offers the claimed notices again (offering is idempotent)."""
        call = evidence.call
        owner = f"{call.event_id}#{uuid.uuid4().hex[:8]}"  # this try
        decided = time.time()  # the notices' window: a replay of them joins the same one
        before = self.claim(evidence, decision, owner, decided)
        try:
            # Before this request's own steps: a failure in them cannot then lose what it
            # replaced (and a failure here gives the lease back like any other).
            self.take_over(call, before, read.tags)
            if decision.writes and self.gatherer.clock() - read.at > _READ_AGAIN_AFTER:
                fresh = self.gatherer.read(call)
                if fresh is None:
                    return self.gone(call, decision.principal)
                if fresh != read.tags:  # gathered again: the new tags may name another project
                    record = ResourceRecord(evidence.recorded)
                    evidence = self.gatherer.gather(
                        call, self.gatherer.registry.config(), fresh, record
                    )
                    decision = decide(evidence)
                    self.count("ResourcesChangedMeanwhile")
                    self.claim(evidence, decision, owner, decided, again=True)
                read = Read(fresh, self.gatherer.clock())
            if decision.withhold and self.table is not None:
                self.table.withhold(call.resource.arn, list(decision.withhold))
            if decision.writes and not self.write(call, decision.plan):
                return self.gone(call, decision.principal)
        except BaseException:
            if decision.writes and self.table is not None:
                self.table.release(call.resource.arn, owner)
            raise
        deliveries = [self.tell(told, call.event_id, decided) for told in _told(decision)]
        status = decision.status
        self.count("ResourcesCompliant" if status == "compliant" else "ResourcesMissingTags")
        if not decision.plan.complete:
            self.count("ResourcesIncomplete")
        delivery = deliveries[0] if decision.notice and deliveries else None
        summary = Handled(call, decision, delivery).to_json()
        ids = {p.email.casefold(): p.id for p in evidence.people.values() if p.email}
        logger.info("resource handled", extra={"summary": without_emails(summary, ids)})
        return summary

    def take_over(self, call: Subject, before: ResourceRecord, tags: Mapping[str, str]) -> None:
        """Offer again the notices of the request this one's claim replaced in the record:
        that request's retry finds itself a duplicate with nothing left to offer, so a step
        it failed after its write (its window's timer, say) would be lost. Offering is
        idempotent: when that request finished, its window counts nothing twice. Only notices
        whose "Added" tags are on the resource (as read here), and whose window is not gone."""
        previous = before.last_request  # left out when unchanged: this request's own
        if not self.notices.replayable or not before.told or previous in ("", call.event_id):
            return
        for notice, keys, line, at, added in unpack_told(before.told):
            if any(tags.get(k) != v for k, v in added.items()):
                continue  # its write never happened: never say "Added"
            if at is None or time.time() - at > _TAKE_OVER_WITHIN:
                continue
            # counted by its own request already (if it got that far): only the offer here
            self.notices.offer(notice, keys, line, previous, at)
            self.count("NoticesTakenOver")

    def tell(self, told: Told, request_id: str, at: float) -> Delivery:
        delivery = self.notices.offer(told.notice, told.keys, told.line, request_id, at)
        self.count(_DELIVERY_METRIC[delivery])
        if delivery in _REACHES:
            self.count(_RECIPIENT_METRIC.get(told.notice.role, "NoticesToAdmin"))
        return delivery

    def claim(
        self,
        evidence: Evidence,
        decision: Decision,
        owner: str,
        decided: float,
        *,
        again: bool = False,
    ) -> ResourceRecord:
        """The request's one write (autotag.state.StateTable.claim); returns the record as it
        found it. A dry run records nothing: running it twice gives the same answer."""
        if self.table is None or evidence.mode is not Mode.ENFORCE:
            return NO_RECORD
        principal = decision.principal
        call = evidence.call
        known = principal.kind is not PrincipalKind.UNKNOWN
        # A Create call names the creator of the resource that exists now (a name used again
        # after a deletion makes the same ARN): it replaces an older record. Other triggers
        # only fill one in.
        replace = call.trigger in CREATE_TRIGGERS and known
        keep = replace or (evidence.recorded is None and known)
        told = _told(decision)
        added = {k: a.value for k, a in decision.plan.add.items()} if decision.writes else {}
        return self.table.claim(
            call.resource.arn,
            call.event_id,
            creator=principal if keep else None,
            replace=replace,
            lease_seconds=self.settings.lease_seconds if decision.writes else 0.0,
            told=pack_told(told, decided, added) if told else None,
            again=again or bool(decision.writes),
            owner=owner,
        )

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
        age = _age(call, self.gatherer.clock())
        if age is not None:
            self.timing("SecondsToTag", max(age, 0.0), call.trigger.value)
            if PROJECT_KEY in plan.add:  # it ran this long charged to nobody
                self.timing("SecondsWithoutProject", max(age, 0.0), call.trigger.value)
        return True


class Read(NamedTuple):
    """The resource's tags as first read, and when."""

    tags: Mapping[str, str]
    at: datetime


def _told(decision: Decision) -> list[Told]:
    return [t for t in (decision.notice, decision.membership) if t is not None]


def pack_told(told: list[Told], at: float, added: Mapping[str, str] | None = None) -> str:
    """The notices decided, when, and the tags they say were added, as the resource's record
    keeps them."""
    return json.dumps(
        [
            {
                "notice": t.notice.to_json(),
                "keys": list(t.keys),
                "line": t.line,
                "at": at,
                "added": dict(added or {}),
            }
            for t in told
        ]
    )


class Claimed(NamedTuple):
    """One notice a claim kept (`pack_told`)."""

    notice: Notice
    keys: tuple[str, ...]
    line: str
    at: float | None
    added: dict[str, str]


def unpack_told(text: str) -> list[Claimed]:
    try:
        return [
            Claimed(
                Notice.from_json(item["notice"]),
                tuple(item["keys"]),
                item["line"],
                float(item["at"]) if "at" in item else None,
                {str(k): str(v) for k, v in item.get("added", {}).items()},
            )
            for item in json.loads(text)
        ]
    except (ValueError, KeyError, TypeError):
        logger.warning(
            "a claimed notice could not be read", extra={"told": without_emails(text[:200])}
        )
        return []


_DELIVERY_METRIC: Final = {
    Delivery.SENT: "NotificationsSent",
    Delivery.SCHEDULED: "NotificationsScheduled",
    Delivery.GATHERED: "NotificationsGathered",
    Delivery.SUPPRESSED: "NotificationsSuppressed",
    Delivery.HELD: "NotificationsHeld",
}
# Notices that will reach their reader (sent, or in a message still to go), by reader.
_REACHES: Final = frozenset({Delivery.SENT, Delivery.SCHEDULED, Delivery.GATHERED})
_RECIPIENT_METRIC: Final = {
    CREATOR: "NoticesToCreator",
    PROJECT_OWNER: "NoticesToProjectOwner",
    ADMIN: "NoticesToAdmin",
}


@dataclass(frozen=True)
class Handled:
    """What became of one request: the decision as carried out. `to_json()` is what the handler
    returns and logs."""

    call: Subject
    decision: Decision
    delivery: Delivery | None = None  # what became of the notice to the creator's reader

    def to_json(self) -> dict[str, Any]:
        call, decision = self.call, self.decision
        plan, principal, delivery = decision.plan, decision.principal, self.delivery
        summary: dict[str, Any] = {
            "status": decision.status,
            "mode": decision.mode.value,
            "eventName": call.event_name,
            "eventId": call.event_id,
            "trigger": call.trigger.value,
            "resourceArn": call.resource.arn,
            "principal": {
                "kind": principal.kind.value,
                "name": principal.name,
                "via": principal.via,
            },
            "project": plan.project.name if plan.project else None,
            "missingBefore": list(plan.missing_before),
            "added": {key: {"value": a.value, "source": a.source} for key, a in plan.add.items()},
            "missing": list(plan.still_missing),
            "rejected": list(plan.rejected),
            "problems": [{"key": p.key, "message": p.message} for p in plan.problems],
            "notified": delivery in {Delivery.SENT, Delivery.SCHEDULED, Delivery.GATHERED},
            "notification": delivery.value if delivery else None,
            "recipient": decision.notice.notice.recipient if decision.notice else None,
        }
        if decision.membership is not None:
            summary["membership"] = {
                "project": plan.project.name if plan.project else None,
                "told": decision.membership.notice.recipient,
            }
        return summary
