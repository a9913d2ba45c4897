"""The documents' proofs exist: every test docs/SECURITY.md and the README cite is a test of
the suite (a renamed or deleted test breaks its claim loudly)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

CITED = re.compile(r"(tests/[\w/]+\.py)::(\w+)")
DOCUMENTS = ["docs/SECURITY.md", "README.md"]


def citations() -> list[tuple[str, str, str]]:
    found = []
    for document in DOCUMENTS:
        text = (ROOT / document).read_text()
        found += [(document, path, name) for path, name in CITED.findall(text)]
    return sorted(set(found))


def test_the_documents_cite_tests() -> None:
    assert len([c for c in citations() if c[0] == "docs/SECURITY.md"]) > 50


@pytest.mark.parametrize(("document", "path", "name"), citations())
def test_each_cited_test_exists(document: str, path: str, name: str) -> None:
    source = ROOT / path
    assert source.is_file(), f"{document} cites {path}, which does not exist"
    assert re.search(rf"^def {name}\(", source.read_text(), re.MULTILINE), (
        f"{document} cites {path}::{name}, which is not a test there"
    )
