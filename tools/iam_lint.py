"""Lint the IAM policies of the translated template with parliament, offline. Run with the
scanner's environment after tools/sam_translate.py:

    .venv-scan/parliament/bin/python tools/iam_lint.py build/template.cfn.json

It lints the identity policies: AWS::IAM::ManagedPolicy, AWS::IAM::Policy and each inline policy
of an AWS::IAM::Role. Intrinsic functions become example values (account 123456789012,
us-east-1, a parameter's default, an ARN of the referenced resource's kind), so that parliament
can match resources against actions. Not linted: trust policies, the AWS managed policies SAM
attaches (not in this repository), and resource policies (the key's and the queue's: checkov
reads them). Exits 1 on a finding of LOW severity or above that ACCEPTED does not list, or on an
entry of ACCEPTED that no longer matches anything.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import parliament  # type: ignore[import-not-found]

# Findings accepted, by issue and policy, each with its reason.
ACCEPTED = {
    (
        "NO_VERSION",
        "TagOnCreateFunctionRole/TagOnCreateFunctionEventInvokeConfigOnFailureSQSPolicy",
    ): "SAM writes the on-failure destination's policy (sqs:SendMessage on the failed-events "
    "queue) without a Version; the older policy language lacks only policy variables, which "
    "the statement does not use.",
}
SEVERITIES = ["MUTE", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}
# What Ref and Fn::GetAtt Arn give, by the referenced resource's type.
ARNS = {
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:us-east-1:123456789012:table/{}",
    "AWS::SNS::Topic": "arn:aws:sns:us-east-1:123456789012:{}",
    "AWS::SQS::Queue": "arn:aws:sqs:us-east-1:123456789012:{}",
    "AWS::KMS::Key": "arn:aws:kms:us-east-1:123456789012:key/{}",
}


def _reference(template: dict[str, Any], name: str) -> Any:
    if name in PSEUDO:
        return PSEUDO[name]
    if name in template.get("Parameters", {}):
        parameter = template["Parameters"][name]
        default = str(parameter.get("Default", name))
        return default.split(",") if parameter["Type"] == "CommaDelimitedList" else default
    kind = template["Resources"][name]["Type"]
    if kind not in ARNS:
        raise ValueError(f"no example ARN for {name} ({kind})")
    return ARNS[kind].format(name)


def resolve(template: dict[str, Any], value: Any) -> Any:
    """The value with Ref, Fn::GetAtt (Arn) and Fn::Sub replaced by example values."""
    if isinstance(value, list):
        return [resolve(template, item) for item in value]
    if not isinstance(value, dict):
        return value
    if list(value) == ["Ref"]:
        return _reference(template, value["Ref"])
    if list(value) == ["Fn::GetAtt"] and value["Fn::GetAtt"][1] == "Arn":
        return _reference(template, value["Fn::GetAtt"][0])
    if list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str):
        return re.sub(
            r"\$\{([\w:]+)(?:\.Arn)?\}",
            lambda match: str(_reference(template, match[1])),
            value["Fn::Sub"],
        )
    if any(key.startswith("Fn::") for key in value):
        raise ValueError(f"cannot resolve {value}")
    return {key: resolve(template, item) for key, item in value.items()}


def policies(template: dict[str, Any]) -> dict[str, Any]:
    """Each identity policy document by name (resource, or role/policy), resolved."""
    found: dict[str, Any] = {}
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] in {"AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"}:
            found[name] = properties["PolicyDocument"]
        elif resource["Type"] == "AWS::IAM::Role":
            for policy in properties.get("Policies", []):
                found[f"{name}/{policy['PolicyName']}"] = policy["PolicyDocument"]
    return {name: resolve(template, document) for name, document in found.items()}


def main() -> int:
    template = json.loads(Path(sys.argv[1]).read_text())
    community = Path(parliament.__file__).parent / "community_auditors" / "config_override.yaml"
    parliament.override_config(community)
    found = policies(template)
    unused = set(ACCEPTED)
    failures = 0
    for name, document in found.items():
        policy = parliament.analyze_policy_string(
            json.dumps(document), name, include_community_auditors=True
        )
        for finding in map(parliament.enhance_finding, policy.findings):
            if SEVERITIES.index(finding.severity) < SEVERITIES.index("LOW"):
                continue
            line = f"{name}: {finding.severity} {finding.issue} {finding.detail} {finding.location}"
            reason = ACCEPTED.get((finding.issue, name))
            if reason:
                unused.discard((finding.issue, name))
                print(f"accepted: {line}\n  {reason}")
            else:
                failures += 1
                print(line)
    for issue, name in sorted(unused):
        failures += 1
        print(f"{name}: {issue} is accepted but no longer found: remove it from ACCEPTED")
    print(f"parliament: {len(found)} policies, {failures} findings not accepted")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
