"""CloudTrail's `LookupEvents`, which moto 5 lacks, answered from seeded records.

`seed(record)` keeps a CloudTrail record (the `detail` of an "AWS API Call via CloudTrail"
event) on moto's CloudTrail backend of the record's account and Region, so moto's reset forgets
it with everything else. `install()` grafts `lookup_events` onto moto's `CloudTrailResponse`;
moto looks handler methods up on every call, so it also serves `ThreadedMotoServer`.

What is honoured: one lookup attribute (ResourceName, EventName, EventId, EventSource,
Username), StartTime/EndTime, MaxResults (1-50, default 50), NextToken; events newest first.
ResourceName matches, ignoring case, the record's request `*Name` values and the last segment
of its response `*Arn` values. What real CloudTrail puts in `Resources` and matches for
SageMaker is not documented [inferred]: the stand-in's `Resources` lists the response's ARNs.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from moto.cloudtrail.models import CloudTrailBackend, cloudtrail_backends
from moto.cloudtrail.responses import CloudTrailResponse
from moto.core.exceptions import JsonRESTError

from autotag.events import pascal

ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"
MAX_RESULTS: Final = 50
_STORE: Final = "_local_trail"
_PATCHES: Final = ("lookup_events",)
_KEYS: Final = frozenset({"ResourceName", "EventName", "EventId", "EventSource", "Username"})


@dataclass(frozen=True)
class _Seeded:
    order: int  # seeding order: ties on eventTime keep it, newest first
    time: datetime
    record: dict[str, Any]


def _store(backend: CloudTrailBackend) -> list[_Seeded]:
    store: list[_Seeded] | None = backend.__dict__.get(_STORE)
    if store is None:
        store = []
        setattr(backend, _STORE, store)
    return store


def _parse_time(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return datetime.now(UTC)


def seed(record: dict[str, Any]) -> None:
    """Make `LookupEvents` return `record` (a CloudTrail record), in its account and Region
    (`recipientAccountId`, `awsRegion`; moto's default account and us-east-1 when absent)."""
    account = record.get("recipientAccountId") or ACCOUNT
    region = record.get("awsRegion") or REGION
    store = _store(cloudtrail_backends[account][region])
    store.append(_Seeded(len(store), _parse_time(record.get("eventTime")), copy.deepcopy(record)))


def _username(identity: Any) -> str | None:
    """A user name, or for a role session the session name (the ARN's last segment)."""
    if not isinstance(identity, dict):
        return None
    name = identity.get("userName")
    if isinstance(name, str) and name:
        return name
    arn = identity.get("arn")
    return arn.rsplit("/", 1)[-1] if isinstance(arn, str) and "/" in arn else None


def _arns(record: dict[str, Any]) -> dict[str, str]:
    """The response's `*Arn` members: member name -> ARN."""
    response = record.get("responseElements")
    if not isinstance(response, dict):
        return {}
    return {
        key: value
        for key, value in response.items()
        if key.endswith("Arn") and isinstance(value, str) and value
    }


def _names(record: dict[str, Any]) -> set[str]:
    """What a ResourceName look-up matches: request `*Name` values, last ARN segments."""
    params = record.get("requestParameters")
    found = {
        value.casefold()
        for key, value in (params.items() if isinstance(params, dict) else ())
        if key.endswith("Name") and isinstance(value, str) and value
    }
    found |= {arn.rsplit("/", 1)[-1].casefold() for arn in _arns(record).values()}
    return found


def _matches(record: dict[str, Any], key: str, value: str) -> bool:
    if key == "ResourceName":
        return value.casefold() in _names(record)
    if key == "EventName":
        return record.get("eventName") == value
    if key == "EventId":
        return record.get("eventID") == value
    if key == "EventSource":
        return record.get("eventSource") == value
    return _username(record.get("userIdentity")) == value


def _event(seeded: _Seeded) -> dict[str, Any]:
    record = seeded.record
    event: dict[str, Any] = {
        "EventId": record.get("eventID", ""),
        "EventName": record.get("eventName", ""),
        "ReadOnly": str(record.get("readOnly", False)).lower(),
        "EventTime": seeded.time.timestamp(),
        "EventSource": record.get("eventSource", ""),
        "Resources": [
            {
                "ResourceType": f"AWS::SageMaker::{pascal(key.removesuffix('Arn'))}",
                "ResourceName": arn,
            }
            for key, arn in _arns(record).items()
        ],
        "CloudTrailEvent": json.dumps(record),
    }
    username = _username(record.get("userIdentity"))
    if username:
        event["Username"] = username
    access_key = (record.get("userIdentity") or {}).get("accessKeyId")
    if isinstance(access_key, str):
        event["AccessKeyId"] = access_key
    return event


def _error(code: str, message: str) -> JsonRESTError:
    """A client error (HTTP 400) with CloudTrail's error code."""
    return JsonRESTError(code, message)


def _epoch(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError) as failure:
        raise _error("InvalidTimeRangeException", f"{name} is not a time: {value!r}") from failure


class _Lookup:
    """Methods grafted onto moto's CloudTrailResponse."""

    cloudtrail_backend: CloudTrailBackend

    def _get_param(self, name: str, if_none: Any = None) -> Any: ...

    def lookup_events(self) -> str:
        attributes = self._get_param("LookupAttributes") or []
        if len(attributes) > 1:
            raise _error(
                "InvalidLookupAttributesException", "Only one lookup attribute is allowed."
            )
        key = value = None
        if attributes:
            key, value = attributes[0].get("AttributeKey"), attributes[0].get("AttributeValue")
            if key not in _KEYS or not isinstance(value, str):
                raise _error(
                    "InvalidLookupAttributesException",
                    f"The emulator looks up {sorted(_KEYS)}, not {key!r}.",
                )
        start = _epoch(self._get_param("StartTime"), "StartTime")
        end = _epoch(self._get_param("EndTime"), "EndTime")
        if start and end and start > end:
            raise _error("InvalidTimeRangeException", "StartTime is after EndTime.")
        size = self._get_param("MaxResults") or MAX_RESULTS
        if not isinstance(size, int) or not 1 <= size <= MAX_RESULTS:
            raise _error("InvalidMaxResultsException", f"MaxResults must be 1 to {MAX_RESULTS}.")
        token = self._get_param("NextToken")
        try:
            offset = int(token) if token else 0
        except ValueError as failure:
            raise _error("InvalidNextTokenException", f"Invalid NextToken {token!r}.") from failure
        found = sorted(
            (
                seeded
                for seeded in _store(self.cloudtrail_backend)
                if (start is None or seeded.time >= start)
                and (end is None or seeded.time <= end)
                and (key is None or _matches(seeded.record, key, str(value)))
            ),
            key=lambda seeded: (seeded.time, seeded.order),
            reverse=True,
        )
        page = found[offset : offset + size]
        body: dict[str, Any] = {"Events": [_event(seeded) for seeded in page]}
        if offset + size < len(found):
            body["NextToken"] = str(offset + size)
        return json.dumps(body)


def install() -> None:
    """Apply the patch (idempotent)."""
    for name in _PATCHES:
        setattr(CloudTrailResponse, name, getattr(_Lookup, name))
