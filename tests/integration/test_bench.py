"""A small `make bench` run keeps the benchmark working; its figures are not asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def test_a_small_bench_run_writes_every_figure(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "local.bench", "--small", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(output.read_text())
    assert {"overhead", "calls", "cold_start", "layer", "bursts", "cost", "machine"} <= set(figures)
    assert {"handler_median_ms", "floor_median_ms", "ratio"} <= set(figures["overhead"])
    assert {"ratio", "import_boto3_median_ms", "import_handler_median_ms"} <= set(
        figures["cold_start"]
    )
    assert all({"cold", "warm", "warm_meets_target"} <= set(s) for s in figures["calls"].values())
    assert [b["events"] for b in figures["bursts"]] == [20, 50]
    assert figures["cost"]["usd_per_million_events"] > 0
    first, second = figures["sweep"]["passes"]
    assert first["by_call"]["sagemaker:Search"] >= 1
    assert "sagemaker:AddTags" not in second["by_call"]  # the second pass writes nothing
