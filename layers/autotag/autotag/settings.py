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


class _Env:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str | None = None) -> str:
        value = self.env.get(name, "").strip()
        if value:
            return value
        if default is None:
            raise SettingsError(f"environment variable {name} is not set")
        return default

    def optional(self, name: str) -> str | None:
        return self.env.get(name, "").strip() or None

    def seconds(self, name: str, default: float) -> float:
        text = self.text(name, str(default))
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if value < 0:
            raise SettingsError(f"{name} is {text!r}; expected seconds >= 0")
        return value

    def count(self, name: str, default: int) -> int:
        text = self.text(name, str(default))
        if not text.isdigit():
            raise SettingsError(f"{name} is {text!r}; expected a whole number >= 0")
        return int(text)

    def names(self, name: str) -> frozenset[str]:
        return frozenset(item.strip() for item in self.env.get(name, "").split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    registry_table: str
    notify_topic_arn: str
    mode: Mode = Mode.ENFORCE
    cache_ttl_seconds: float = 300.0
    # Exactly-once effects and notification windows live here; without it (`autotag handle`
    # run by hand) every event is handled as new and every notice is sent at once.
    state_table: str | None = None
    idempotency_ttl_seconds: float = 86400.0
    # Events from other accounts or Regions are refused; empty means no restriction.
    allowed_accounts: frozenset[str] = frozenset()
    allowed_regions: frozenset[str] = frozenset()
    # A resource not found this long after its Create call was deleted; before, it is not
    # visible yet and the invocation is retried.
    visibility_grace_seconds: float = 300.0
    # Keys the function's IAM policy lets it write (template parameter ManagedTagKeys);
    # empty means any key.
    managed_keys: frozenset[str] = frozenset()
    # At most one message per (recipient, missing keys) per window; 0 sends every notice.
    notify_window_seconds: float = 86400.0
    # How long the first notice of a window waits to gather a burst into one digest.
    digest_delay_seconds: float = 120.0
    digest_queue_url: str | None = None
    # The sweep stops this long before its timeout and saves where it was.
    sweep_margin_seconds: float = 60.0
    # CloudTrail's LookupEvents allows 2 requests a second per account and Region: the pace of
    # the creator look-ups of one container.
    trail_interval_seconds: float = 0.5
    # How long a request holds the resource it is writing (read again, AddTags). The lease
    # runs out on its own; another trigger for the same resource waits for it.
    lease_seconds: float = 10.0
    # The sweep raises a resource that still lacks required tags again after this many days.
    reminder_days: float = 7.0
    # At most this many messages a UTC day to one reader, whatever the key sets (0: no cap);
    # the rest wait and go out together.
    daily_message_cap: int = 5

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        read = _Env(os.environ if env is None else env)
        mode_text = read.text("MODE", Mode.ENFORCE.value)
        try:
            mode = Mode(mode_text)
        except ValueError:
            choices = ", ".join(m.value for m in Mode)
            raise SettingsError(f"MODE is {mode_text!r}; expected one of {choices}") from None
        return cls(
            registry_table=read.text("REGISTRY_TABLE"),
            notify_topic_arn=read.text("NOTIFY_TOPIC_ARN"),
            mode=mode,
            cache_ttl_seconds=read.seconds("CACHE_TTL_SECONDS", 300),
            state_table=read.optional("STATE_TABLE"),
            idempotency_ttl_seconds=read.seconds("IDEMPOTENCY_TTL_SECONDS", 86400),
            allowed_accounts=read.names("ALLOWED_ACCOUNTS"),
            allowed_regions=read.names("ALLOWED_REGIONS"),
            visibility_grace_seconds=read.seconds("VISIBILITY_GRACE_SECONDS", 300),
            managed_keys=read.names("MANAGED_TAG_KEYS"),
            notify_window_seconds=read.seconds("NOTIFY_WINDOW_SECONDS", 86400),
            digest_delay_seconds=read.seconds("DIGEST_DELAY_SECONDS", 120),
            digest_queue_url=read.optional("DIGEST_QUEUE_URL"),
            sweep_margin_seconds=read.seconds("SWEEP_MARGIN_SECONDS", 60),
            trail_interval_seconds=read.seconds("TRAIL_INTERVAL_SECONDS", 0.5),
            lease_seconds=read.seconds("LEASE_SECONDS", 10),
            reminder_days=read.seconds("REMINDER_DAYS", 7),
            daily_message_cap=read.count("DAILY_MESSAGE_CAP", 5),
        )
