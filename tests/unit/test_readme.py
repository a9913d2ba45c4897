from __future__ import annotations

import re

from autotag.events import SUPPORTED
from autotag.inventory import LISTINGS
from tests.conftest import ROOT


def test_readme_supported_events_table_is_the_code_table() -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Supported events", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(
        r"^\| (Create\w+) \| `(\w+)` \| ([\w-]+) \| (\w+) \| ([^|]+) \| ([^|]+) \|$", section, re.M
    )
    assert rows == [
        (
            spec.event_name,
            spec.arn_field,
            spec.kind,
            spec.phase.value,
            spec.state_change or "—",
            "Search" if spec.searchable else " + ".join((*LISTINGS[spec.kind].actions, "ListTags")),
        )
        for spec in SUPPORTED
    ]
