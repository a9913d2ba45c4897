"""Settings, read once from the environment and checked: a wrong value names its variable."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class Mode(StrEnum):
    ENFORCE = "enforce"  # write the missing tags and notify
    DRY_RUN = "dry-run"  # decide and notify, write no tags


class SettingsError(Exception):
    """A missing or malformed environment variable."""


@dataclass(frozen=True)
class Settings:
    registry_table: str
    notify_topic_arn: str
    mode: Mode = Mode.ENFORCE
    cache_ttl_seconds: float = 300.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise SettingsError(f"environment variable {name} is not set")
            return value

        mode_text = env.get("MODE", Mode.ENFORCE.value).strip() or Mode.ENFORCE.value
        try:
            mode = Mode(mode_text)
        except ValueError:
            choices = ", ".join(m.value for m in Mode)
            raise SettingsError(f"MODE is {mode_text!r}; expected one of {choices}") from None
        ttl_text = env.get("CACHE_TTL_SECONDS", "300").strip() or "300"
        try:
            ttl = float(ttl_text)
        except ValueError:
            ttl = -1.0
        if ttl < 0:
            raise SettingsError(f"CACHE_TTL_SECONDS is {ttl_text!r}; expected seconds >= 0")
        return cls(
            registry_table=required("REGISTRY_TABLE"),
            notify_topic_arn=required("NOTIFY_TOPIC_ARN"),
            mode=mode,
            cache_ttl_seconds=ttl,
        )
