from __future__ import annotations

import pytest

from autotag.settings import Mode, Settings, SettingsError

BASE = {"REGISTRY_TABLE": "reg", "NOTIFY_TOPIC_ARN": "arn:aws:sns:us-east-1:1:t"}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.mode is Mode.ENFORCE
    assert settings.cache_ttl_seconds == 300
    assert settings.daily_message_cap == 5


def test_dry_run() -> None:
    assert Settings.from_env({**BASE, "MODE": "dry-run"}).mode is Mode.DRY_RUN


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"NOTIFY_TOPIC_ARN": "t"}, "REGISTRY_TABLE"),
        ({"REGISTRY_TABLE": "r"}, "NOTIFY_TOPIC_ARN"),
        ({**BASE, "REGISTRY_TABLE": "  "}, "REGISTRY_TABLE"),
        ({**BASE, "MODE": "enforcing"}, "MODE"),
        ({**BASE, "CACHE_TTL_SECONDS": "soon"}, "CACHE_TTL_SECONDS"),
        ({**BASE, "CACHE_TTL_SECONDS": "-1"}, "CACHE_TTL_SECONDS"),
        ({**BASE, "DAILY_MESSAGE_CAP": "five"}, "DAILY_MESSAGE_CAP"),
        ({**BASE, "DAILY_MESSAGE_CAP": "2.5"}, "DAILY_MESSAGE_CAP"),
    ],
)
def test_a_bad_setting_names_its_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)
