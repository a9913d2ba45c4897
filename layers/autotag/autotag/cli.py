"""`autotag`: the operator's command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from autotag import aws, registry
from autotag.settings import Mode, Settings, SettingsError

EXAMPLES = """\
examples:
  autotag registry validate examples/registry.yaml
  autotag registry load examples/registry.yaml --table autotag-registry --create
  REGISTRY_TABLE=autotag-registry NOTIFY_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:autotag \\
    autotag handle events/sso_CreateAutoMLJob.json --dry-run

Every command honours AWS_ENDPOINT_URL (e.g. http://127.0.0.1:5000 for the local emulator).
"""


class CommandError(Exception):
    """A mistake in what the operator asked for; printed as one line, exit status 2."""


def _registry(path: str) -> registry.Registry:
    return registry.read_file(path)


def cmd_validate(args: argparse.Namespace) -> int:
    reg = _registry(args.file)
    people = len({person.id for person in reg.people})
    print(f"{args.file}: valid: {len(reg.projects)} projects, {people} people")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    reg = _registry(args.file)
    result = registry.sync_table(aws.dynamodb(), args.table, reg, create=args.create)
    created = " (table created)" if result.created else ""
    print(
        f"{args.table}{created}: wrote {result.written} items from {args.file}, "
        f"deleted {result.deleted} stale items"
    )
    return 0


def _read_event(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise CommandError(f"{path}: cannot read the file: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise CommandError(f"{path}: line {error.lineno}: not valid JSON: {error.msg}") from None


def cmd_handle(args: argparse.Namespace) -> int:
    from autotag.tagger import Tagger  # noqa: PLC0415  (keeps `registry` commands light)

    event = _read_event(args.event)
    env = dict(os.environ)
    if args.table:
        env["REGISTRY_TABLE"] = args.table
    if args.topic:
        env["NOTIFY_TOPIC_ARN"] = args.topic
    settings = Settings.from_env(env)
    if args.dry_run:
        settings = replace(settings, mode=Mode.DRY_RUN)
    counts: Counter[str] = Counter()

    def count(name: str, value: int = 1) -> None:
        counts[name] += value

    summary = Tagger.from_settings(settings, count).handle(event)
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="autotag",
        description="Cost-allocation tags for SageMaker resources: operator commands.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", required=True)

    reg = commands.add_parser("registry", help="check and load the project registry")
    reg_commands = reg.add_subparsers(dest="registry_command", required=True)
    validate = reg_commands.add_parser("validate", help="check a registry file, write nothing")
    validate.add_argument("file")
    validate.set_defaults(run=cmd_validate)
    load = reg_commands.add_parser(
        "load", help="validate a registry file, then make the table hold exactly its contents"
    )
    load.add_argument("file")
    load.add_argument("--table", required=True, help="the registry DynamoDB table")
    load.add_argument("--create", action="store_true", help="create the table if it is missing")
    load.set_defaults(run=cmd_load)

    handle = commands.add_parser(
        "handle", help="run the Lambda's logic on a saved EventBridge event and print the summary"
    )
    handle.add_argument("event", help="an EventBridge event (JSON file)")
    handle.add_argument("--dry-run", action="store_true", help="decide and notify, write no tags")
    handle.add_argument("--table", help="registry table (default: $REGISTRY_TABLE)")
    handle.add_argument("--topic", help="notification topic ARN (default: $NOTIFY_TOPIC_ARN)")
    handle.set_defaults(run=cmd_handle)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except registry.RegistryError as error:
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
    except (CommandError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
    except (ClientError, BotoCoreError) as error:
        print(f"error: AWS: {error}", file=sys.stderr)
    return 2
