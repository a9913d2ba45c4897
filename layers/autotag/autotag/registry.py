"""The project registry as the Lambda reads it: one DynamoDB item per project, per person name
(id, e-mail, alias) and for the policy, so anyone is found with a single GetItem, cached in the
warm container. Writing the table from the YAML file is `registry_file`'s business (the CLI's).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from autotag.cache import TtlCache
from autotag.policy import DEFAULT_REQUIRED, Drift, Membership, Policy

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEY_ATTRIBUTE: Final = "pk"
CONFIG_KEY: Final = "config"
PROJECT_PREFIX: Final = "project#"
PERSON_PREFIX: Final = "person#"


DEFAULT_FORECAST_ALERTS: Final = (80.0,)  # percent of the monthly amount, forecast
DEFAULT_ACTUAL_ALERTS: Final = (100.0,)  # percent of the monthly amount, spent


@dataclass(frozen=True)
class Budget:
    """A project's monthly budget: its amount (USD) and the percentages that alert its owner."""

    monthly: float
    forecast: tuple[float, ...] = DEFAULT_FORECAST_ALERTS
    actual: tuple[float, ...] = DEFAULT_ACTUAL_ALERTS


@dataclass(frozen=True)
class ProjectEntry:
    name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str | None = None
    members: tuple[str, ...] = ()
    budget: Budget | None = None


@dataclass(frozen=True)
class PersonEntry:
    """A person, or a role standing for a team (a CI pipeline), as the Lambda sees them."""

    id: str
    email: str | None = None
    project: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """Every name this person is found under, folded, without repeats."""
        names = (self.id, *((self.email,) if self.email else ()), *self.aliases)
        return tuple(dict.fromkeys(name.casefold() for name in names))


@dataclass(frozen=True)
class Config:
    policy: Policy = field(default_factory=lambda: Policy(projects=()))  # no registry loaded
    defaults: Mapping[str, str] = field(default_factory=dict)


def _get_s(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return value if isinstance(value, str) else None


def _get_strings(item: Mapping[str, Any], name: str) -> tuple[str, ...]:
    return tuple(v["S"] for v in item.get(name, {}).get("L", []) if "S" in v)


def _get_tags(item: Mapping[str, Any], name: str) -> dict[str, str]:
    return {k: v["S"] for k, v in item.get(name, {}).get("M", {}).items() if "S" in v}


def config_from_item(item: Mapping[str, Any] | None) -> Config:
    if item is None:
        return Config()
    allowed = {
        key: tuple(v["S"] for v in value.get("L", []))
        for key, value in item.get("allowed", {}).get("M", {}).items()
    }
    required = _get_strings(item, "required") or DEFAULT_REQUIRED
    drift = Drift.REPORT_ONLY if _get_s(item, "drift") == Drift.REPORT_ONLY else Drift.REPAIR
    membership = (
        Membership.IGNORE if _get_s(item, "membership") == Membership.IGNORE else Membership.REPORT
    )
    policy = Policy(
        required,
        allowed,
        drift,
        # A config written before the names were kept knows none: load the registry again.
        projects=_get_strings(item, "projects"),
        trusted_session_roles=frozenset(_get_strings(item, "trusted_session_roles")),
        membership=membership,
    )
    return Config(policy, _get_tags(item, "defaults"))


def project_from_item(item: Mapping[str, Any]) -> ProjectEntry:
    return ProjectEntry(
        name=_get_s(item, "name") or "",
        tags=_get_tags(item, "tags"),
        owner=_get_s(item, "owner"),
        members=_get_strings(item, "members"),
        budget=_get_budget(item),
    )


def _get_budget(item: Mapping[str, Any]) -> Budget | None:
    raw = item.get("budget", {}).get("M")
    if not isinstance(raw, Mapping) or "monthly" not in raw:
        return None

    def numbers(name: str) -> tuple[float, ...]:
        return tuple(float(n["N"]) for n in raw.get(name, {}).get("L", []))

    return Budget(float(raw["monthly"]["N"]), numbers("forecast"), numbers("actual"))


def person_from_item(item: Mapping[str, Any]) -> PersonEntry:
    return PersonEntry(
        id=_get_s(item, "id") or "",
        email=_get_s(item, "email"),
        project=_get_s(item, "project"),
        tags=_get_tags(item, "tags"),
        aliases=_get_strings(item, "aliases"),
    )


class RegistryReader:
    """Single-item reads of the registry table, cached in the warm container for `ttl` seconds."""

    permissions: Final = ("dynamodb:GetItem",)

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table = table
        self._cache: TtlCache[str, dict[str, Any] | None] = TtlCache(ttl, clock)

    def _get(self, key: str) -> dict[str, Any] | None:
        def fetch() -> dict[str, Any] | None:
            response = self._client.get_item(
                TableName=self._table, Key={KEY_ATTRIBUTE: {"S": key}}, ConsistentRead=False
            )
            return dict(response["Item"]) if "Item" in response else None

        return self._cache.get(key, fetch)

    def config(self) -> Config:
        return config_from_item(self._get(CONFIG_KEY))

    def person(self, keys: Iterable[str]) -> tuple[PersonEntry, str] | None:
        """The first entry found under `keys`, and the key that found it."""
        for key in keys:
            item = self._get(PERSON_PREFIX + key.casefold())
            if item is not None:
                return person_from_item(item), key
        return None

    def project(self, name: str) -> ProjectEntry | None:
        """The project named `name` (ignoring case: the registry's spelling is looked up)."""
        canonical = self.config().policy.project_name(name)
        if canonical is None:
            return None
        item = self._get(PROJECT_PREFIX + canonical)
        return project_from_item(item) if item is not None else None
