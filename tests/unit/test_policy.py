from __future__ import annotations

import pytest

from autotag.policy import (
    Policy,
    clean_value,
    counted_tags,
    is_system_key,
    key_problem,
    value_problem,
)


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Alpha-NLP", "Alpha-NLP"),
        ("lee,sam", "lee sam"),
        ("search, ranking", "search ranking"),
        ("tab\there\nnewline", "tab here newline"),
        ("  padded  ", "padded"),
        ("Ünïcödé Team", "Ünïcödé Team"),
        ("a" * 300, "a" * 256),
        ("x" * 255 + " yz", "x" * 255),
        ("(ml) [team] {x}", "ml team x"),
        (",,,", None),
        ("", None),
        ("\x00\x01", None),
    ],
)
def test_clean_value(raw: str, cleaned: str | None) -> None:
    assert clean_value(raw) == cleaned
    if cleaned is not None:
        assert value_problem(cleaned) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("ok value_.:/=+-@", None),
        ("a,b", "','"),
        ("x" * 257, "256"),
        ("semi;colon", "';'"),
    ],
)
def test_value_problem(value: str, problem: str | None) -> None:
    found = value_problem(value)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("Project", True),
        ("ML-Phase", True),
        ("sagemaker:user-profile-arn", True),
        ("aws:cloudformation:stack-name", False),
        ("AWS:x", False),
        ("", False),
        ("k" * 129, False),
        ("bad,key", False),
    ],
)
def test_key_problem(key: str, ok: bool) -> None:
    assert (key_problem(key) is None) is ok


def test_allowed_value_matches_ignoring_case_and_returns_the_allowed_spelling() -> None:
    policy = Policy(allowed={"Environment": ("Production", "Development")})
    assert policy.allowed_value("Environment", "development") == "Development"
    assert policy.allowed_value("Environment", "Production") == "Production"
    assert policy.allowed_value("Environment", "prod") is None
    assert policy.allowed_value("Team", "anything") == "anything"


def test_system_keys_and_the_counted_tags() -> None:
    assert is_system_key("sagemaker:domain-arn")
    assert is_system_key("aws:cloudformation:stack-id")
    assert not is_system_key("Project")
    tags = {"aws:cloudformation:stack-id": "x", "sagemaker:domain-arn": "y", "Project": "p"}
    assert counted_tags(tags) == 2
