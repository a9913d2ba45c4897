"""`autotag` commands, run in-process against the local emulator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autotag import cli, registry_file
from local.emulator import Emulator, Stack
from tests.conftest import EVENTS, EXAMPLE_REGISTRY, load_event, seed_from_event
from tests.unit.test_registry import ALLOWED, MISTAKES, POLICY

pytestmark = pytest.mark.integration


def table_items(emulator: Emulator, table: str) -> dict[str, dict[str, object]]:
    items = emulator.dynamodb().scan(TableName=table)["Items"]
    return {item["pk"]["S"]: dict(item) for item in items}


def test_help_shows_examples() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "autotag", "--help"], capture_output=True, text=True, check=True
    )
    assert "examples:" in result.stdout
    assert "autotag registry load examples/registry.yaml" in result.stdout


def test_validate_a_good_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["registry", "validate", str(EXAMPLE_REGISTRY)]) == 0
    assert "valid: 3 projects" in capsys.readouterr().out


def test_validate_a_bad_file_names_file_entry_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "registry.yaml"
    bad.write_text("people:\n  - id: x\n    email: not-an-address\n")
    assert cli.main(["registry", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip()
        == f"error: {bad}: people[0] (x).email: 'not-an-address' is not an e-mail address"
    )


def test_load_creates_the_table_and_makes_it_hold_exactly_the_file(
    emulator: Emulator, stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = "fresh-registry"
    assert cli.main(["registry", "load", str(EXAMPLE_REGISTRY), "--table", table, "--create"]) == 0
    assert "(table created)" in capsys.readouterr().out
    expected = registry_file.to_items(registry_file.read_file(str(EXAMPLE_REGISTRY)))
    assert table_items(emulator, table) == {item["pk"]["S"]: item for item in expected}

    smaller = tmp_path / "smaller.yaml"
    smaller.write_text("projects:\n  - name: Solo\n    members: [zoe]\n")
    assert cli.main(["registry", "load", str(smaller), "--table", table]) == 0
    assert set(table_items(emulator, table)) == {"config", "project#Solo", "person#zoe"}
    assert "deleted" in capsys.readouterr().out


def test_load_of_a_bad_file_writes_nothing(
    emulator: Emulator, stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = table_items(emulator, stack.registry_table)
    bad = tmp_path / "bad.yaml"
    bad.write_text("projects:\n  - name: A\n    tags: {Team: 'a, b'}\n")
    assert cli.main(["registry", "load", str(bad), "--table", stack.registry_table]) == 2
    assert "commas are not allowed" in capsys.readouterr().err
    assert table_items(emulator, stack.registry_table) == before


def test_load_into_a_missing_table_without_create_fails(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["registry", "load", str(EXAMPLE_REGISTRY), "--table", "nope"]) == 2
    assert "does not exist (use --create" in capsys.readouterr().err


def test_handle_prints_the_summary_and_tags(
    emulator: Emulator, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("ci-role_CreatePipeline")
    seed_from_event(emulator, event)
    assert cli.main(["handle", str(EVENTS / "ci-role_CreatePipeline.json"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "tagged"
    arn = summary["resourceArn"]
    tags = emulator.sagemaker().list_tags(ResourceArn=arn)["Tags"]
    assert {"Key": "Project", "Value": "Gamma-Vision"} in tags


def test_handle_dry_run_writes_nothing(
    emulator: Emulator, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("ci-role_CreatePipeline")
    seed_from_event(emulator, event)
    path = str(EVENTS / "ci-role_CreatePipeline.json")
    assert cli.main(["handle", path, "--dry-run", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "dry-run"
    assert emulator.sagemaker().list_tags(ResourceArn=summary["resourceArn"])["Tags"] == []


def test_handle_dry_run_is_silent_and_gives_the_same_answer_twice(
    emulator: Emulator, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's troubleshooting step: it shows the message it would send, and publishes,
    writes and records nothing (no creator record, no handled request, no window)."""
    event = load_event("sso_CreateAutoMLJob")
    seed_from_event(emulator, event)
    path = str(EVENTS / "sso_CreateAutoMLJob.json")
    answers = []
    for _ in range(2):
        assert cli.main(["handle", path, "--dry-run", "--json"]) == 0
        answers.append(json.loads(capsys.readouterr().out))
    assert answers[0] == answers[1]
    first = answers[0]
    assert first["status"] == "dry-run"
    assert [n["recipient"] for n in first["wouldSend"]] == ["carol@example.com"]
    assert "Would add (dry run, nothing written):" in first["wouldSend"][0]["body"]
    assert emulator.notifications(stack) == []
    assert table_items(emulator, stack.state_table) == {}
    assert emulator.sagemaker().list_tags(ResourceArn=first["resourceArn"])["Tags"] == []
    assert cli.main(["handle", path, "--dry-run"]) == 0  # the table view shows the message
    assert "Would send to carol@example.com" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read the file"), ("{not json", "not valid JSON")],
)
def test_handle_a_bad_event_file(
    tmp_path: Path,
    stack: Stack,
    content: str | None,
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "event.json"
    if content is not None:
        path.write_text(content)
    assert cli.main(["handle", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}")
    assert message in err


def test_handle_without_settings_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("REGISTRY_TABLE", raising=False)
    monkeypatch.delenv("NOTIFY_TOPIC_ARN", raising=False)
    assert cli.main(["handle", str(EVENTS / "ci-role_CreatePipeline.json")]) == 2
    assert "REGISTRY_TABLE" in capsys.readouterr().err


def test_handle_shows_a_readable_summary(
    emulator: Emulator, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_from_event(emulator, load_event("wrong-case_CreateTrainingJob"))
    assert cli.main(["handle", str(EVENTS / "wrong-case_CreateTrainingJob.json")]) == 0
    out = capsys.readouterr().out
    assert "tagged" in out
    assert "Gamma-Vision" in out
    assert "resource tag 'project'" in out
    assert "notified: bob@example.com" in out
    assert "the key is 'Project'" in out


def test_show_prints_what_the_table_holds(
    stack: Stack, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert cli.main(["registry", "show", "--table", stack.registry_table]) == 0
    out = capsys.readouterr().out
    for expected in ("Alpha-NLP", "CC-3003", "github-mlops-deploy", "alice.smith", "Staging"):
        assert expected in out


def test_show_an_empty_table_says_so(
    emulator: Emulator, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    registry_file.create_table(emulator.dynamodb(), "empty")
    assert cli.main(["registry", "show", "--table", "empty"]) == 2
    assert "no registry is loaded" in capsys.readouterr().err


def test_subscribe_every_person_once_with_a_filter(
    emulator: Emulator, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["subscribe", "--table", stack.registry_table, "--topic", stack.topic_arn]
    assert cli.main(args) == 0
    sns = emulator.sns()

    def email_subscriptions() -> dict[str, str]:
        found = {}
        for sub in sns.list_subscriptions_by_topic(TopicArn=stack.topic_arn)["Subscriptions"]:
            if sub["Protocol"] == "email":
                attributes = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])
                found[sub["Endpoint"]] = attributes["Attributes"]["FilterPolicy"]
        return found

    first = email_subscriptions()
    people = {"alice", "bob", "carol", "dave", "erin", "grace", "mlops"}
    assert set(first) == {f"{name}@example.com" for name in people}
    assert all(
        json.loads(policy) == {"recipient": [{"equals-ignore-case": email}]}
        for email, policy in first.items()
    )
    assert "7 new subscriptions" in capsys.readouterr().out

    assert cli.main(args) == 0  # a second run changes nothing
    assert email_subscriptions() == first
    assert "0 new subscriptions, 7 already subscribed" in capsys.readouterr().out


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_load_writes_nothing_for_each_kind_of_mistake(
    case: str,
    emulator: Emulator,
    stack: Stack,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    text, expected = MISTAKES[case]
    if case not in {"bad YAML", "empty file"}:
        text = POLICY + ALLOWED + text
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    before = table_items(emulator, stack.registry_table)
    assert cli.main(["registry", "load", str(path), "--table", stack.registry_table]) == 2
    err = capsys.readouterr().err
    assert expected in err
    assert all(line.startswith(f"error: {path}: ") for line in err.splitlines())
    assert table_items(emulator, stack.registry_table) == before


def test_redrive_replays_both_queues_and_deletes_only_what_succeeded(
    emulator: Emulator, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = emulator.sqs()
    undelivered = load_event("ci-role_CreateModel")  # the rule's dead-letter queue: the event
    failed = load_event("sso_CreateAutoMLJob")  # Lambda's on-failure record wraps it
    for event in (undelivered, failed):
        seed_from_event(emulator, event)
    sqs.send_message(QueueUrl=stack.dead_letter_url, MessageBody=json.dumps(undelivered))
    record = {"requestContext": {"condition": "RetriesExhausted"}, "requestPayload": failed}
    sqs.send_message(QueueUrl=stack.failed_events_url, MessageBody=json.dumps(record))
    sqs.send_message(QueueUrl=stack.failed_events_url, MessageBody="not an event")

    args = ["redrive", "--queue", stack.dead_letter_url, "--queue", stack.failed_events_url]
    assert cli.main(args) == 1  # one message could not be replayed: it stays
    out = " ".join(capsys.readouterr().out.split())
    assert "dead-letter: replayed 1 (1 events: 1 tagged)" in out  # each queue says what it held
    assert "1 unreadable" in out
    for event in (undelivered, failed):
        arn = next(iter(event["detail"]["responseElements"].values()))
        tags = emulator.sagemaker().list_tags(ResourceArn=arn)["Tags"]
        assert any(tag["Key"] == "Project" for tag in tags)
    assert sqs.receive_message(QueueUrl=stack.dead_letter_url).get("Messages") is None
    left = sqs.receive_message(QueueUrl=stack.failed_events_url, VisibilityTimeout=0)
    assert [m["Body"] for m in left.get("Messages", [])] == ["not an event"]

    # a second run replays nothing twice: the eventIDs were handled once already
    sqs.send_message(QueueUrl=stack.dead_letter_url, MessageBody=json.dumps(undelivered))
    assert cli.main(["redrive", "--queue", stack.dead_letter_url]) == 0
    assert "replayed 1 (1 events: 1 duplicate)" in " ".join(capsys.readouterr().out.split())
    assert len(emulator.notifications(stack)) == 2
