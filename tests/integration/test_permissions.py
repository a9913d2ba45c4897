"""The function calls exactly the AWS operations its IAM policy allows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import app
from app import lambda_handler
from autotag.tagger import ResourceNotVisibleError
from local import template
from local.emulator import Emulator, Stack
from tests.conftest import ApiCalls, FakeContext, corpus_names, load_event, seed_from_event
from tests.template.test_template import DECLARED, actions_of, statements

pytestmark = pytest.mark.integration


def test_the_corpus_calls_exactly_the_permitted_operations(
    emulator: Emulator, stack: Stack, api_calls: ApiCalls
) -> None:
    api_calls.seen.clear()
    for name in corpus_names():
        event = load_event(name)
        if template.rule_matches(event):
            seed_from_event(emulator, event)
        lambda_handler(event, FakeContext())
    lambda_handler(load_event("sso_CreateAutoMLJob"), FakeContext())  # a repeated delivery
    failing = load_event("sso_CreateAutoMLJob")
    failing["detail"]["eventID"] = "fails-once"
    failing["detail"]["eventTime"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    failing["detail"]["responseElements"]["autoMLJobArn"] += "-never-created"
    app.tagger().sleep = lambda _: None
    with pytest.raises(ResourceNotVisibleError):  # releases its idempotency record
        lambda_handler(failing, FakeContext())
    called = set(api_calls.seen)
    allowed = {action for statement in statements() for action in actions_of(statement)}
    assert called == allowed == DECLARED
