"""What the Lambda loads: its layer carries Powertools, not the CLI's libraries."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_the_handler_imports_neither_rich_nor_yaml() -> None:
    code = (
        "import sys; sys.path[:0] = ['functions/tag_on_create', 'layers/autotag']\n"
        "import app\n"
        "print(sorted(m for m in ('rich', 'yaml', 'moto') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def test_the_layer_requirements_name_only_powertools() -> None:
    lines = (ROOT / "layers" / "autotag" / "requirements.txt").read_text().splitlines()
    wanted = [line for line in lines if line.strip() and not line.startswith("#")]
    assert len(wanted) == 1
    assert wanted[0].startswith("aws-lambda-powertools")
