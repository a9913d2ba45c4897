from __future__ import annotations

import re

from tests.conftest import EVENTS, corpus_names


def test_events_readme_describes_every_file_and_no_other() -> None:
    text = (EVENTS / "README.md").read_text()
    listed = set(re.findall(r"^\| `([^`]+)\.json` \|", text, flags=re.MULTILINE))
    assert listed == set(corpus_names())
