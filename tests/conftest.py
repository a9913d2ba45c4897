"""Shared fixtures: fake credentials for every test, the corpus, and the local emulator."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from autotag import registry_file
from local.emulator import FAKE_CREDENTIALS, REGION, Emulator, Stack

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
EXAMPLE_REGISTRY = ROOT / "examples" / "registry.yaml"
STUDIO_DOMAIN = "d-abc123xyz456"
# Tags on the Studio user profiles the corpus's Studio users work under.
PROFILE_TAGS = {
    "alice": {"Project": "Alpha-NLP"},
    "dave": {"Project": "Beta-Forecast", "Team": "forecasting"},
}


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def corpus_names() -> list[str]:
    return sorted(path.stem for path in EVENTS.glob("*.json"))


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can reach a real account: fake credentials, no profile, a fixed Region."""
    for name in list(os.environ):
        if name.startswith("AWS_") and name != "AWS_ENDPOINT_URL":
            monkeypatch.delenv(name)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


class ApiCalls:
    """Every AWS operation the code under test calls through boto3's default session."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def record(self, model: Any, **_: Any) -> None:
        prefix = model.service_model.signing_name
        self.seen.append(f"{prefix}:{model.name}")


@pytest.fixture(scope="session")
def api_calls() -> ApiCalls:
    calls = ApiCalls()
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-call", calls.record)
    return calls


@pytest.fixture(scope="session")
def emulator(api_calls: ApiCalls) -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def stack(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A fresh emulated account: the stack's resources, the example registry loaded, the Studio
    user profiles of the corpus, and the function's environment pointing at them."""
    import app  # noqa: PLC0415

    emulator.reset()
    deployed = emulator.provision()
    registry_file.sync_table(
        emulator.dynamodb(), deployed.registry_table, registry_file.read_file(str(EXAMPLE_REGISTRY))
    )
    emulator.studio_profiles(STUDIO_DOMAIN, PROFILE_TAGS)
    for name, value in {**emulator.environ(), **deployed.environ()}.items():
        monkeypatch.setenv(name, value)
    # The window's first notice goes out at once; tests of gathering set a delay of their own.
    monkeypatch.setenv("DIGEST_DELAY_SECONDS", "0")
    app.tagger.cache_clear()
    yield deployed
    app.tagger.cache_clear()


def FakeContext() -> Any:  # noqa: N802  (reads like the class it stands for)
    from autotag.local_context import LocalContext  # noqa: PLC0415

    return LocalContext(function_name="sagemaker-autotag-TagOnCreateFunction")


def seed_from_event(emulator: Emulator, event: dict[str, Any]) -> dict[str, str]:
    """Create the event's resource in the emulator as SageMaker would hold it right after the
    call: with the tags the request carried. Returns those tags."""
    from autotag.events import BY_NAME, request_tags  # noqa: PLC0415

    detail = event["detail"]
    spec = BY_NAME[detail["eventName"]]
    tags = request_tags(detail.get("requestParameters") or {})
    emulator.seed_resource(detail["responseElements"][spec.arn_field], tags)
    return tags
