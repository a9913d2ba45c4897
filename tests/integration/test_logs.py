"""What the logs keep: no e-mail address at INFO (registry ids, else a pseudonym), while the
handler's answer (for the operator who ran it) still names people."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest

from app import lambda_handler
from autotag.observability import without_emails
from local.emulator import Emulator, Stack
from tests.conftest import FakeContext, load_event, seed_from_event

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
pytestmark = pytest.mark.integration


@pytest.mark.parametrize("person", ["carol", "zed"])  # in the registry, and not
def test_info_logs_carry_no_email_address(
    emulator: Emulator, stack: Stack, monkeypatch: pytest.MonkeyPatch, person: str
) -> None:
    """Finding: logs carried e-mail addresses at INFO."""
    from autotag.observability import logger  # noqa: PLC0415

    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    text = json.dumps(load_event("sso_CreateAutoMLJob")).replace("carol@", f"{person}@")
    event = json.loads(text)
    seed_from_event(emulator, event)
    summary = lambda_handler(event, FakeContext())
    lines: list[dict[str, Any]] = [json.loads(x) for x in stream.getvalue().splitlines()]
    handled = [line for line in lines if line["message"] == "resource handled"]
    assert handled, lines
    assert EMAIL.search(json.dumps(summary))  # the answer names people ...
    for line in lines:
        if line["level"] == "INFO":  # ... the logs do not
            assert not EMAIL.search(json.dumps(line)), line
    name = handled[0]["summary"]["principal"]["name"]
    if person == "carol":  # in the registry: her id stands for her address
        assert name == "carol"
    else:
        assert name.startswith("email#")


def test_an_unknown_address_becomes_the_same_pseudonym_everywhere() -> None:
    first = without_emails({"a": "zed@example.com", "b": ["role/x/ZED@example.com"]})
    assert first["a"].startswith("email#")
    assert first["b"] == [f"role/x/{first['a']}"]
    assert without_emails("mail carol@example.com", {"carol@example.com": "carol"}) == (
        "mail carol"
    )


def test_each_write_records_the_seconds_since_the_resource_was_created(
    emulator: Emulator, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """Time to tag: an EMF metric `SecondsToTag` by trigger, on every write."""
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    event = load_event("sso_CreateAutoMLJob")
    created = datetime.now(UTC) - timedelta(seconds=90)
    event["detail"]["eventTime"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    seed_from_event(emulator, event)
    capsys.readouterr()
    assert lambda_handler(event, FakeContext())["status"] == "tagged"
    lines = capsys.readouterr().out.splitlines()
    emitted = [json.loads(x) for x in lines if "SecondsToTag" in x]
    assert len(emitted) == 1
    # it wrote Project: the job ran those seconds charged to nobody
    assert sum("SecondsWithoutProject" in x for x in lines) == 1
    record = emitted[0]
    assert record["trigger"] == "create"
    value = record["SecondsToTag"]
    assert 89 <= (value[0] if isinstance(value, list) else value) <= 150
    definition = record["_aws"]["CloudWatchMetrics"][0]
    assert definition["Metrics"] == [{"Name": "SecondsToTag", "Unit": "Seconds"}]
    assert ["service", "trigger"] in definition["Dimensions"] or [
        "trigger",
        "service",
    ] in definition["Dimensions"]


def test_the_seconds_metrics_are_silent_when_metrics_are_disabled(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make demo` and `make bench` turn metrics off; so are these."""
    from autotag.observability import seconds_metric  # noqa: PLC0415

    capsys.readouterr()
    seconds_metric("SecondsToTag", 12.0, "create")
    assert "SecondsToTag" in capsys.readouterr().out
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    seconds_metric("SecondsToTag", 12.0, "create")
    assert capsys.readouterr().out == ""
