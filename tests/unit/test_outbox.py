"""The outbox's states, step by step: open, gathering, sending, flushed; a notice offered again
counts nothing twice and finishes what its first offer started."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from autotag.notify import ADMIN, CREATOR, Notice, Notifier, Outcome
from autotag.outbox import MAX_LISTED, OVERDUE_SECONDS, Delivery, Outbox, window_key
from tests.unit.conftest import TABLE

KEYS = ("Project", "CostCenter")


@dataclass
class FakeSns:
    published: list[dict[str, Any]] = field(default_factory=list)
    failures: int = 0

    def publish(self, **message: Any) -> dict[str, str]:
        if self.failures:
            self.failures -= 1
            raise ClientError({"Error": {"Code": "InternalError"}}, "Publish")
        self.published.append(message)
        return {"MessageId": str(len(self.published))}


@dataclass
class FakeSqs:
    sent: list[dict[str, Any]] = field(default_factory=list)
    failures: int = 0

    def send_message(self, **message: Any) -> dict[str, str]:
        if self.failures:
            self.failures -= 1
            raise ClientError({"Error": {"Code": "InternalError"}}, "SendMessage")
        self.sent.append(message)
        return {"MessageId": str(len(self.sent))}


@dataclass
class Clock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def outbox(dynamodb: Any, sns: FakeSns, sqs: FakeSqs | None, clock: Clock) -> Outbox:
    return Outbox(
        dynamodb=dynamodb,
        table=TABLE,
        notifier=Notifier(sns, "arn:aws:sns:us-east-1:123456789012:t"),  # type: ignore[arg-type]
        window_seconds=86400,
        delay_seconds=120 if sqs else 0,
        sqs=sqs,  # type: ignore[arg-type]
        queue_url="https://sqs.example/q" if sqs else None,
        clock=clock,
    )


def notice(
    n: int = 0, outcome: Outcome = Outcome.TAGGED, role: str = CREATOR, about: str = ""
) -> Notice:
    return Notice("alice@example.com", outcome, f"subject {n}", f"body {n}", role, about)


def item(dynamodb: Any, key: str) -> dict[str, Any]:
    found: dict[str, Any] = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": key}})["Item"]
    return found


def test_the_first_notice_opens_and_times_the_window_the_next_are_gathered(dynamodb: Any) -> None:
    sns, sqs, clock = FakeSns(), FakeSqs(), Clock()
    box = outbox(dynamodb, sns, sqs, clock)
    assert box.offer(notice(1), KEYS, "line 1", "r1") is Delivery.SCHEDULED
    assert box.offer(notice(2), KEYS, "line 2", "r2") is Delivery.GATHERED
    assert len(sqs.sent) == 1
    assert sns.published == []
    key = window_key(notice(), KEYS, int(clock.now // 86400 * 86400))
    state = item(dynamodb, key)
    assert state["notice_count"]["N"] == "2"
    assert set(state["members"]["SS"]) == {"r1", "r2"}
    assert state["head"]["M"]["opener"]["S"] == "r1"

    assert box.flush(key) is True  # the timer fires: one digest
    assert len(sns.published) == 1
    assert sns.published[0]["Message"].startswith("2 SageMaker resources you created")
    assert box.flush(key) is False  # a second timer sends nothing
    assert box.offer(notice(3), KEYS, "line 3", "r3") is Delivery.SUPPRESSED
    assert len(sns.published) == 1


def test_a_notice_offered_again_is_counted_once(dynamodb: Any) -> None:
    sns, sqs, clock = FakeSns(), FakeSqs(), Clock()
    box = outbox(dynamodb, sns, sqs, clock)
    box.offer(notice(1), KEYS, "line 1", "r1")
    box.offer(notice(2), KEYS, "line 2", "r2")
    assert box.offer(notice(2), KEYS, "line 2", "r2") is Delivery.GATHERED  # a retry
    key = window_key(notice(), KEYS, int(clock.now // 86400 * 86400))
    assert item(dynamodb, key)["notice_count"]["N"] == "2"
    assert len(item(dynamodb, key)["listed"]["SS"]) == 2


def test_a_failed_timer_is_started_again_by_the_retry(dynamodb: Any) -> None:
    sns, sqs, clock = FakeSns(), FakeSqs(failures=1), Clock()
    box = outbox(dynamodb, sns, sqs, clock)
    with pytest.raises(ClientError):
        box.offer(notice(1), KEYS, "line 1", "r1")  # counted in; the timer failed
    assert sqs.sent == []
    assert box.offer(notice(1), KEYS, "line 1", "r1") is Delivery.SCHEDULED  # Lambda's retry
    assert len(sqs.sent) == 1


def test_a_lost_timer_is_started_by_a_later_notice(dynamodb: Any) -> None:
    sns, sqs, clock = FakeSns(), FakeSqs(failures=1), Clock()
    box = outbox(dynamodb, sns, sqs, clock)
    with pytest.raises(ClientError):
        box.offer(notice(1), KEYS, "line 1", "r1")  # and its retries never come
    box.offer(notice(2), KEYS, "line 2", "r2")  # within the delay: gathered, no timer yet
    assert sqs.sent == []
    clock.now += 120 + OVERDUE_SECONDS + 1
    assert box.offer(notice(3), KEYS, "line 3", "r3") is Delivery.GATHERED
    assert len(sqs.sent) == 1  # overdue: the timer started again


def test_a_failed_publish_gives_the_window_back(dynamodb: Any) -> None:
    sns, clock = FakeSns(failures=1), Clock()
    box = outbox(dynamodb, sns, None, clock)  # no delay: the first notice is sent at once
    with pytest.raises(ClientError):
        box.offer(notice(1), KEYS, "line 1", "r1")
    assert box.offer(notice(1), KEYS, "line 1", "r1") is Delivery.SENT  # the retry sends
    assert len(sns.published) == 1
    assert box.offer(notice(1), KEYS, "line 1", "r1") is Delivery.SENT  # and once only
    assert box.offer(notice(2), KEYS, "line 2", "r2") is Delivery.SUPPRESSED
    assert len(sns.published) == 1


def test_a_flush_in_progress_holds_the_window(dynamodb: Any) -> None:
    sns, sqs, clock = FakeSns(), FakeSqs(), Clock()
    box = outbox(dynamodb, sns, sqs, clock)
    box.offer(notice(1), KEYS, "line 1", "r1")
    key = window_key(notice(), KEYS, int(clock.now // 86400 * 86400))
    dynamodb.update_item(  # another flush holds the lease
        TableName=TABLE,
        Key={"pk": {"S": key}},
        UpdateExpression="SET lease_ends = :t",
        ExpressionAttributeValues={":t": {"N": str(int(clock.now) + 60)}},
    )
    assert box.flush(key) is False
    clock.now += 61  # it died: the lease ran out, the next timer sends
    assert box.flush(key) is True
    assert len(sns.published) == 1


def test_a_full_window_counts_without_listing(dynamodb: Any) -> None:
    sns, sqs, clock = FakeSns(), FakeSqs(), Clock()
    box = outbox(dynamodb, sns, sqs, clock)
    for n in range(MAX_LISTED + 5):
        box.offer(notice(n), KEYS, f"line {n}", f"r{n}")
    key = window_key(notice(), KEYS, int(clock.now // 86400 * 86400))
    state = item(dynamodb, key)
    assert state["notice_count"]["N"] == str(MAX_LISTED + 5)
    assert len(state["listed"]["SS"]) == MAX_LISTED
    box.flush(key)
    assert "... and 5 more not listed" in sns.published[0]["Message"]


def test_dry_run_and_enforce_do_not_share_a_window(dynamodb: Any) -> None:
    sns, clock = FakeSns(), Clock()
    box = outbox(dynamodb, sns, None, clock)
    assert box.offer(notice(1, Outcome.DRY_RUN), KEYS, "line 1", "r1") is Delivery.SENT
    assert box.offer(notice(2), KEYS, "line 2", "r2") is Delivery.SENT  # enforce: its own
    assert len(sns.published) == 2


def test_an_admins_digest_names_the_creators(dynamodb: Any) -> None:
    sns, sqs, clock = FakeSns(), FakeSqs(), Clock()
    box = outbox(dynamodb, sns, sqs, clock)
    for n in range(3):
        box.offer(notice(n, role=ADMIN, about="ci-role (role)"), KEYS, f"line {n}", f"r{n}")
    box.flush(window_key(notice(), KEYS, int(clock.now // 86400 * 86400)))
    body = sns.published[0]["Message"]
    assert body.startswith("3 SageMaker resources created by ci-role (role)")
    assert "you created" not in body


class MarkFails:
    """The state table's client, but the window's "flushed" mark fails."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def update_item(self, **request: Any) -> Any:
        if request.get("UpdateExpression") == "SET flushed = :yes":
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "UpdateItem")
        return self._client.update_item(**request)


def test_a_sent_window_whose_mark_failed_is_not_sent_again(dynamodb: Any) -> None:
    sns, clock = FakeSns(), Clock()
    box = outbox(MarkFails(dynamodb), sns, None, clock)
    assert box.offer(notice(1), KEYS, "line 1", "r1") is Delivery.SENT  # sent; mark failed
    assert box.offer(notice(1), KEYS, "line 1", "r1") is Delivery.SENT  # the opener's retry
    assert box.offer(notice(2), KEYS, "line 2", "r2") is Delivery.SUPPRESSED  # not in it
    assert len(sns.published) == 1


def test_a_notice_joining_while_the_message_is_composed_is_not_called_gathered(
    dynamodb: Any,
) -> None:
    sns, sqs, clock = FakeSns(), FakeSqs(), Clock()
    box = outbox(dynamodb, sns, sqs, clock)
    box.offer(notice(1), KEYS, "line 1", "r1")
    key = window_key(notice(), KEYS, int(clock.now // 86400 * 86400))
    dynamodb.update_item(  # a flush holds the window: its message is being sent
        TableName=TABLE,
        Key={"pk": {"S": key}},
        UpdateExpression="SET lease_ends = :t",
        ExpressionAttributeValues={":t": {"N": str(int(clock.now) + 60)}},
    )
    assert box.offer(notice(2), KEYS, "line 2", "r2") is Delivery.SUPPRESSED


def test_a_listed_notice_offered_again_in_a_full_window_is_counted_once(dynamodb: Any) -> None:
    sns, sqs, clock = FakeSns(), FakeSqs(), Clock()
    box = outbox(dynamodb, sns, sqs, clock)
    for n in range(MAX_LISTED + 1):  # the last one finds the window full
        box.offer(notice(n), KEYS, f"line {n}", f"r{n}")
    box.offer(notice(3), KEYS, "line 3", "r3")  # a listed one's retry, in the same container
    key = window_key(notice(), KEYS, int(clock.now // 86400 * 86400))
    assert item(dynamodb, key)["notice_count"]["N"] == str(MAX_LISTED + 1)


def test_a_retry_past_the_windows_end_joins_the_window_it_was_decided_in(dynamodb: Any) -> None:
    sns, sqs, clock = FakeSns(), FakeSqs(failures=1), Clock()
    clock.now = 20_835 * 86400 - 30.0  # 30 s before a window ends
    decided = clock.now
    box = outbox(dynamodb, sns, sqs, clock)
    with pytest.raises(ClientError):
        box.offer(notice(1), KEYS, "line 1", "r1", decided)  # the timer failed
    clock.now += 60  # Lambda's retry: the next window has begun
    assert box.offer(notice(1), KEYS, "line 1", "r1", decided) is Delivery.SCHEDULED
    key = window_key(notice(), KEYS, int(decided // 86400 * 86400))
    assert sqs.sent[0]["MessageBody"] == f'{{"key": "{key}"}}'
    assert box.flush(key) is True
    assert len(sns.published) == 1


# ---------------------------------------------------------------- the daily cap per reader


def capped(dynamodb: Any, sns: FakeSns, sqs: FakeSqs, clock: Clock, cap: int) -> Outbox:
    box = outbox(dynamodb, sns, sqs, clock)
    box.daily_cap = cap
    return box


def key_sets(n: int) -> list[tuple[str, ...]]:
    return [(f"Key{i}",) for i in range(n)]


def open_windows(box: Outbox, clock: Clock, sets: list[tuple[str, ...]]) -> list[str]:
    """One window per key set for alice; returns their keys."""
    start = int(clock.now // 86400 * 86400)
    for i, keys in enumerate(sets):
        box.offer(notice(i), keys, f"line {i}", f"r{i}")
    return [window_key(notice(), keys, start) for keys in sets]


def test_a_reader_gets_at_most_the_cap_a_day_whatever_the_key_sets(dynamodb: Any) -> None:
    """Finding: one person could receive up to 63 messages a day (one per key set)."""
    sns, sqs, clock = FakeSns(), FakeSqs(), Clock(1_800_000_000.0 // 86400 * 86400 + 3600)
    box = capped(dynamodb, sns, sqs, clock, cap=2)
    keys = open_windows(box, clock, key_sets(5))
    sent = [box.flush(key) for key in keys]  # each window's timer fires
    assert sent == [True, True, False, False, False]
    assert len(sns.published) == 2
    held = [m for m in sqs.sent if "held#" in m["MessageBody"]]
    assert len(held) == 1  # one timer for the reader's held windows, not one per window
    assert held[0]["DelaySeconds"] == 900

    box.flush(json.loads(held[0]["MessageBody"])["key"])  # the same day: still held
    assert len(sns.published) == 2
    clock.now += 86400  # the next day: the held windows go out together, in one message
    again = [m for m in sqs.sent if "held#" in m["MessageBody"]][-1]
    assert box.flush(json.loads(again["MessageBody"])["key"]) is True
    assert len(sns.published) == 3
    together = sns.published[2]["Message"]
    assert "Held back earlier by the limit of 2 messages a day, 2 more:" in together
    assert all(f"body {i}" in together for i in (2, 3, 4))
    assert "(+2 held back)" in sns.published[2]["Subject"]
    assert all(box.flush(key) is False for key in keys)  # nothing goes twice


def test_held_windows_ride_along_with_the_readers_next_message(dynamodb: Any) -> None:
    sns, sqs, clock = FakeSns(), FakeSqs(), Clock(1_800_000_000.0 // 86400 * 86400 + 3600)
    box = capped(dynamodb, sns, sqs, clock, cap=1)
    first, second = open_windows(box, clock, key_sets(2))
    assert box.flush(first) is True
    assert box.flush(second) is False  # held
    clock.now += 86400
    (later,) = open_windows(box, clock, [("Other",)])
    assert box.flush(later) is True
    assert len(sns.published) == 2
    assert "body 1" in sns.published[1]["Message"]  # the held window came along
    assert box.flush(second) is False
    assert item(dynamodb, second)["flushed"]["BOOL"] is True


def test_a_failed_publish_gives_the_days_place_back(dynamodb: Any) -> None:
    sns, sqs, clock = FakeSns(failures=1), FakeSqs(), Clock()
    box = capped(dynamodb, sns, sqs, clock, cap=1)
    (key,) = open_windows(box, clock, key_sets(1))
    with pytest.raises(ClientError):
        box.flush(key)
    assert box.flush(key) is True  # the retry still has the day's one message
    assert len(sns.published) == 1


def test_the_held_sets_timer_comes_back_while_another_flush_holds_a_held_window(
    dynamodb: Any,
) -> None:
    """The set's timer finds its window leased by another flush (say, its own redelivered
    timer): it sends nothing now and comes back, so no held window is left without a timer."""
    sns, sqs, clock = FakeSns(), FakeSqs(), Clock(1_800_000_000.0 // 86400 * 86400 + 3600)
    box = capped(dynamodb, sns, sqs, clock, cap=1)
    first, second = open_windows(box, clock, key_sets(2))
    assert box.flush(first) is True
    assert box.flush(second) is False  # held
    chain = [m for m in sqs.sent if "held#" in m["MessageBody"]]
    assert len(chain) == 1
    clock.now += 86400
    assert box._take(second) is not None  # another flush holds it right now
    assert box.flush(json.loads(chain[0]["MessageBody"])["key"]) is False
    again = [m for m in sqs.sent if "held#" in m["MessageBody"]]
    assert len(again) == 2  # the timer comes back
    clock.now += 120  # that flush died; its lease ran out
    assert box.flush(json.loads(again[-1]["MessageBody"])["key"]) is True
    assert "body 1" in sns.published[-1]["Message"]
