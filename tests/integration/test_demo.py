"""`make demo` plays its morning to the end, sums it up and ends with the CFO's answer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def demo() -> str:
    """The demo's output (it runs once for the module's tests)."""
    result = subprocess.run(
        [sys.executable, "-m", "local.demo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_demo_runs_and_sums_up(demo: str) -> None:
    out = demo
    summary = re.search(
        r"^Summary: (\d+) resources, (\d+) compliant before, (\d+) compliant after, "
        r"(\d+) keys still missing$",
        out,
        re.MULTILINE,
    )
    assert summary is not None, out
    resources, before, after, missing = map(int, summary.groups())
    assert resources == 11
    assert before == 1  # grace tagged everything
    assert after == 10  # frank is unknown: his notebook stays incomplete
    assert missing == 3
    assert "ignored by the rule (errorCode ValidationException)" in out
    assert "AddTags: ignored by the rule" in out
    for recipient in (
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",  # her HyperPod cluster among others
        "dave@example.com",
        "admin",
    ):
        assert f"To: {recipient}" in out
    assert "autotag-registry: wrote" in out  # loaded through `autotag registry load`
    # bob's model, endpoint config and endpoint lacked the same keys: one digest
    assert "[autotag] 3 resources lacked Project" in out
    morning = out.split("14:10  what the Create* events cannot see", 1)[0]
    assert morning.count("To: bob@example.com") == 1
    # The afternoon: a tag removal put back; an audit before and after the sweep.
    assert "[autotag] Put back Project, CostCenter on endpoint sentiment-prod" in out
    assert out.count("To: bob@example.com") == 2  # the morning's digest, the afternoon's notice
    audit = re.search(
        r"^Audit: (\d+) of (\d+) resources compliant before the sweep, "
        r"(\d+) of (\d+) resources compliant after$",
        out,
        re.MULTILINE,
    )
    assert audit is not None, out
    before_ok, total, after_ok, total_after = map(int, audit.groups())
    assert total == total_after == 14  # the morning's 11 resources and the 3 lost jobs
    assert (before_ok, after_ok) == (10, 12)  # the sweep tagged alice's and grace's lost jobs
    assert "$ autotag audit   (after the sweep)" in out
    assert re.search(r"^sweep done: 14 resources", out, re.MULTILINE)
    assert "cluster/forecast-hyperpod  (notified carol@example.com)" in out


def test_the_demo_ends_with_the_cfos_answer(demo: str) -> None:
    by_project = demo.split("$ autotag costs --by project", 1)[1]
    by_project = by_project.split("$ autotag costs --project Alpha-NLP --by phase", 1)[0]
    assert re.search(r"project\W+amount\W+source", by_project)
    for label, amount, source in (
        ("Alpha-NLP", "4,000.00", "tag"),  # 2,400 + 600 + 900 + 100: no credit, no S3
        ("Beta-Forecast", "2,200.00", "tag"),  # 1,200 + 300 + 700
        ("Gamma-Vision", "1,200.00", "tag"),  # 800 + 400
        ("(no Project tag)", "600.00", "no tag"),  # 100 + 500
    ):
        assert re.search(rf"{re.escape(label)}\W+{re.escape(amount)} USD\W+{source}\b", by_project)
    assert "unallocated (no Project tag): 600.00 USD, 7.5% of SageMaker" in by_project
    by_phase = demo.split("$ autotag costs --project Alpha-NLP --by phase", 1)[1]
    for phase, amount, source in (
        ("Training", "2,400.00", "tag"),  # ML-Phase=Training
        ("Inference", "900.00", "usage type"),  # Host
        ("Training", "600.00", "usage type"),  # Train
        ("Development", "100.00", "usage type"),  # Notebk
    ):
        assert re.search(rf"{phase}\W+{re.escape(amount)} USD\W+{source}\b", by_phase)
    last = demo.rstrip().splitlines()[-1]
    answer = re.fullmatch(
        r"Alpha-NLP spent \$([\d,]+\.\d\d) on SageMaker training in (\w+ \d{4}); "
        r"(\d+\.\d) % of SageMaker spend was unallocated",
        last,
    )
    assert answer is not None, last
    spent, month, share = answer.groups()
    # Alpha-NLP's SageMaker training: 2,400 (p4d, ML-Phase=Training) + 600 (g5, no ML-Phase: its
    # usage type says Train) = 3,000; its -500 credit and its 300 of S3 are left out.
    assert spent == "3,000.00"
    # Nobody's: 100 (notebook) + 500 (training) = 600 of SageMaker's
    # 4,000 + 2,200 + 1,200 + 600 = 8,000: 600 / 8,000 = 7.5 %.
    assert share == "7.5"
    seeded = datetime.now(UTC).date().replace(day=1) - timedelta(days=1)  # last month
    assert month == f"{seeded:%B %Y}"
