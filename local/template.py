"""Read `template.yaml` as data (CloudFormation's short-form tags included), so that tests and the
local tools use the rule pattern and settings the stack really deploys."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Final, cast

import yaml
from moto.events.models import EventPattern

TEMPLATE: Final = Path(__file__).resolve().parent.parent / "template.yaml"
# The pseudo parameters as the emulator's stack has them (moto's default account).
PSEUDO: Final = {
    "AWS::AccountId": "123456789012",
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
}
FUNCTION: Final = "TagOnCreateFunction"
RULE_EVENT: Final = "CloudTrailCreate"


class _CfnLoader(yaml.SafeLoader):
    """A SafeLoader that reads `!Ref x` as {"Ref": x} and `!Sub s` as {"Fn::Sub": s}."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506
    return document


def resources() -> dict[str, Any]:
    found: dict[str, Any] = load()["Resources"]
    return found


def function_properties() -> dict[str, Any]:
    properties: dict[str, Any] = resources()[FUNCTION]["Properties"]
    return properties


def environment(function: str = FUNCTION) -> dict[str, Any]:
    """A function's environment variables: the Globals' and its own."""
    shared = load().get("Globals", {}).get("Function", {}).get("Environment", {})
    own = resources()[function]["Properties"].get("Environment", {})
    return {**shared.get("Variables", {}), **own.get("Variables", {})}


def policy_statements(function: str = FUNCTION) -> list[dict[str, Any]]:
    """A function's statements: inline ones and those of the stack's managed policies."""
    statements: list[dict[str, Any]] = []
    for policy in resources()[function]["Properties"].get("Policies", []):
        if isinstance(policy, dict) and "Ref" in policy:
            policy = resources()[policy["Ref"]]["Properties"]["PolicyDocument"]  # noqa: PLW2901
        statements += policy["Statement"]
    return statements


def rule_pattern() -> dict[str, Any]:
    pattern: dict[str, Any] = function_properties()["Events"][RULE_EVENT]["Properties"]["Pattern"]
    return pattern


def pseudo(value: Any) -> Any:
    """`value` with each `!Ref AWS::...` replaced by the emulator's value (PSEUDO)."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in PSEUDO:
            return PSEUDO[value["Ref"]]
        return {k: pseudo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pseudo(v) for v in value]
    return value


def rule_patterns(function: str = FUNCTION) -> dict[str, dict[str, Any]]:
    """Every EventBridge rule pattern that invokes the function, by event name, as deployed in
    the emulator's account."""
    found = resources()[function]["Properties"].get("Events", {})
    return {
        name: pseudo(event["Properties"]["Pattern"])
        for name, event in found.items()
        if event["Type"] == "EventBridgeRule"
    }


@cache
def _compiled_patterns() -> tuple[EventPattern, ...]:
    return tuple(EventPattern.load(json.dumps(p)) for p in rule_patterns().values())


def rule_matches(event: dict[str, Any]) -> bool:
    """Whether one of the stack's EventBridge rules would deliver `event` to the function."""
    return any(p.matches_event(cast("Any", event)) for p in _compiled_patterns())
