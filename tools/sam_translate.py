"""Translate template.yaml from SAM to plain CloudFormation, offline, for static scanners
(checkov reads inline SAM policies only after translation). Run with the tools environment:

    .venv-tools/bin/python tools/sam_translate.py template.yaml build/template.cfn.json
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform  # type: ignore[import-not-found]
from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-not-found]

_CODE = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}


class _NoManagedPolicies:
    """The template names no managed policy by name, so nothing needs looking up in IAM."""

    def load(self) -> dict[str, str]:
        return {}


def translate(source: Path) -> dict[str, Any]:
    template: dict[str, Any] = yaml_parse(source.read_text())
    for resource in template.get("Resources", {}).values():
        field = _CODE.get(resource.get("Type"))
        if field:  # `sam package` would put the code in S3; any S3 address translates
            resource["Properties"][field] = "s3://artifacts/code.zip"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    translated: dict[str, Any] = transform(template, {}, _NoManagedPolicies())
    return translated


def main() -> int:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(translate(source), indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
