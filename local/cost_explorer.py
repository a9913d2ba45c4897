"""The Cost Explorer behaviour moto 5 lacks: `GetCostAndUsage` computed from line items.

moto answers GetCostAndUsage from a queue of canned results and applies no filter or grouping.
`seed(items)` gives the emulator a month's billing lines instead (service, usage type, record
type, tags, amount); `install()` makes GetCostAndUsage filter them (`And`, `Not`, `Dimensions`
SERVICE / RECORD_TYPE / USAGE_TYPE, `Tags`), group them (TAG keys as `Key$value`, `Key$` for
lines without the tag; DIMENSION values) and answer in pages of `PAGE_SIZE` groups with
`NextPageToken`, as Cost Explorer does.

Cost allocation tags: `seed_tags({key: "Active" | "Inactive"})` is what Billing has seen;
ListCostAllocationTags and UpdateCostAllocationTagsStatus (at most 20 keys a call) answer from
it, and `refuse_tags(True)` answers them as an account that is not a management account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from moto.ce.models import CostExplorerBackend
from moto.ce.responses import CostExplorerResponse
from moto.core.exceptions import JsonRESTError

PAGE_SIZE: Final = 3  # small, so that every caller meets NextPageToken
_LINES: Final[list[Line]] = []
_TAGS: Final[dict[str, str]] = {}  # cost allocation tag key -> Active | Inactive
_REFUSED: Final[list[bool]] = [False]
_ORIGINAL: Final[dict[str, Any]] = {}
_DIMENSIONS: Final = {
    "SERVICE": "service",
    "RECORD_TYPE": "record_type",
    "USAGE_TYPE": "usage_type",
}


@dataclass(frozen=True)
class Line:
    """One billing line: a month's spend of one usage type, with the resource's tags."""

    month: str  # YYYY-MM-01
    service: str
    usage_type: str
    amount: float
    tags: dict[str, str] = field(default_factory=dict)
    record_type: str = "Usage"


def seed(lines: list[Line]) -> None:
    """The account's billing lines (replacing any seeded before)."""
    _LINES.clear()
    _LINES.extend(lines)


def _matches(line: Line, expression: dict[str, Any]) -> bool:
    if "And" in expression:
        return all(_matches(line, part) for part in expression["And"])
    if "Or" in expression:
        return any(_matches(line, part) for part in expression["Or"])
    if "Not" in expression:
        return not _matches(line, expression["Not"])
    if "Dimensions" in expression:
        rule = expression["Dimensions"]
        return getattr(line, _DIMENSIONS[rule["Key"]]) in rule["Values"]
    if "Tags" in expression:
        rule = expression["Tags"]
        return line.tags.get(rule["Key"], "") in rule.get("Values", [])
    raise ValueError(f"filter not emulated: {expression}")


def _key(line: Line, group: dict[str, str]) -> str:
    if group["Type"] == "TAG":
        return f"{group['Key']}${line.tags.get(group['Key'], '')}"
    return str(getattr(line, _DIMENSIONS[group["Key"]]))


def get_cost_and_usage(self: CostExplorerBackend, body: str) -> dict[str, Any]:
    if not _LINES:
        result: dict[str, Any] = _ORIGINAL["get_cost_and_usage"](self, body)
        return result
    request = json.loads(body)
    start, end = request["TimePeriod"]["Start"], request["TimePeriod"]["End"]
    metric = request["Metrics"][0]
    groups: dict[tuple[str, ...], float] = {}
    for line in _LINES:
        if not start <= line.month < end:
            continue
        if "Filter" in request and not _matches(line, request["Filter"]):
            continue
        keys = tuple(_key(line, group) for group in request.get("GroupBy", []))
        groups[keys] = groups.get(keys, 0.0) + line.amount
    ordered = sorted(groups.items())
    offset = int(request.get("NextPageToken") or 0)
    page = ordered[offset : offset + PAGE_SIZE]
    answer: dict[str, Any] = {
        "GroupDefinitions": request.get("GroupBy", []),
        "ResultsByTime": [
            {
                "TimePeriod": {"Start": start, "End": end},
                "Total": {},
                "Groups": [
                    {
                        "Keys": list(keys),
                        "Metrics": {metric: {"Amount": f"{amount:.10f}", "Unit": "USD"}},
                    }
                    for keys, amount in page
                ],
                "Estimated": False,
            }
        ],
        "DimensionValueAttributes": [],
    }
    if offset + PAGE_SIZE < len(ordered):
        answer["NextPageToken"] = str(offset + PAGE_SIZE)
    return answer


def seed_tags(statuses: dict[str, str]) -> None:
    _TAGS.clear()
    _TAGS.update(statuses)


def refuse_tags(refused: bool) -> None:
    _REFUSED[0] = refused


def tag_statuses() -> dict[str, str]:
    return dict(_TAGS)


def _check_allowed() -> None:
    if _REFUSED[0]:
        raise JsonRESTError(
            "AccessDeniedException",
            "Linked account doesn't have access to cost allocation tags.",
        )


def list_cost_allocation_tags(self: CostExplorerResponse) -> str:
    _check_allowed()
    params = json.loads(self.body)
    wanted = params.get("TagKeys") or sorted(_TAGS)
    tags = [
        {"TagKey": key, "Type": "UserDefined", "Status": _TAGS[key]}
        for key in wanted
        if key in _TAGS
    ]
    return json.dumps({"CostAllocationTags": tags})


def update_cost_allocation_tags_status(self: CostExplorerResponse) -> str:
    _check_allowed()
    entries = json.loads(self.body)["CostAllocationTagsStatus"]
    if len(entries) > 20:
        raise JsonRESTError("ValidationException", "At most 20 tag keys per call.")
    errors = []
    for entry in entries:
        if entry["TagKey"] in _TAGS:
            _TAGS[entry["TagKey"]] = entry["Status"]
        else:
            errors.append(
                {"TagKey": entry["TagKey"], "Code": "TagKeysNotFoundException",
                 "Message": "The tag key is not in billing data yet."}
            )  # fmt: skip
    return json.dumps({"Errors": errors})


def install() -> None:
    """Patch moto's Cost Explorer backend and responses (idempotent)."""
    CostExplorerResponse.list_cost_allocation_tags = list_cost_allocation_tags  # type: ignore[attr-defined]
    CostExplorerResponse.update_cost_allocation_tags_status = (  # type: ignore[attr-defined]
        update_cost_allocation_tags_status
    )
    if "get_cost_and_usage" not in _ORIGINAL:
        _ORIGINAL["get_cost_and_usage"] = CostExplorerBackend.get_cost_and_usage
        CostExplorerBackend.get_cost_and_usage = get_cost_and_usage  # type: ignore[method-assign]
