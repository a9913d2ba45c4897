"""The resource's record: one claim per request, refused to a handled request or while another
try holds the lease, and handing over what it replaced."""

from __future__ import annotations

from typing import Any

import pytest

from autotag.identity import Principal, PrincipalKind
from autotag.state import AlreadyHandledError, LockBusyError, StateTable
from tests.unit.conftest import TABLE

ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/job"
ALICE = Principal(PrincipalKind.IAM_USER, "alice", via="userName", lookup_keys=("alice",))


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table(dynamodb: Any) -> tuple[StateTable, Clock]:
    clock = Clock()
    return StateTable(dynamodb, TABLE, clock), clock


def test_a_request_is_claimed_once(table: tuple[StateTable, Any]) -> None:
    state, _ = table
    state.claim(ARN, "r1", creator=ALICE, told="[1]")
    with pytest.raises(AlreadyHandledError) as refused:
        state.claim(ARN, "r1")
    assert refused.value.record.told == "[1]"
    assert state.record(ARN).creator == ALICE


def test_a_lease_refuses_another_try_until_it_runs_out(table: tuple[StateTable, Clock]) -> None:
    state, clock = table
    state.claim(ARN, "r1", lease_seconds=10, owner="r1#a")
    with pytest.raises(LockBusyError) as busy:
        state.claim(ARN, "r2", lease_seconds=10, owner="r2#a")
    assert busy.value.until == clock.now + 10
    clock.now += 11
    state.claim(ARN, "r2", lease_seconds=10, owner="r2#a")
    assert state.record(ARN).lease_owner == "r2#a"


def test_a_claim_returns_the_notices_it_replaced(table: tuple[StateTable, Any]) -> None:
    state, _ = table
    first = state.claim(ARN, "r1", told='["r1 told"]')
    assert first.told is None
    assert first.last_request == ""
    second = state.claim(ARN, "r2")  # decides no notice: the record keeps none
    assert second.last_request == "r1"
    assert second.told == '["r1 told"]'
    assert state.record(ARN).told is None
    # a request claiming again what its own try claimed hands over nothing of another's
    state.claim(ARN, "r2", told='["r2 told"]', again=True)
    again = state.claim(ARN, "r2", told='["r2 told, later"]', again=True)
    assert again.last_request in {"", "r2"}  # DynamoDB may leave out an unchanged value
    assert again.told == '["r2 told"]'
    assert state.record(ARN).told == '["r2 told, later"]'
