"""`autotag audit` on a known emulated account: the figures, the formats, --fix and its dry run,
and --min-coverage as an exit status."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from autotag import cli, identity
from autotag.state import StateTable
from local.emulator import COMPLIANT_TAGS, Emulator, Stack
from tests.conftest import ARN, STUDIO_DOMAIN, tags_of

pytestmark = pytest.mark.integration


ALL_BUT_OWNER = {k: v for k, v in COMPLIANT_TAGS.items() if k != "Owner"}
# name -> tags: 3 of 8 compliant
ACCOUNT = {
    "training-job/t-ok-1": COMPLIANT_TAGS,
    "training-job/t-ok-2": {**COMPLIANT_TAGS, "Project": "Beta-Forecast", "CostCenter": "CC-2002"},
    "training-job/t-no-owner": ALL_BUT_OWNER,
    "training-job/t-bad-env": {**COMPLIANT_TAGS, "Environment": "Prod"},  # not an allowed value
    "endpoint/e-ok": {**COMPLIANT_TAGS, "ML-Phase": "Inference"},
    "endpoint/e-bare": {},
    "processing-job/p-studio": {
        "sagemaker:user-profile-arn": f"{ARN}:user-profile/{STUDIO_DOMAIN}/dave",
    },
    "model/m-project-only": {"Project": "Gamma-Vision", "Owner": "erin@example.com"},
}


@pytest.fixture
def account(emulator: Emulator, stack: Stack) -> dict[str, str]:
    for name, tags in ACCOUNT.items():
        emulator.seed_resource(f"{ARN}:{name}", dict(tags))
    # dave's job was seen when it was created: its creator is on record (its Studio tag alone
    # would name nobody: a caller can write it)
    dave = identity.studio_user("dave", STUDIO_DOMAIN, "the Create call")
    state = StateTable(emulator.dynamodb(), stack.state_table)
    state.record_creator(f"{ARN}:processing-job/p-studio", dave)
    return {name: f"{ARN}:{name}" for name in ACCOUNT}


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    status = cli.main(["audit", "--format", "json", *args])
    return status, json.loads(capsys.readouterr().out)


def test_the_report_counts_per_kind_project_and_owner(
    account: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, report = run_json(capsys)

    assert status == 0
    assert report["overall"]["compliant"] == 3
    assert report["overall"]["total"] == 8
    assert report["overall"]["coverage"] == 37.5
    kinds = {k["name"]: (k["compliant"], k["total"]) for k in report["kinds"]}
    assert kinds == {
        "training-job": (2, 4),
        "endpoint": (1, 2),
        "processing-job": (0, 1),
        "model": (0, 1),
    }
    projects = {p["name"]: (p["compliant"], p["total"]) for p in report["projects"]}
    assert projects == {
        "Alpha-NLP": (2, 4),
        "Beta-Forecast": (1, 1),
        "Gamma-Vision": (0, 1),
        "(no project)": (0, 2),
    }
    training = next(k for k in report["kinds"] if k["name"] == "training-job")
    assert training["missing"] == {"Owner": 1, "Environment": 1}
    offenders = [(o["name"], o["total"] - o["compliant"]) for o in report["offenders"]]
    assert offenders == [
        ("(unknown)", 2),
        ("alice@example.com", 1),
        ("dave", 1),
        ("erin@example.com", 1),
    ]
    assert {r["arn"] for r in report["resources"]} == set(account.values())


def test_csv_and_table_show_the_same_figures(
    account: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["audit", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["section", "name", "compliant", "total", "coverage_percent", "missing"]
    assert rows[1][:5] == ["overall", "all resources", "3", "8", "37.5"]
    assert rows[2][:5] == ["kind", "endpoint", "1", "2", "50.0"]

    assert cli.main(["audit"]) == 0
    out = capsys.readouterr().out
    assert "3 of 8 resources" in out
    assert "37.5 %" in out
    assert "training-job" in out


def test_min_coverage_fails_below_and_passes_above(
    account: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["audit", "--format", "csv", "--min-coverage", "40"]) == 1
    assert "37.5 % is below --min-coverage 40 %" in capsys.readouterr().err
    assert cli.main(["audit", "--format", "csv", "--min-coverage", "37.5"]) == 0


def test_fix_dry_run_shows_what_it_would_write_and_writes_and_tells_nothing(
    emulator: Emulator, stack: Stack, account: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, report = run_json(capsys, "--fix", "--dry-run")

    assert status == 0
    fixes = {fix["resourceArn"]: fix for fix in report["fixes"]}
    assert len(fixes) == 5  # the non-compliant ones
    studio = fixes[account["processing-job/p-studio"]]
    assert studio["status"] == "dry-run"
    assert studio["added"]["Project"]["value"] == "Beta-Forecast"  # dave's profile
    assert studio["added"]["Owner"]["value"] == "dave@example.com"
    assert report["overall"]["compliant"] == 3  # the report of the account as it is
    for name, arn in account.items():
        assert tags_of(emulator, arn) == ACCOUNT[name]
    assert emulator.notifications(stack) == []


def test_fix_fills_what_it_can_through_the_tagger_and_reports_the_result(
    emulator: Emulator, stack: Stack, account: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status, report = run_json(capsys, "--fix", "--min-coverage", "60")

    statuses = {fix["resourceArn"].split(":")[-1]: fix["status"] for fix in report["fixes"]}
    assert statuses == {
        "processing-job/p-studio": "tagged",
        "model/m-project-only": "tagged",
        "training-job/t-no-owner": "incomplete",  # nobody knows its owner
        "training-job/t-bad-env": "incomplete",  # a value is never overwritten
        "endpoint/e-bare": "incomplete",
    }
    assert tags_of(emulator, account["model/m-project-only"])["CostCenter"] == "CC-3003"
    assert tags_of(emulator, account["training-job/t-bad-env"])["Environment"] == "Prod"
    assert report["overall"]["compliant"] == 5  # the account after the fix
    assert status == 0  # 62.5 % after the fix passes 60; the 37.5 % before would not
    recipients = {note.recipient for note in emulator.notifications(stack)}
    assert "dave@example.com" in recipients


def test_dry_run_without_fix_is_refused(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["audit", "--dry-run"]) == 2
    assert "--dry-run goes with --fix" in capsys.readouterr().err


def test_the_audit_reports_the_time_to_tag_and_the_hours_without_project(
    emulator: Emulator, stack: Stack, account: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The functions' SecondsToTag and SecondsWithoutProject metrics (their EMF lines, put into
    CloudWatch as Lambda's log ingestion would), by trigger, and the hours of the resources
    still without Project (from the inventory's creation times)."""
    from datetime import UTC, datetime  # noqa: PLC0415

    import boto3  # noqa: PLC0415

    cloudwatch = boto3.client("cloudwatch", endpoint_url=emulator.endpoint)
    for metric, trigger, values in (
        ("SecondsToTag", "create", [2.0, 4.0, 600.0]),
        ("SecondsToTag", "sweep", [7200.0]),
        ("SecondsWithoutProject", "create", [3600.0]),
        ("SecondsWithoutProject", "sweep", [7200.0]),
    ):
        cloudwatch.put_metric_data(
            Namespace="SageMakerAutoTag",
            MetricData=[
                {
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "service", "Value": "sagemaker-autotag"},
                        {"Name": "trigger", "Value": trigger},
                    ],
                    "Timestamp": datetime.now(UTC),
                    "Value": value,
                    "Unit": "Seconds",
                }
                for value in values
            ],
        )
    del account
    status, report = run_json(capsys)
    assert status == 0
    timing = report["timeToTag"]
    assert "create" in timing["by_trigger"], timing
    assert timing["by_trigger"]["create"] == {
        "count": 3.0,
        "average_seconds": pytest.approx(202.0),
        "max_seconds": 600.0,
        "p50_seconds": 4.0,  # the distribution: 2, 4, 600
        "p90_seconds": 600.0,
    }
    assert timing["by_trigger"]["sweep"]["count"] == 1.0
    assert timing["until_tagged_hours"] == pytest.approx(3.0)  # 1 h + 2 h without Project
    # e-bare and p-studio have no Project: seeded moments ago, so a sliver of an hour
    assert 0 <= timing["still_untagged_hours"] < 0.1
    assert timing["resource_hours_without_project"] == pytest.approx(3.0, abs=0.1)
    assert cli.main(["audit"]) == 0  # the table says it in words
    said = " ".join(capsys.readouterr().out.split())
    assert "create: 3 writes, median 4 s, 90 % within 600 s, average 202 s, longest 600 s" in said
