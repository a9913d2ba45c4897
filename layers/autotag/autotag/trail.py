"""The creator of a SageMaker resource when no event names them: its Create* record in
CloudTrail's event history (`LookupEvents`, the last 90 days of management events), read
through an injected client, paced, and cached in the warm container.

What it relies on:

- `LookupEvents` takes one lookup attribute per request (ResourceName, EventName, ...),
  returns at most 50 events a page (in an order the documentation does not state), covers the
  last 90 days of management events of one Region, and allows two requests per second per
  account per Region; over that it fails with `ThrottlingException`.
- Looking up the Event history, also through the `LookupEvents` API, has no CloudTrail
  charge.
- Whether CloudTrail fills an event's `Resources` (and so the ResourceName attribute) for
  SageMaker Create* calls is not documented: the SageMaker records in `events/` carry no
  `resources`, and ResourceName is an exact match on whatever CloudTrail derived. So the
  ResourceName look-up comes first (cheap when it works), and when it finds nothing the
  EventName look-up scans a few pages of that Create* call for a record whose response holds
  the ARN. The EventName scan is the same for every resource of a kind, so its records are
  cached per event name.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from autotag.cache import TtlCache
from autotag.events import request_tags

if TYPE_CHECKING:
    from mypy_boto3_cloudtrail import CloudTrailClient
    from mypy_boto3_cloudtrail.literals import LookupAttributeKeyType
    from mypy_boto3_cloudtrail.type_defs import LookupAttributeTypeDef

WINDOW: Final = timedelta(days=90)  # what the Event history keeps [doc]
# Pages of the ResourceName look-up, at most: a resource's own events come newest first, and a
# resource someone polls (DescribeEndpoint while it deploys) can have hundreds, so its Create
# record may lie past the cap. 5 pages = 250 events = 2.5 s of the account's lookup budget.
RESOURCE_PAGES: Final = 5


@dataclass(frozen=True)
class CreateRecord:
    """The Create* call that made a resource, as CloudTrail recorded it."""

    user_identity: Mapping[str, Any]  # the record's `userIdentity`
    request_tags: dict[str, str]  # `requestParameters.tags`
    event_time: str  # ISO 8601, as CloudTrail writes it: `2024-06-03T09:04:00Z`
    event_id: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _record(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The CloudTrail record inside one `Events` item; None when it is missing or malformed."""
    raw = event.get("CloudTrailEvent")
    if not isinstance(raw, str):
        return None
    try:
        record = json.loads(raw)
    except ValueError:
        return None
    return record if isinstance(record, Mapping) else None


def _creates(record: Mapping[str, Any], event_name: str, arn: str) -> bool:
    """A successful `event_name` call whose response names `arn` (SageMaker lower-cases the
    name inside its ARNs, so the comparison ignores case)."""
    if record.get("eventName") != event_name or record.get("errorCode"):
        return False
    response = record.get("responseElements")
    if not isinstance(response, Mapping):
        return False
    wanted = arn.casefold()
    return any(isinstance(value, str) and value.casefold() == wanted for value in response.values())


def _create_record(record: Mapping[str, Any]) -> CreateRecord:
    identity = record.get("userIdentity")
    params = record.get("requestParameters")
    event_time = record.get("eventTime")
    event_id = record.get("eventID")
    return CreateRecord(
        user_identity=dict(identity) if isinstance(identity, Mapping) else {},
        request_tags=request_tags(params if isinstance(params, Mapping) else {}),
        event_time=event_time if isinstance(event_time, str) else "",
        event_id=event_id if isinstance(event_id, str) else "",
    )


def _latest(records: list[CreateRecord]) -> CreateRecord | None:
    """The last call of several: a name used again after a deletion makes the same ARN, and the
    resource that exists now is the newest one (a record without a time comes last)."""
    if not records:
        return None
    return max(records, key=lambda found: (bool(found.event_time), found.event_time))


class CreatorTrail:
    """`create_record(event_name, resource_name, resource_arn)`: the successful Create* record
    of a resource within the last 90 days, or None. `ThrottlingException` and other failures
    propagate: the caller decides whether to retry later."""

    permissions: Final = ("cloudtrail:LookupEvents",)

    def __init__(
        self,
        client: CloudTrailClient,
        ttl: float = 300.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], datetime] = _utc_now,
        min_interval: float = 0.5,
        fallback_pages: int = 3,
    ) -> None:
        self._client = client
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        self._min_interval = min_interval
        self._fallback_pages = fallback_pages
        self._last_call: float | None = None
        self._found: TtlCache[tuple[str, str], CreateRecord | None] = TtlCache(ttl, clock)
        # event name -> its successful records (the EventName scan, shared by a kind's resources)
        self._by_event: TtlCache[str, tuple[Mapping[str, Any], ...]] = TtlCache(ttl, clock)

    def create_record(
        self, event_name: str, resource_name: str, resource_arn: str
    ) -> CreateRecord | None:
        return self._found.get(
            (event_name, resource_arn.casefold()),
            lambda: self._lookup(event_name, resource_name, resource_arn),
        )

    def _lookup(self, event_name: str, resource_name: str, arn: str) -> CreateRecord | None:
        by_resource = [
            _create_record(record)
            for record in self._records("ResourceName", resource_name, RESOURCE_PAGES)
            if _creates(record, event_name, arn)
        ]
        if by_resource:
            return _latest(by_resource)
        candidates = self._by_event.get(event_name, lambda: self._event_records(event_name))
        return _latest(
            [_create_record(record) for record in candidates if _creates(record, event_name, arn)]
        )

    def _event_records(self, event_name: str) -> tuple[Mapping[str, Any], ...]:
        return tuple(
            record
            for record in self._records("EventName", event_name, self._fallback_pages)
            if record.get("eventName") == event_name and not record.get("errorCode")
        )

    def _records(
        self, key: LookupAttributeKeyType, value: str, pages: int
    ) -> Iterator[Mapping[str, Any]]:
        """The parseable records of up to `pages` pages of one look-up, newest first."""
        attribute: LookupAttributeTypeDef = {"AttributeKey": key, "AttributeValue": value}
        start = self._wall() - WINDOW
        token: str | None = None
        for _ in range(pages):
            self._pace()
            if token is None:
                page = self._client.lookup_events(LookupAttributes=[attribute], StartTime=start)
            else:
                page = self._client.lookup_events(
                    LookupAttributes=[attribute], StartTime=start, NextToken=token
                )
            for event in page.get("Events", []):
                record = _record(event)
                if record is not None:
                    yield record
            token = page.get("NextToken")
            if not token:
                return

    def _pace(self) -> None:
        """Two calls from this object are never closer than `min_interval` seconds."""
        if self._last_call is not None:
            wait = self._last_call + self._min_interval - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last_call = self._clock()
