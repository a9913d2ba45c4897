"""The tag policy (which keys are required, which values are allowed) and SageMaker's tag rules."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

MAX_TAGS: Final = 50
MAX_KEY_LENGTH: Final = 128
MAX_VALUE_LENGTH: Final = 256
RESERVED_PREFIX: Final = "aws:"
SYSTEM_PREFIX: Final = "sagemaker:"
_PUNCTUATION: Final = frozenset("_.:/=+-@")

DEFAULT_REQUIRED: Final = ("Project", "CostCenter", "Team", "Owner", "Environment", "ML-Phase")
PROJECT_KEY: Final = "Project"
OWNER_KEY: Final = "Owner"
PHASE_KEY: Final = "ML-Phase"


class Membership(StrEnum):
    """What to do when a resource is charged to a project its creator does not belong to."""

    REPORT = "report"  # keep the tag, tell the project's owner who charged it
    IGNORE = "ignore"


class Drift(StrEnum):
    """What to do when someone removes a required tag (a DeleteTags call)."""

    REPAIR = "repair"  # put it back and tell the remover
    REPORT_ONLY = "report-only"  # only tell the remover


@dataclass(frozen=True)
class Policy:
    """The one definition of compliant, shared by the tagger, the state-change short-cut, the
    sweep and the audit: every required key present with a non-empty value the policy allows,
    and a `Project` the registry knows (matched ignoring case)."""

    required: tuple[str, ...] = DEFAULT_REQUIRED
    allowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    drift: Drift = Drift.REPAIR
    # The registry's project names; None when no registry says (then any name passes).
    projects: tuple[str, ...] | None = None
    # Roles whose session names an identity provider sets (SAML/OIDC): their session names
    # may name the creator. Any other role's session name is the caller's own choice.
    trusted_session_roles: frozenset[str] = frozenset()
    membership: Membership = Membership.REPORT

    def allowed_value(self, key: str, value: str) -> str | None:
        """The allowed spelling of `value` for `key` (matched ignoring case), else None."""
        if key == PROJECT_KEY and self.projects is not None:
            return self.project_name(value)
        choices = self.allowed.get(key)
        if not choices:
            return value
        if value in choices:
            return value
        folded = value.casefold()
        return next((choice for choice in choices if choice.casefold() == folded), None)

    def project_name(self, value: str) -> str | None:
        """The registry's spelling of a project named `value` (ignoring case), else None."""
        if self.projects is None:
            return value
        folded = value.casefold()
        return next((name for name in self.projects if name.casefold() == folded), None)

    def gaps(self, tags: Mapping[str, str]) -> tuple[str, ...]:
        """The required keys `tags` lacks (exact spelling), holds empty, or holds a value the
        policy does not allow (an unknown project included)."""
        return tuple(
            key
            for key in self.required
            if not is_system_key(key)
            and (not tags.get(key) or self.allowed_value(key, tags[key]) is None)
        )

    @property
    def vouched_roles(self) -> frozenset[str]:
        """`trusted_session_roles`, folded: the form `identity.who` matches role names in."""
        return frozenset(name.casefold() for name in self.trusted_session_roles)


def _valid_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNZ" or char in _PUNCTUATION


def invalid_characters(text: str) -> str:
    """The characters of `text` that SageMaker rejects in a tag, in order, each once."""
    return "".join(dict.fromkeys(char for char in text if not _valid_char(char)))


def key_problem(key: str) -> str | None:
    """Why SageMaker would reject `key` as a tag key, or None."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        return f"a tag key must be 1 to {MAX_KEY_LENGTH} characters"
    if key.casefold().startswith(RESERVED_PREFIX):
        return f"the prefix {RESERVED_PREFIX!r} is reserved by AWS"
    bad = invalid_characters(key)
    if bad:
        return f"the characters {bad!r} are not allowed in a tag key"
    return None


def value_problem(value: str) -> str | None:
    """Why SageMaker would reject `value` as a tag value, or None."""
    if len(value) > MAX_VALUE_LENGTH:
        return f"a tag value must be at most {MAX_VALUE_LENGTH} characters"
    bad = invalid_characters(value)
    if bad:
        return f"the characters {bad!r} are not allowed in a tag value"
    return None


def clean_value(value: str) -> str | None:
    """Make `value` acceptable to SageMaker, or None when nothing usable is left.

    Rejected characters (commas, control characters, brackets, ...) become spaces, runs of
    white space fold to one space, and the result is cut to 256 characters.
    """
    normalized = unicodedata.normalize("NFC", value)
    replaced = "".join(char if _valid_char(char) else " " for char in normalized)
    folded = " ".join(replaced.split())
    cut = folded[:MAX_VALUE_LENGTH].rstrip()
    return cut or None


def is_system_key(key: str) -> bool:
    folded = key.casefold()
    return folded.startswith((RESERVED_PREFIX, SYSTEM_PREFIX))


def counted_tags(tags: Mapping[str, str]) -> int:
    """Tags that count against the 50-tag limit (everything but the `aws:` ones)."""
    return sum(1 for key in tags if not key.casefold().startswith(RESERVED_PREFIX))
