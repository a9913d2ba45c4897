"""Notification windows: at most one message per (recipient, missing-key set, mode) per window.

Windows are fixed spans of time (`window_seconds`, counted from the epoch). The first notice of
a window opens it and starts a short gathering delay (an SQS message sent with DelaySeconds);
notices arriving during the delay are gathered; when the delay ends the digest function sends
one message, the notice itself if it stands alone, else a digest naming the count and listing
the resources. Notices arriving later in the same window are counted, not sent. With no delay
the first notice goes out at once. Dry-run and enforce notices never share a window.

Every step can be done again, so a retry finishes what a failed try started (never "the first
caller wins, the rest is lost"). A window is one item (`notice#<hash>`) in the state table:

    open      the first notice's text, the count, the listed resources, and `members`: the
              request ids counted in, so a request offered twice is counted once and, if it
              opened the window, starts the timer (or sends) again
    sending   `lease_ends` set: one flush at a time; a failed Publish gives the lease back
    flushed   the message went; later notices are counted, not sent

A timer that never started (its invocation gave up for good) is started by the next notice
that finds the window overdue. The item expires a day after its window.

A daily cap bounds the messages one reader gets, whatever the key sets (`daily_cap` a UTC day,
counted in `notice#cap#<reader>#<day>`). A window whose flush finds the cap reached is held:
its key joins the reader's held set (`notice#held#<reader>`), and the first one held starts a
timer for the set. The reader's next message carries the held windows along; failing that, the
set's timer, which comes back every 15 minutes while the cap holds, sends them together as soon
as the cap allows (the next day at the latest).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Final, NamedTuple

from botocore.exceptions import ClientError

from autotag.notify import Notice, Notifier, Outcome, compose_digest, compose_together
from autotag.observability import logger
from autotag.state import NOTICE_PREFIX, is_conditional_failure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

KEY_PREFIX: Final = NOTICE_PREFIX
# Resources listed (and request ids remembered) per window; the count goes on. It bounds the
# window item (about 15 KB), so each notice's write stays small and cheap.
MAX_LISTED: Final = 50
MAX_SQS_DELAY: Final = 900
_LEASE_SECONDS: Final = 60  # a flush in progress holds the window this long
# A window whose timer should have fired this long ago, and that nobody tried to send, lost its
# timer: the next notice starts one.
OVERDUE_SECONDS: Final = 300
HELD_PREFIX: Final = KEY_PREFIX + "held#"  # the windows the daily cap holds for one reader
CAP_PREFIX: Final = KEY_PREFIX + "cap#"  # the messages a reader got in one UTC day
DAY: Final = 86400
MAX_TOGETHER: Final = 20  # held windows sent along in one message; the rest wait their turn


class Delivery(StrEnum):
    SENT = "sent"  # published now
    SCHEDULED = "scheduled"  # opened a window; the digest function sends it after the delay
    GATHERED = "gathered"  # joined a window still gathering: it will be in the digest
    SUPPRESSED = "suppressed"  # the window's message already went out: counted, not sent
    HELD = "held"  # a dry run: shown, not sent


class _AtOnce:
    """No window: each notice is taken as it comes (`take`), and offering it again takes it
    again, so a duplicate request does not offer its notices again (at most once)."""

    replayable: ClassVar = False
    delivery: ClassVar[Delivery]

    def take(self, notice: Notice) -> None:
        raise NotImplementedError

    def offer(
        self,
        notice: Notice,
        keys: tuple[str, ...],
        line: str,
        request_id: str,
        at: float | None = None,
    ) -> Delivery:
        del keys, line, request_id, at
        self.take(notice)
        return self.delivery


class Direct(_AtOnce):
    """No windows: every notice is published at once."""

    delivery = Delivery.SENT

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    def take(self, notice: Notice) -> None:
        self._notifier.send(notice)


class Held(_AtOnce):
    """Notices kept, not sent: a dry run shows what it would tell."""

    delivery = Delivery.HELD

    def __init__(self) -> None:
        self.held: list[Notice] = []

    def take(self, notice: Notice) -> None:
        self.held.append(notice)


def window_key(notice: Notice, keys: tuple[str, ...], start: int) -> str:
    mode = "dry-run" if notice.outcome is Outcome.DRY_RUN else "enforce"
    material = "\x1f".join((notice.recipient.casefold(), mode, str(start), *sorted(keys)))
    return KEY_PREFIX + hashlib.sha256(material.encode()).hexdigest()[:40]


@dataclass
class Outbox:
    """Windows in the state table; the timer is a delayed SQS message."""

    replayable: ClassVar = True  # offering a notice again counts and sends nothing twice

    permissions: ClassVar = ("dynamodb:UpdateItem", "dynamodb:GetItem", "sqs:SendMessage")
    # the digest function: windows, the daily cap, the held set and its timer
    flush_permissions: ClassVar = ("dynamodb:UpdateItem", "dynamodb:GetItem", "sqs:SendMessage")

    dynamodb: DynamoDBClient
    table: str
    notifier: Notifier
    window_seconds: float
    delay_seconds: float = 0.0
    sqs: SQSClient | None = None
    queue_url: str | None = None
    clock: Callable[[], float] = time.time
    daily_cap: int = 0  # messages a day to one reader; 0: no cap

    def __post_init__(self) -> None:
        self._full: set[str] = set()  # windows this container found listing no more

    def offer(
        self,
        notice: Notice,
        keys: tuple[str, ...],
        line: str,
        request_id: str,
        at: float | None = None,
    ) -> Delivery:
        """Take one notice of request `request_id`, decided `at` (epoch seconds; default now);
        returns what became of it. Offering it again (a retry, with the same `at`: the same
        window even past its end) counts nothing twice and finishes what the first started."""
        now = self.clock()
        start = int((now if at is None else at) // self.window_seconds * self.window_seconds)
        key = window_key(notice, keys, start)
        ends = start + int(self.window_seconds)
        if key in self._full:  # this container saw the window list no more: count it only
            return self._after(key, self._count(key, request_id), request_id, now)
        try:
            item = self._join(key, notice, (keys, line), request_id, (now, ends))
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            # Offered before (finish what that offer started), or the window lists no more.
            old: Any = error.response.get("Item")  # ReturnValuesOnConditionCheckFailure
            found = old if isinstance(old, Mapping) else self._get(key)
            if found is not None and request_id in _members(found):
                item = found
            else:
                self._full.add(key)
                item = self._count(key, request_id)
        return self._after(key, item, request_id, now)

    def _join(
        self,
        key: str,
        notice: Notice,
        listing: tuple[tuple[str, ...], str],
        request_id: str,
        when: tuple[float, int],
    ) -> Mapping[str, Any]:
        """One write: count the notice in, list it, and (the first) leave the window's text.
        Refused when the request was counted already or the window lists no more."""
        now, ends = when
        keys, line = listing
        head = {  # the window as its first notice opened it: one attribute, written once
            "window_ends": {"N": str(ends)},
            "opened": {"N": str(int(now))},
            "opener": {"S": request_id},
            "recipient": {"S": notice.recipient},
            "role": {"S": notice.role},
            "missing_keys": {"L": [{"S": k} for k in keys]},
            "outcome": {"S": notice.outcome.value},
            "subject": {"S": notice.subject},
            "body": {"S": notice.body},
        }
        sets = ["#head = if_not_exists(#head, :head)", "#expires = :expires"]
        adds = ["#members :id", "#count :one", "#listed :line"]  # a set: no function to apply
        values: dict[str, Any] = {
            ":head": {"M": head},
            ":expires": {"N": str(ends + 86400)},
            ":line": {"SS": [line]},
            ":id": {"SS": [request_id]},
            ":one": {"N": "1"},
            ":max": {"N": str(MAX_LISTED)},
            ":request": {"S": request_id},
        }
        names = {
            "#head": "head",
            "#expires": "expires",
            "#listed": "listed",
            "#members": "members",
            "#count": "notice_count",
        }
        if notice.about:  # the creators a digest to someone else names
            adds.append("#abouts :about")
            values[":about"] = {"SS": [notice.about]}
            names["#abouts"] = "abouts"
        return self.dynamodb.update_item(
            TableName=self.table,
            Key={"pk": {"S": key}},
            UpdateExpression=f"SET {', '.join(sets)} ADD {', '.join(adds)}",
            ConditionExpression="attribute_not_exists(#members) OR "
            "(NOT contains(#members, :request) AND size(#members) < :max)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )["Attributes"]

    def _count(self, key: str, request_id: str) -> Mapping[str, Any]:
        """A notice beyond the listed ones: counted (a retry of it may be counted twice, unless
        it was one of the listed ones)."""
        try:
            return self.dynamodb.update_item(
                TableName=self.table,
                Key={"pk": {"S": key}},
                UpdateExpression="ADD #count :one",
                ConditionExpression="attribute_exists(#members) "
                "AND NOT contains(#members, :request)",
                ExpressionAttributeNames={"#count": "notice_count", "#members": "members"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":request": {"S": request_id}},
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )["Attributes"]
        except ClientError as error:
            old: Any = error.response.get("Item")
            if is_conditional_failure(error) and isinstance(old, Mapping):
                return old  # listed already: finish what its first offer started
            raise

    def _get(self, key: str) -> Mapping[str, Any] | None:
        return self.dynamodb.get_item(
            TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True
        ).get("Item")

    def _after(self, key: str, item: Mapping[str, Any], request_id: str, now: float) -> Delivery:
        """The step after counting: the opener starts the timer (or sends); a notice that
        finds the window's timer lost starts another."""
        head = item["head"]["M"]
        opener = head["opener"]["S"] == request_id
        # A flush holds the window: its message is composed already. (A flush that failed
        # before Publish gave its lease back; one that died keeps it until it runs out.)
        sending = float(item.get("lease_ends", {}).get("N", "0")) >= now
        if _flushed(item) or sending:
            return Delivery.SENT if opener else Delivery.SUPPRESSED
        if opener:
            return self._start(key)
        overdue = float(head["opened"]["N"]) + self.delay_seconds + OVERDUE_SECONDS
        if now > overdue:
            logger.warning("notification window overdue: its timer is started again")
            self._start(key)
        return Delivery.GATHERED

    def _start(self, key: str) -> Delivery:
        """The window's timer: a delayed message to the digest function, or (no delay) the
        message now. A timer started twice sends once: `flush` is done once per window."""
        if self.delay_seconds <= 0 or self.sqs is None or not self.queue_url:
            self.flush(key)
            return Delivery.SENT
        self._timer(key)
        return Delivery.SCHEDULED

    def flush(self, key: str) -> bool:
        """Send the window's one message, unless it went out already or another flush holds
        it. True when sent now. A failed Publish gives the window back (the retry sends it);
        once Publish succeeded, no offer starts it again. `key` may also name a reader's held
        set (its timer): the held windows go out together if the cap allows."""
        if key.startswith(HELD_PREFIX):
            return self._release(key)
        taken = self._take(key)
        if taken is None:
            return False
        return self._send([taken])

    def _take(self, key: str) -> Taken | None:
        """The window, leased to this flush; None if it went out or another flush holds it."""
        now = int(self.clock())
        lease = {"N": str(now + _LEASE_SECONDS)}
        try:
            item = self.dynamodb.update_item(
                TableName=self.table,
                Key={"pk": {"S": key}},
                UpdateExpression="SET lease_ends = :lease",
                ConditionExpression=(
                    "attribute_exists(pk) AND attribute_not_exists(flushed) "
                    "AND (attribute_not_exists(lease_ends) OR lease_ends < :now)"
                ),
                ExpressionAttributeValues={":lease": lease, ":now": {"N": str(now)}},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if is_conditional_failure(error):
                return None
            raise
        return Taken(key, item, lease)

    def _send(self, taken: list[Taken], *, chained: bool = False) -> bool:
        """One message for the windows taken (one reader's), and those the cap held for the
        reader; or, with the cap reached, all of them held."""
        reader = taken[0].item["head"]["M"]["recipient"]["S"]
        held = held_key(reader)
        slot = self._slot(reader) if self.daily_cap else None
        if self.daily_cap and slot is None:
            self._hold(held, taken, chained=chained)
            return False
        try:
            if self.daily_cap:  # the reader's held windows come along
                taken += self._take_some(self._held(held) - {t.key for t in taken}, len(taken))
            self.notifier.send(compose_together([message(t.item) for t in taken], self.daily_cap))
        except BaseException:
            for t in taken:
                self._give_back(t.key, t.lease)
            if slot is not None:
                self._unslot(slot)
            raise
        for t in taken:
            self._mark_flushed(t.key)
        if self.daily_cap:
            left = self._forget(held, [t.key for t in taken])
            if left and chained:  # more than one message's worth: the timer comes back
                self._timer(held)
        return True

    def _mark_flushed(self, key: str) -> None:
        for attempt in range(2):
            try:
                self.dynamodb.update_item(
                    TableName=self.table,
                    Key={"pk": {"S": key}},
                    UpdateExpression="SET flushed = :yes",
                    ExpressionAttributeValues={":yes": {"BOOL": True}},
                )
                break
            except ClientError:
                # The message went; tried twice. Failing both, the window stays held until
                # its lease runs out; a timer or the opener's retry after that sends again (as
                # does a crash between Publish and this mark): at least once, not exactly.
                if attempt:
                    logger.exception("window sent but not marked flushed", extra={"window": key})

    # ------------------------------------------------------------------ the daily cap

    def _slot(self, reader: str) -> dict[str, Any] | None:
        """One of the reader's messages for today, or None when the cap is reached."""
        day = int(self.clock()) // DAY
        slot = {"pk": {"S": f"{CAP_PREFIX}{_digest(reader)}#{day}"}}
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=slot,
                UpdateExpression="ADD sent :one SET expires = :expires",
                ConditionExpression="attribute_not_exists(sent) OR sent < :cap",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":cap": {"N": str(self.daily_cap)},
                    ":expires": {"N": str((day + 2) * DAY)},
                },
            )
        except ClientError as error:
            if is_conditional_failure(error):
                return None
            raise
        return slot

    def _unslot(self, slot: dict[str, Any]) -> None:
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=slot,
                UpdateExpression="ADD sent :less",
                ExpressionAttributeValues={":less": {"N": "-1"}},
            )
        except ClientError:  # one message fewer today: never more than the cap
            logger.exception("a message's place under the daily cap not given back")

    def _hold(self, held: str, taken: list[Taken], *, chained: bool) -> None:
        """The cap is reached: the windows wait in the reader's held set; the first held (or
        the set's own timer, coming back) starts the set's timer."""
        before = self.dynamodb.update_item(
            TableName=self.table,
            Key={"pk": {"S": held}},
            UpdateExpression="ADD #windows :keys SET expires = :expires",
            ExpressionAttributeNames={"#windows": "windows"},
            ExpressionAttributeValues={
                ":keys": {"SS": [t.key for t in taken]},
                ":expires": {"N": str(int(self.clock()) + 3 * DAY)},
            },
            ReturnValues="UPDATED_OLD",
        ).get("Attributes", {})
        for t in taken:
            self._give_back(t.key, t.lease)
        logger.info("held by the daily cap", extra={"windows": [t.key for t in taken]})
        others = set(before.get("windows", {}).get("SS", [])) - {t.key for t in taken}
        if chained or not others:  # the first held (or its retry): nobody else started a timer
            self._timer(held)

    def _held(self, held: str) -> set[str]:
        item = self._get(held)
        return set(item.get("windows", {}).get("SS", [])) if item else set()

    def _forget(self, held: str, keys: list[str]) -> bool:
        """Take sent windows out of the held set; True when some are left."""
        try:
            after = self.dynamodb.update_item(
                TableName=self.table,
                Key={"pk": {"S": held}},
                UpdateExpression="DELETE #windows :keys",
                ConditionExpression="attribute_exists(#windows)",  # no set: nothing to forget
                ExpressionAttributeNames={"#windows": "windows"},
                ExpressionAttributeValues={":keys": {"SS": keys}},
                ReturnValues="ALL_NEW",
            ).get("Attributes", {})
        except ClientError as error:
            if is_conditional_failure(error):
                return False
            raise
        return bool(after.get("windows"))

    def _take_some(self, keys: set[str], already: int) -> list[Taken]:
        """Held windows this flush can take, up to MAX_TOGETHER in one message (a window
        another flush holds is skipped, not waited for)."""
        taken: list[Taken] = []
        for key in sorted(keys):
            if already + len(taken) >= MAX_TOGETHER:
                break
            if (found := self._take(key)) is not None:
                taken.append(found)
        return taken

    def _release(self, held: str) -> bool:
        """The held set's timer: its windows go out together when the cap allows. It comes
        back while any held window is unsent (one another flush holds right now included)."""
        keys = self._held(held)
        taken = self._take_some(keys, 0)
        if taken:
            return self._send(taken, chained=True)
        sent = [k for k in sorted(keys) if self._sent(k)]
        left = self._forget(held, sent) if sent else bool(keys)
        if left:  # another flush holds them now; if it fails, this timer still comes back
            self._timer(held)
        return False

    def _sent(self, key: str) -> bool:
        item = self._get(key)
        return item is None or _flushed(item)

    def _timer(self, key: str) -> None:
        """A delayed message naming `key` to the digest function (no queue: nothing; the
        reader's next message carries the held windows)."""
        if self.sqs is None or not self.queue_url:
            return
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps({"key": key}),
            DelaySeconds=MAX_SQS_DELAY
            if key.startswith(HELD_PREFIX)
            else int(min(self.delay_seconds, MAX_SQS_DELAY)),
        )

    def _give_back(self, key: str, lease: dict[str, str]) -> None:
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key={"pk": {"S": key}},
                UpdateExpression="REMOVE lease_ends",
                ConditionExpression="lease_ends = :lease",
                ExpressionAttributeValues={":lease": lease},
            )
        except ClientError:  # the lease runs out on its own; the retry waits for it
            logger.exception("window lease not given back", extra={"window": key})


class Taken(NamedTuple):
    """A window leased to one flush: its key, the item, the lease (to give back)."""

    key: str
    item: Mapping[str, Any]
    lease: dict[str, str]


def held_key(reader: str) -> str:
    return HELD_PREFIX + _digest(reader)


def _digest(reader: str) -> str:
    return hashlib.sha256(reader.casefold().encode()).hexdigest()[:40]


def _flushed(item: Mapping[str, Any]) -> bool:
    """The window's message went (the attribute is written once, when it did)."""
    return "flushed" in item


def _members(item: Mapping[str, Any]) -> set[str]:
    return set(item.get("members", {}).get("SS", []))


def message(item: Mapping[str, Any]) -> Notice:
    """The window's message: the notice itself if it stands alone, else a digest."""
    head = item["head"]["M"]
    outcome = Outcome(head["outcome"]["S"])
    recipient = head["recipient"]["S"]
    role = head["role"]["S"]
    total = int(item["notice_count"]["N"])
    if total == 1:
        return Notice(recipient, outcome, head["subject"]["S"], head["body"]["S"], role=role)
    return compose_digest(
        recipient=recipient,
        outcome=outcome,
        keys=tuple(k["S"] for k in head["missing_keys"]["L"]),
        total=total,
        lines=sorted(item["listed"]["SS"]),
        first_body=head["body"]["S"],
        window_ends=int(head["window_ends"]["N"]),
        role=role,
        creators=tuple(sorted(item.get("abouts", {}).get("SS", []))),
    )
