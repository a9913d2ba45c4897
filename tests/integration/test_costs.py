"""`autotag costs`: a month of SageMaker spend from Cost Explorer, against the emulator's billing
lines (local/cost_explorer.py: filters, groups and pages as Cost Explorer does)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from autotag import cli
from local import cost_explorer
from local.cost_explorer import Line
from local.emulator import Emulator, Stack
from tests.conftest import ApiCalls

pytestmark = pytest.mark.integration

SM = "Amazon SageMaker"
NOVEMBER = "2026-11-01"
LINES = [
    Line(NOVEMBER, SM, "USE1-Train:ml.p4d.24xlarge", 900.0,
         {"Project": "Alpha-NLP", "ML-Phase": "Training"}),
    Line(NOVEMBER, SM, "USE1-Host:ml.g5.xlarge", 300.0, {"Project": "Alpha-NLP"}),
    Line(NOVEMBER, SM, "USE1-Host:ml.m5.large", 150.0, {"Project": "Beta-Forecast"}),
    Line(NOVEMBER, SM, "USE1-Processing:ml.m5.xlarge", 50.0, {"Project": "Beta-Forecast"}),
    Line(NOVEMBER, SM, "USE1-Notebk:ml.t3.medium", 100.0, {}),  # nobody's
    Line(NOVEMBER, SM, "USE1-Train:ml.g5.2xlarge", -200.0, {"Project": "Alpha-NLP"}, "Credit"),
    Line(NOVEMBER, "Amazon Simple Storage Service", "USE1-TimedStorage-ByteHrs", 40.0,
         {"Project": "Alpha-NLP"}),
    Line("2026-10-01", SM, "USE1-Train:ml.p4d.24xlarge", 5000.0, {"Project": "Alpha-NLP"}),
]  # fmt: skip


@pytest.fixture
def billing(
    emulator: Emulator, stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    del emulator, stack
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cost_explorer.seed(LINES)
    yield
    cost_explorer.seed([])


def costs(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    assert cli.main(["costs", "--month", "2026-11", "--format", "json", *args]) == 0
    found: dict[str, Any] = json.loads(capsys.readouterr().out)
    return found


def test_spend_by_project_with_what_is_nobodys(
    billing: None, capsys: pytest.CaptureFixture[str], api_calls: ApiCalls
) -> None:
    api_calls.seen.clear()
    report = costs(capsys)
    assert report["period"] == {"start": "2026-11-01", "end": "2026-12-01"}
    assert report["scope"] == SM
    assert report["total"] == pytest.approx(1500.0)  # no credit, no S3, no October
    assert report["unallocated"] == pytest.approx(100.0)
    assert report["unallocated_share"] == pytest.approx(0.0667, abs=1e-4)
    assert report["allocated_share"] == pytest.approx(0.9333, abs=1e-4)
    rows = {row["project"]: row["amount"] for row in report["rows"]}
    assert rows == {
        "Alpha-NLP": pytest.approx(1200.0),
        "Beta-Forecast": pytest.approx(200.0),
        None: pytest.approx(100.0),
    }
    assert all(row["phase"] is None and row["service"] is None for row in report["rows"])
    assert api_calls.seen.count("ce:GetCostAndUsage") == 1  # one page: 3 groups


def test_spend_by_phase_says_which_rows_came_from_the_usage_type(
    billing: None, capsys: pytest.CaptureFixture[str], api_calls: ApiCalls
) -> None:
    api_calls.seen.clear()
    report = costs(capsys, "--by", "phase")
    rows = {(row["phase"], row["source"]): row["amount"] for row in report["rows"]}
    assert rows == {
        ("Training", "tag"): pytest.approx(900.0),
        ("Inference", "usage type"): pytest.approx(450.0),
        ("Preprocessing", "usage type"): pytest.approx(50.0),
        ("Development", "usage type"): pytest.approx(100.0),
    }
    # the breakdown's 5 groups come in two pages (NextPageToken), the projects' in one
    assert api_calls.seen.count("ce:GetCostAndUsage") == 3


def test_a_projects_spend_across_services(
    billing: None, capsys: pytest.CaptureFixture[str]
) -> None:
    report = costs(capsys, "--project", "Alpha-NLP", "--by", "service")
    assert report["scope"] == "every service"
    services = {row["service"]: row["amount"] for row in report["rows"]}
    assert services == {
        SM: pytest.approx(1200.0),
        "Amazon Simple Storage Service": pytest.approx(40.0),
    }
    assert report["total"] == pytest.approx(1240.0)
    assert report["unallocated"] == pytest.approx(100.0)  # the account's, always


def test_answers_are_cached_until_refreshed(
    billing: None, capsys: pytest.CaptureFixture[str], api_calls: ApiCalls
) -> None:
    first = costs(capsys)
    api_calls.seen.clear()
    again = costs(capsys)
    assert api_calls.seen.count("ce:GetCostAndUsage") == 0  # each request costs $0.01
    assert again["fetched_at"] == first["fetched_at"]
    costs(capsys, "--refresh")
    assert api_calls.seen.count("ce:GetCostAndUsage") == 1


def test_the_table_rounds_to_cents_and_csv_keeps_the_amounts(
    billing: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["costs", "--month", "2026-11"]) == 0
    out = capsys.readouterr().out
    assert "1,200.00 USD" in out
    assert "(no Project tag)" in out
    assert "unallocated (no Project tag): 100.00 USD, 6.7% of SageMaker; allocated: 93.3%" in out
    assert cli.main(["costs", "--month", "2026-11", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "project,amount,currency,source"
    assert "Alpha-NLP,1200.0,USD,tag" in lines


def test_a_project_counts_every_spelling_its_tag_was_given(
    billing: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cost Explorer matches tag values by case; a person's `alpha-nlp` is kept as written."""
    cost_explorer.seed([*LINES, Line(NOVEMBER, SM, "USE1-Train:ml.g5.xlarge", 80.0,
                                     {"Project": "alpha-nlp"})])  # fmt: skip
    report = costs(capsys, "--project", "Alpha-NLP", "--by", "phase")
    assert report["total"] == pytest.approx(1280.0)
    rows = {(row["phase"], row["source"]): row["amount"] for row in report["rows"]}
    assert rows[("Training", "usage type")] == pytest.approx(80.0)
    assert sum(rows.values()) == pytest.approx(1280.0)
    assert report["unallocated"] == pytest.approx(100.0)  # it is not nobody's
    by_project = costs(capsys, "--refresh")  # the account by spelling, as Billing has it
    names = {row["project"]: row["amount"] for row in by_project["rows"]}
    assert names["alpha-nlp"] == pytest.approx(80.0)
    assert names["Alpha-NLP"] == pytest.approx(1200.0)


def test_a_bill_with_no_project_at_all_points_at_activation(
    billing: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the key is active, Cost Explorer groups the whole bill as `Project$`."""
    cost_explorer.seed([Line(NOVEMBER, SM, "USE1-Train:ml.p4d.24xlarge", 900.0, {})])
    capsys.readouterr()
    assert cli.main(["costs", "--month", "2026-11", "--refresh"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "every dollar reads as unallocated" in out
    assert "autotag activate --dry-run" in out
    cost_explorer.seed(LINES)
    assert cli.main(["costs", "--month", "2026-11", "--refresh"]) == 0
    assert "every dollar" not in capsys.readouterr().out


def test_a_bad_month_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["costs", "--month", "11/2026"]) == 2
    assert "--month '11/2026': expected YYYY-MM" in capsys.readouterr().err


@pytest.fixture
def tag_keys(emulator: Emulator, stack: Stack) -> Iterator[Stack]:
    del emulator
    cost_explorer.seed_tags({"Project": "Active", "CostCenter": "Inactive", "Team": "Inactive"})
    yield stack
    cost_explorer.seed_tags({})
    cost_explorer.refuse_tags(False)


def test_activate_turns_on_the_policys_inactive_keys_and_names_the_unseen(
    tag_keys: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tag_keys.registry_table
    capsys.readouterr()
    assert cli.main(["activate", "--table", table, "--dry-run"]) == 0
    assert cost_explorer.tag_statuses()["Team"] == "Inactive"  # a dry look changes nothing
    assert cli.main(["activate", "--table", table]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "activated now: CostCenter, Team" in out
    assert "not yet in billing data" in out
    assert "Owner, Environment, ML-Phase" in out
    assert cost_explorer.tag_statuses() == {
        "Project": "Active",
        "CostCenter": "Active",
        "Team": "Active",
    }


def test_activate_in_a_member_account_explains_the_management_account(
    tag_keys: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    cost_explorer.refuse_tags(True)
    assert cli.main(["activate", "--table", tag_keys.registry_table]) == 2
    assert "management account" in capsys.readouterr().err


def test_the_audit_shows_the_keys_activation(
    tag_keys: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli.main(["audit", "--table", tag_keys.registry_table, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    activation = document["costAllocationTags"]
    assert activation["active"] == ["Project"]
    assert activation["inactive"] == ["CostCenter", "Team"]
    assert "Owner" in activation["unseen"]
    assert cost_explorer.tag_statuses()["Team"] == "Inactive"  # the audit only looks
