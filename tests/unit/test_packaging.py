"""What the Lambda loads: its layer carries Powertools, not the CLI's libraries. What is
installed comes from the locks, each file checked against its hash."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import NamedTuple

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ROOT

LAYER = ROOT / "layers" / "autotag"
LOCKS = [ROOT / "requirements-dev.lock", LAYER / "requirements.lock"]


class Entry(NamedTuple):
    name: str
    requirement: str
    hashes: list[str]
    via: set[str]  # what it is there for: the `# via` lines


def locked(lock: Path) -> list[Entry]:
    entries: list[Entry] = []
    for line in lock.read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            requirement = line.removesuffix("\\").strip()
            name = canonicalize_name(Requirement(requirement).name)
            entries.append(Entry(name, requirement, [], set()))
        elif entries and (found := re.fullmatch(r"\s+--hash=(sha256:[0-9a-f]{64})\s*\\?", line)):
            entries[-1].hashes.append(found[1])
        elif entries and (found := re.fullmatch(r"\s+#( via)?\s+(?!via$)(\S.*)", line)):
            entries[-1].via.add(found[2])
    return entries


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
    lines = (LAYER / "requirements.txt").read_text().splitlines()
    wanted = [line for line in lines if line.strip() and not line.startswith("#")]
    assert len(wanted) == 1
    assert wanted[0].startswith("aws-lambda-powertools")


def test_the_layer_lock_holds_powertools_and_its_dependencies_only() -> None:
    entries = locked(LAYER / "requirements.lock")
    names = {entry.name for entry in entries}
    direct = {entry.name for entry in entries if "-r layers/autotag/requirements.txt" in entry.via}
    assert direct == {"aws-lambda-powertools"}
    for entry in entries:
        assert entry.hashes, entry.name
        assert entry.name in direct or entry.via <= names, entry
    assert not {"boto3", "botocore"} & names  # the Lambda runtime brings them


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.name)
def test_every_locked_requirement_is_one_version_with_its_hashes(lock: Path) -> None:
    entries = locked(lock)
    assert entries
    for entry in entries:
        assert "==" in entry.requirement, entry.requirement
        assert entry.hashes, entry.requirement
    # Every line is a requirement, one of its hashes, or a comment.
    for line in lock.read_text().splitlines():
        assert re.match(r"[a-z0-9]|\s+--hash=sha256:[0-9a-f]{64}|\s*#|$", line), line


def test_the_locks_hold_what_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {
        ROOT / "requirements-dev.lock": [
            *project["dependencies"],
            *project["optional-dependencies"]["dev"],
        ],
        LAYER / "requirements.lock": [
            line
            for line in (LAYER / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ],
    }
    for lock, requirements in declared.items():
        pins = {entry.name: Requirement(entry.requirement) for entry in locked(lock)}
        for text in requirements:
            requirement = Requirement(text)
            (pin,) = pins[canonicalize_name(requirement.name)].specifier
            assert requirement.specifier.contains(pin.version, prereleases=True), (lock, text)
