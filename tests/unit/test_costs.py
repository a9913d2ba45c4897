"""The pure parts of `autotag costs`: the month, the requests, the phases of usage types, the
cache's life and Cost Explorer's refusals made readable."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from autotag import costs
from autotag.costs import By, Cache, CostsError, Question


def test_months() -> None:
    assert costs.month("2026-12") == (date(2026, 12, 1), date(2027, 1, 1))
    assert costs.last_month(date(2027, 1, 15)) == (date(2026, 12, 1), date(2027, 1, 1))
    assert costs.last_month(date(2026, 12, 3)) == (date(2026, 11, 1), date(2026, 12, 1))
    with pytest.raises(CostsError, match="expected YYYY-MM"):
        costs.month("2026-13")


@pytest.mark.parametrize(
    ("usage", "phase"),
    [
        ("USE1-Train:ml.p4d.24xlarge", "Training"),
        ("Host:ml.m5.large", "Inference"),
        ("EUW1-Notebk:ml.t3.medium", "Development"),
        ("USE1-Processing:ml.m5.xlarge", "Preprocessing"),
        ("USE1-Studio-Space:ml.t3.medium", "Development"),
        ("USE1-Something-New", "Other"),
    ],
)
def test_the_phase_of_a_usage_type(usage: str, phase: str) -> None:
    assert costs.usage_phase(usage) == phase


def test_requests_scope_sagemaker_without_credits_and_group_as_asked() -> None:
    question = Question(date(2026, 11, 1), date(2026, 12, 1), By.PHASE, "AmortizedCost", "Alpha")
    asked = costs.requests(question)
    assert set(asked) == {"projects", "breakdown"}
    projects = asked["projects"]
    assert projects["TimePeriod"] == {"Start": "2026-11-01", "End": "2026-12-01"}
    assert projects["Metrics"] == ["AmortizedCost"]
    assert projects["GroupBy"] == [{"Type": "TAG", "Key": "Project"}]
    parts = projects["Filter"]["And"]
    assert {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon SageMaker"]}} in parts
    assert {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}} in parts
    assert not any("Tags" in part for part in parts)  # the account's: the unallocated share
    breakdown = asked["breakdown"]
    assert {"Tags": {"Key": "Project", "Values": ["Alpha"]}} in breakdown["Filter"]["And"]
    assert [g["Key"] for g in breakdown["GroupBy"]] == ["ML-Phase", "USAGE_TYPE"]
    by_service = costs.requests(Question(date(2026, 11, 1), date(2026, 12, 1), By.SERVICE))
    assert "SERVICE" not in json.dumps(by_service["breakdown"]["Filter"])  # every service
    assert by_service["breakdown"]["GroupBy"] == [{"Type": "DIMENSION", "Key": "SERVICE"}]


def test_the_cache_keeps_an_answer_for_six_hours(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    cache = Cache(tmp_path, clock=lambda: now[0])
    request = {"Metrics": ["UnblendedCost"]}
    assert cache.get(request) is None
    cache.put(request, [{"ResultsByTime": []}])
    assert cache.get(request) == ([{"ResultsByTime": []}], now[0])
    now[0] += costs.CACHE_SECONDS + 1
    assert cache.get(request) is None


@pytest.mark.parametrize(
    ("code", "message", "said"),
    [
        ("AccessDeniedException", "User is not enabled for cost explorer access", "not enabled"),
        ("AccessDeniedException", "not authorized", "ce:GetCostAndUsage"),
        ("DataUnavailableException", "Data is not available", "no data"),
        ("ValidationException", "Tag key Project is not activated", "autotag activate"),
    ],
)
def test_cost_explorers_refusals_say_what_to_do(code: str, message: str, said: str) -> None:
    class Refusing:
        def get_cost_and_usage(self, **_: object) -> dict[str, object]:
            raise ClientError({"Error": {"Code": code, "Message": message}}, "GetCostAndUsage")

    with pytest.raises(CostsError, match=said):
        costs.fetch(Refusing(), {})


def test_activation_goes_twenty_keys_a_call() -> None:
    keys = [f"Key{i}" for i in range(25)]

    class Billing:
        def __init__(self) -> None:
            self.calls: list[int] = []

        def list_cost_allocation_tags(self, **_: object) -> dict[str, object]:
            return {"CostAllocationTags": [{"TagKey": k, "Status": "Inactive"} for k in keys]}

        def update_cost_allocation_tags_status(self, **kwargs: object) -> dict[str, object]:
            batch = kwargs["CostAllocationTagsStatus"]
            assert isinstance(batch, list)
            self.calls.append(len(batch))
            return {"Errors": []}

    billing = Billing()
    found = costs.activate(billing, [*keys, "Never-Used"])
    assert billing.calls == [20, 5]
    assert found.activated == tuple(keys)
    assert found.unseen == ("Never-Used",)
