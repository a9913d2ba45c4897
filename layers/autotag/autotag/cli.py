"""`autotag`: the operator's command line."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from autotag import aws, registry_file
from autotag.local_context import LocalContext
from autotag.settings import Mode, Settings, SettingsError

EXAMPLES = """\
examples:
  autotag registry validate examples/registry.yaml
  autotag registry load examples/registry.yaml --table autotag-registry --create
  autotag registry show --table autotag-registry
  autotag subscribe --table autotag-registry --topic arn:aws:sns:us-east-1:123456789012:autotag
  autotag redrive --queue <DeadLetterQueueUrl> --queue <FailedEventsQueueUrl>
  autotag audit --table autotag-registry --min-coverage 95
  autotag audit --format csv > compliance.csv
  autotag audit --fix --dry-run
  autotag costs --last-month --by phase
  autotag activate --table autotag-registry
  autotag budgets sync --table autotag-registry --dry-run
  autotag costs --month 2026-11 --project Alpha-NLP --by service --format json
  REGISTRY_TABLE=autotag-registry NOTIFY_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:autotag \\
    autotag handle events/sso_CreateAutoMLJob.json --dry-run

Every command honours AWS_ENDPOINT_URL (e.g. http://127.0.0.1:5000 for the local emulator,
started with `python -m local.emulator`).
"""


def console() -> Console:
    """Plain output: no markup or highlighting in names and values from the registry."""
    return Console(markup=False, highlight=False)


class CommandError(Exception):
    """A mistake in what the operator asked for; printed as one line, exit status 2."""


def cmd_validate(args: argparse.Namespace) -> int:
    reg = registry_file.read_file(args.file)
    console().print(f"{args.file}: valid: {len(reg.projects)} projects, {len(reg.people)} people")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    reg = registry_file.read_file(args.file)
    result = registry_file.sync_table(aws.dynamodb(), args.table, reg, create=args.create)
    created = " (table created)" if result.created else ""
    console().print(
        f"{args.table}{created}: wrote {result.written} items from {args.file}, "
        f"deleted {result.deleted} stale items"
    )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from autotag.views import registry_tables  # noqa: PLC0415

    for table in registry_tables(registry_file.read_table(aws.dynamodb(), args.table)):
        console().print(table)
    return 0


def _filter_policy_quota(args: argparse.Namespace) -> tuple[int, str]:
    """The topic's filter-policy quota and where it comes from: --quota, else what Service
    Quotas says applies (if the operator may read it), else SNS's default."""
    from autotag import subscriptions  # noqa: PLC0415

    if args.quota is not None:
        return args.quota, "--quota"
    import boto3  # noqa: PLC0415

    client = boto3.client("service-quotas", config=aws.CLIENT_CONFIG)
    applied, why_not = subscriptions.applied_quota(client)
    if applied is not None:
        return applied, "Service Quotas"
    return subscriptions.DEFAULT_QUOTA, f"SNS default; Service Quotas: {why_not}"


def cmd_subscribe(args: argparse.Namespace) -> int:
    from rich.table import Table  # noqa: PLC0415

    from autotag.subscriptions import list_command, recipients, subscribe  # noqa: PLC0415

    reg = registry_file.read_table(aws.dynamodb(), args.table)
    quota, source = _filter_policy_quota(args)
    result = subscribe(aws.sns(), args.topic, recipients(reg), quota=quota)
    out = console()
    for email in result.created:
        out.print(f"subscribed {email} (filter: recipient = {email})")
    out.print(
        f"{len(result.created)} new subscriptions, {len(result.kept)} already subscribed; "
        "each address must confirm the e-mail AWS sends it"
    )
    at_most = "at most " if result.estimated else ""
    counts = Table(title="filter policies on the topic", title_justify="left")
    counts.add_column("")
    counts.add_column("count", justify="right")
    counts.add_row("before this run", f"{at_most}{result.before}")
    counts.add_row("needed by this run", f"{at_most}{result.wanted}")
    counts.add_row("after this run", f"{at_most}{result.after}")
    counts.add_row(f"quota ({source})", str(result.quota))
    counts.add_row("not subscribed", str(len(result.blocked)))
    out.print(counts)
    if result.near or result.exceeded:
        share = result.wanted * 100 // result.quota
        print(
            f"warning: this topic needs {result.wanted} filter policies, {share}% of its quota "
            f"of {result.quota} (SNS: Filter policies per topic). Ask for more with:",
            file=sys.stderr,
        )
        print(f"  {result.increase_command()}", file=sys.stderr)
        print(f"  (the quota's code and applied value: {list_command()})", file=sys.stderr)
    if result.refused:
        print(f"error: SNS refused a filter policy: {result.refused}", file=sys.stderr)
    if result.blocked:
        print(
            f"error: {len(result.blocked)} addresses not subscribed, so that no subscription "
            f"lacks its filter policy; the first: {', '.join(result.blocked[:5])}. They receive "
            "no notices until the quota is raised and `autotag subscribe` runs again.",
            file=sys.stderr,
        )
        return 1
    return 0


def _read_event(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise CommandError(f"{path}: cannot read the file: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise CommandError(f"{path}: line {error.lineno}: not valid JSON: {error.msg}") from None


def _no_metrics(name: str, value: int = 1) -> None:
    """Metrics are the Lambda's business; the CLI prints the summary instead."""
    del name, value


def cmd_handle(args: argparse.Namespace) -> int:
    from autotag.outbox import Held  # noqa: PLC0415
    from autotag.tagger import Tagger  # noqa: PLC0415  (the others stay light)
    from autotag.views import summary_view  # noqa: PLC0415

    event = _read_event(args.event)
    env = dict(os.environ)
    if args.table:
        env["REGISTRY_TABLE"] = args.table
    if args.topic:
        env["NOTIFY_TOPIC_ARN"] = args.topic
    settings = Settings.from_env(env)
    held = Held()
    if args.dry_run:  # decide and show: write, record and tell nothing
        tagger = Tagger.from_settings(replace(settings, mode=Mode.DRY_RUN), _no_metrics, held=held)
    else:
        tagger = Tagger.from_settings(settings, _no_metrics)
    summary = tagger.handle(event, LocalContext())
    if args.dry_run:
        summary["wouldSend"] = [notice.to_json() for notice in held.held]
    if args.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        console().print(summary_view(summary))
        for notice in held.held:
            console().print(
                f"\n[bold]Would send to {notice.recipient}[/bold]: {notice.subject}\n",
                markup=True,
            )
            console().print(notice.body, markup=False, highlight=False)
    return 0


def cmd_redrive(args: argparse.Namespace) -> int:
    from autotag.outbox import Outbox  # noqa: PLC0415
    from autotag.redrive import redrive  # noqa: PLC0415
    from autotag.tagger import Tagger  # noqa: PLC0415

    settings = Settings.from_env()
    tagger = Tagger.from_settings(settings, _no_metrics)
    windows = tagger.applier.notices
    flush = windows.flush if isinstance(windows, Outbox) else None
    sqs = aws.sqs()
    kept = 0
    for queue in args.queue:
        result = redrive(
            sqs, queue, lambda event: tagger.handle(event, LocalContext()), flush=flush
        )
        statuses = ", ".join(f"{n} {status}" for status, n in sorted(result.statuses.items()))
        kinds = ", ".join(f"{n} {kind}s" for kind, n in sorted(result.kinds.items()))
        console().print(
            f"{queue}: replayed {result.replayed} ({kinds or 'nothing'}: {statuses or 'none'}), "
            f"kept {len(result.failed)} that failed again, {result.unreadable} unreadable"
        )
        for failure in result.failed:
            console().print(f"  kept {failure}")
        kept += len(result.failed) + result.unreadable
    return 1 if kept else 0


def _progress() -> Any:
    """A progress bar on standard error, so that JSON and CSV on standard output stay clean."""
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
    )

    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _walk(inventory: Any, progress: Any) -> list[Any]:
    found: list[Any] = []
    task = progress.add_task("reading the account", total=None)
    for page in inventory.pages():
        found += page.found
        if page.error:
            print(f"warning: not audited: {page.error}", file=sys.stderr)
        progress.update(task, completed=len(found))
    progress.remove_task(task)
    return found


def _fix_one(tagger: Any, subject: Any) -> dict[str, Any]:
    """One resource through the tagger; a failure is reported with the rest, not raised."""
    from autotag.tagger import RESOURCE_FAILURES  # noqa: PLC0415

    try:
        summary: dict[str, Any] = tagger.process(subject, LocalContext())
    except RESOURCE_FAILURES as error:
        return {"status": "failed", "resourceArn": subject.resource.arn, "reason": str(error)}
    return summary


def cmd_audit(args: argparse.Namespace) -> int:
    from autotag import audit, sweep  # noqa: PLC0415
    from autotag.inventory import Inventory  # noqa: PLC0415
    from autotag.outbox import Held  # noqa: PLC0415
    from autotag.registry import RegistryReader  # noqa: PLC0415
    from autotag.sagemaker import ResourceTags  # noqa: PLC0415
    from autotag.tagger import Tagger  # noqa: PLC0415

    if args.dry_run and not args.fix:
        raise CommandError("--dry-run goes with --fix: the audit alone writes nothing")
    env = dict(os.environ)
    if args.table:
        env["REGISTRY_TABLE"] = args.table
    table = env.get("REGISTRY_TABLE", "").strip()
    if not table:
        raise CommandError("name the registry table: --table NAME or REGISTRY_TABLE")
    sagemaker = aws.sagemaker()
    inventory = Inventory(sagemaker, ResourceTags(sagemaker))
    policy = RegistryReader(aws.dynamodb(), table).config().policy
    fixes: list[dict[str, Any]] = []
    with _progress() as progress:
        report = audit.audit(_walk(inventory, progress), policy)
        if args.fix:
            settings = Settings.from_env(env)
            if args.dry_run:  # the tagger reads the state table (creator records), writes none
                settings = replace(settings, mode=Mode.DRY_RUN)
            # a dry run shows, does not tell
            tagger = Tagger.from_settings(
                settings, _no_metrics, held=Held() if args.dry_run else None
            )
            todo = [r.found for r in report.resources if r.gaps]
            task = progress.add_task("filling missing tags", total=len(todo))
            for item in todo:
                fixes.append(_fix_one(tagger, sweep.subject(item)))
                progress.advance(task)
            progress.remove_task(task)
            if not args.dry_run:
                report = audit.audit(_walk(inventory, progress), policy)
    _print_audit(args, report, fixes)
    if args.min_coverage is not None and report.overall.coverage < args.min_coverage:
        print(
            f"coverage {report.overall.coverage:.1f} % is below --min-coverage "
            f"{args.min_coverage:g} %",
            file=sys.stderr,
        )
        return 1
    return 0


def _time_to_tag(report: Any) -> Any:
    """The time-to-tag metrics of the last TIMING_DAYS (CloudWatch), and the hours of the
    resources still without Project; None when CloudWatch cannot be read from here."""
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    import boto3  # noqa: PLC0415

    from autotag import audit  # noqa: PLC0415
    from autotag.events import Trigger  # noqa: PLC0415
    from autotag.observability import NAMESPACE, SERVICE  # noqa: PLC0415

    now = datetime.now(UTC)
    client = boto3.client("cloudwatch", config=aws.CLIENT_CONFIG)
    period = audit.TIMING_DAYS * 86400
    # One period, this minute's points included: a single datapoint, so percentiles need no
    # merging across datapoints (which they cannot be).
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)

    def ask(metric: str, trigger: str, **statistics: list[str]) -> list[Any]:
        points: list[Any] = client.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName=metric,
            Dimensions=[
                {"Name": "service", "Value": SERVICE},
                {"Name": "trigger", "Value": trigger},
            ],
            StartTime=end - timedelta(seconds=period),
            EndTime=end,
            Period=period,
            **statistics,
        )["Datapoints"]
        return points

    def read(metric: str, trigger: str) -> dict[str, float]:
        points = ask(metric, trigger, Statistics=["SampleCount", "Average", "Maximum", "Sum"])
        count = sum(float(p.get("SampleCount", 0)) for p in points)
        total = sum(float(p.get("Sum", 0)) for p in points)
        return {
            "SampleCount": count,
            "Sum": total,
            "Average": total / count if count else 0.0,
            "Maximum": max((float(p.get("Maximum", 0)) for p in points), default=0.0),
        }

    by_trigger: dict[str, dict[str, float]] = {}
    until_tagged = 0.0
    try:
        for trigger in (t.value for t in Trigger):
            seen = read("SecondsToTag", trigger)
            if seen.get("SampleCount"):
                by_trigger[trigger] = {
                    "count": seen["SampleCount"],
                    "average_seconds": round(seen.get("Average", 0.0), 1),
                    "max_seconds": round(seen.get("Maximum", 0.0), 1),
                }
                # the distribution: CloudWatch's percentiles (Statistics and
                # ExtendedStatistics cannot share one request)
                for point in ask(
                    "SecondsToTag", trigger, ExtendedStatistics=list(audit.PERCENTILES)
                ):
                    for name, value in point.get("ExtendedStatistics", {}).items():
                        by_trigger[trigger][f"{name}_seconds"] = round(float(value), 1)
            until_tagged += read("SecondsWithoutProject", trigger).get("Sum", 0.0) / 3600
    except (ClientError, BotoCoreError):
        return None
    return audit.TimeToTag(by_trigger, until_tagged, audit.untagged_hours(report, now))


def _print_audit(args: argparse.Namespace, report: Any, fixes: list[dict[str, Any]]) -> None:
    from autotag import audit  # noqa: PLC0415
    from autotag.views import audit_view, fixes_view  # noqa: PLC0415

    if args.format == "csv":  # compliance only: no Billing or CloudWatch call for it
        csv.writer(sys.stdout, lineterminator="\n").writerows(audit.csv_rows(report, args.top))
        return
    activation = _activation(list(report.required))
    timing = _time_to_tag(report)
    if args.format == "json":
        document = report.as_dict(args.top)
        if args.fix:
            document["fixes"] = fixes
        document["costAllocationTags"] = activation
        document["timeToTag"] = timing.as_dict() if timing else None
        print(json.dumps(document, indent=2, ensure_ascii=False, default=str))
    else:
        out = console()
        if args.fix:
            out.print(fixes_view(fixes, dry_run=args.dry_run))
        out.print(audit_view(report, args.top))
        out.print("cost allocation tags (Billing): " + "; ".join(activation["lines"]))
        out.print(timing.line() if timing else "time to tag: CloudWatch could not be read")


def _activation(keys: list[str]) -> dict[str, Any]:
    """The policy keys' activation for cost allocation, as the audit shows it (a look only;
    `autotag activate` changes it). Unknown when Billing cannot be read from here."""
    from autotag import costs  # noqa: PLC0415

    try:
        found = costs.activate(aws.cost_explorer(), keys, dry_run=True)
    except (costs.CostsError, ClientError, BotoCoreError) as error:
        return {"known": False, "lines": [f"unknown ({error})"]}
    return {
        "known": True,
        "active": list(found.active),
        "inactive": list(found.inactive),
        "unseen": list(found.unseen),
        "lines": describe_activation(found) or ["none of the keys"],
    }


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _money_commands(commands: Any) -> None:
    """`autotag costs` and `autotag activate`: from tags to money."""
    money = commands.add_parser(
        "costs",
        help="a month of SageMaker spend by project, phase or service, and what is nobody's",
        description="Asks Cost Explorer (GetCostAndUsage) for one month: SageMaker's spend "
        "without credits and refunds (--by service: the project's spend on every service), "
        "always with the spend no Project tag claims. Answers are cached for six hours.",
    )
    when = money.add_mutually_exclusive_group()
    when.add_argument("--month", metavar="YYYY-MM", help="the month (default: last month)")
    when.add_argument("--last-month", action="store_true", help="last month (the default)")
    money.add_argument("--project", help="only this project's spend")
    money.add_argument("--by", choices=("project", "phase", "service"), default="project")
    money.add_argument(
        "--metric",
        choices=("UnblendedCost", "AmortizedCost", "NetAmortizedCost"),
        default="UnblendedCost",
    )
    money.add_argument("--format", choices=("table", "json", "csv"), default="table")
    money.add_argument("--refresh", action="store_true", help="ask Cost Explorer again")
    money.set_defaults(run=cmd_costs)

    activate = commands.add_parser(
        "activate",
        help="activate the policy's tag keys for cost allocation in Billing",
        description="Reads the status of the registry policy's required keys "
        "(ListCostAllocationTags), activates the inactive ones (20 a call), and lists the keys "
        "billing data has not shown yet (they appear up to 24 hours after first use). Run it in "
        "the management account of an AWS Organization, or a standalone account.",
    )
    _table_and_dry_run(activate, "show the status, change nothing", cmd_activate)

    preview = commands.add_parser(
        "showback",
        help="print the monthly showback's messages for a month, send nothing",
        description="What the showback function (ShowbackSchedule) would send each project "
        "owner for the month: their projects' SageMaker spend by phase, their budget used and "
        "the account's unallocated share. Reads Cost Explorer and the registry; writes and "
        "sends nothing.",
    )
    preview.add_argument("--month", metavar="YYYY-MM", help="the month (default: last month)")
    preview.add_argument("--table", help="the registry table (default: REGISTRY_TABLE)")
    preview.set_defaults(run=cmd_showback)

    plans = commands.add_parser(
        "budgets", help="AWS Budgets per project, as the registry's `budget` entries say"
    )
    plan_commands = plans.add_subparsers(dest="budgets_command", required=True, metavar="ACTION")
    sync = plan_commands.add_parser(
        "sync",
        help="make the budgets named autotag-<project> match the registry (never others)",
        description="Each project with a `budget` gets a monthly cost budget named "
        "autotag-<project>, filtered to its Project tag and to SageMaker, alerting its owner at "
        "the registry's percentages; budgets of that name whose project has none are deleted. "
        "Budgets of any other name are never touched.",
    )
    _table_and_dry_run(sync, "print the changes, make none", cmd_budgets_sync)


def _table_and_dry_run(command: Any, dry_run: str, run: Any) -> None:
    command.add_argument("--table", help="the registry table (default: $REGISTRY_TABLE)")
    command.add_argument("--dry-run", action="store_true", help=dry_run)
    command.set_defaults(run=run)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="autotag",
        description="Cost-allocation tags for SageMaker resources: operator commands.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    reg = commands.add_parser("registry", help="check, load and show the project registry")
    reg_commands = reg.add_subparsers(dest="registry_command", required=True, metavar="ACTION")
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
    show = reg_commands.add_parser("show", help="print the registry a table holds")
    show.add_argument("--table", required=True, help="the registry DynamoDB table")
    show.set_defaults(run=cmd_show)

    handle = commands.add_parser(
        "handle", help="run the Lambda's logic on a saved EventBridge event and print the summary"
    )
    handle.add_argument("event", help="an EventBridge event (JSON file)")
    handle.add_argument(
        "--dry-run",
        action="store_true",
        help="decide and show the message; write, record and tell nothing",
    )
    handle.add_argument("--json", action="store_true", help="print the summary as JSON")
    handle.add_argument("--table", help="registry table (default: $REGISTRY_TABLE)")
    handle.add_argument("--topic", help="notification topic ARN (default: $NOTIFY_TOPIC_ARN)")
    handle.set_defaults(run=cmd_handle)

    subscribe = commands.add_parser(
        "subscribe",
        help="subscribe every person's e-mail to the topic, filtered to their own messages",
    )
    subscribe.add_argument("--table", required=True, help="the registry DynamoDB table")
    subscribe.add_argument("--topic", required=True, help="the notification topic ARN")
    subscribe.add_argument(
        "--quota",
        type=_positive,
        metavar="N",
        help="the topic's quota of filter policies (default: the applied value Service Quotas "
        "shows, else SNS's default of 200); exits with status 1 when people are left out",
    )
    subscribe.set_defaults(run=cmd_subscribe)

    again = commands.add_parser(
        "redrive",
        help="replay the events waiting in the dead-letter and failed-events queues",
        description="Replays each queued event through the function's logic (each eventID "
        "is still handled once) and deletes a message only after its event was handled. Needs "
        "the function's settings: REGISTRY_TABLE, NOTIFY_TOPIC_ARN, STATE_TABLE.",
    )
    again.add_argument(
        "--queue",
        action="append",
        required=True,
        help="a queue URL (the stack's DeadLetterQueueUrl and FailedEventsQueueUrl outputs); "
        "repeat for both",
    )
    again.set_defaults(run=cmd_redrive)

    check = commands.add_parser(
        "audit",
        help="the account's tag compliance today, per kind, project and owner",
        description="Reads every supported SageMaker resource in every status (Search where "
        "SageMaker allows it, else List* and ListTags) and checks it against the registry's tag "
        "policy. --fix fills what is missing through the same path as the Lambda (and tells "
        "people, unless --dry-run). Honours AWS_ENDPOINT_URL.",
    )
    check.add_argument("--table", help="the registry table (default: $REGISTRY_TABLE)")
    check.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="output format"
    )
    check.add_argument("--top", type=int, default=5, help="how many worst offenders to show")
    check.add_argument(
        "--fix",
        action="store_true",
        help="fill the missing tags (needs NOTIFY_TOPIC_ARN; STATE_TABLE for windows)",
    )
    check.add_argument(
        "--dry-run", action="store_true", help="with --fix: show what it would write, tell nobody"
    )
    check.add_argument(
        "--min-coverage",
        type=float,
        metavar="P",
        help="exit with status 1 when fewer than P percent of the resources comply",
    )
    check.set_defaults(run=cmd_audit)

    _money_commands(commands)
    return top


def cmd_costs(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    from autotag import costs  # noqa: PLC0415

    home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    cache = costs.Cache(Path(home) / "autotag" / "costs")
    try:
        start, end = (
            costs.month(args.month) if args.month else costs.last_month(datetime.now(UTC).date())
        )
        question = costs.Question(start, end, costs.By(args.by), args.metric, args.project)
        found = costs.answer(aws.cost_explorer(), question, cache, refresh=args.refresh)
    except costs.CostsError as error:
        raise CommandError(str(error)) from error
    if args.format == "json":
        print(json.dumps(found.to_json(), indent=2))
        return 0
    columns = {"project": "project", "phase": "phase", "service": "service"}[args.by]
    if args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow([columns, "amount", "currency", "source"])
        for row in found.rows:
            writer.writerow([getattr(row, columns) or "", row.amount, found.currency, row.source])
        return 0
    from rich.table import Table  # noqa: PLC0415

    scope = "every service" if question.by is costs.By.SERVICE else costs.SAGEMAKER
    title = f"{scope}, {start:%Y-%m} ({question.metric})"
    if question.project:
        title += f", project {question.project}"
    table = Table()
    for name in (columns, "amount", "source"):
        table.add_column(name, justify="right" if name == "amount" else "left")
    for row in found.rows:
        label = getattr(row, columns) or "(no Project tag)"
        table.add_row(label, f"{row.amount:,.2f} {found.currency}", row.source)
    out = console()
    out.print(title)  # a line of its own: a table's title wraps at the table's width
    out.print(table)
    out.print(f"total: {found.total:,.2f} {found.currency}")
    out.print(
        f"unallocated (no Project tag): {found.unallocated:,.2f} {found.currency}, "
        f"{found.unallocated_share:.1%} of SageMaker; allocated: {found.allocated_share:.1%}"
    )
    if found.account_total > 0 and found.unallocated >= found.account_total:
        out.print(
            "every dollar reads as unallocated: if resources carry Project, the key may not be "
            "active for cost allocation (`autotag activate --dry-run` shows it)"
        )
    fetched = datetime.fromtimestamp(found.fetched_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    out.print(f"fetched {fetched} (--refresh fetches again; each request costs $0.01)")
    return 0


def cmd_showback(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime  # noqa: PLC0415

    from autotag import costs, showback  # noqa: PLC0415
    from autotag.registry import RegistryReader  # noqa: PLC0415

    shown = showback.Preview()
    runner = showback.Showback(
        registry=RegistryReader(aws.dynamodb(), _registry_table(args.table)),
        costs=aws.cost_explorer(),
        ledger=shown,
        notifier=shown,
        count=_no_metrics,
    )
    try:
        event = {"month": args.month} if args.month else {}
        start, end = showback.read_month(event, datetime.now(UTC).date())
        summary = runner.run(start, end)
    except costs.CostsError as error:
        raise CommandError(str(error)) from error
    out = console()
    for notice in shown.messages:
        out.print(f"To: {notice.recipient}\nSubject: {notice.subject}\n\n{notice.body}")
    if summary["failed"]:
        raise CommandError(f"Cost Explorer did not answer for {len(summary['failed'])} owners")
    nobody = summary["without_owner"]
    tail = f"; projects without an owner: {', '.join(nobody)}" if nobody else ""
    out.print(f"{len(shown.messages)} messages for {summary['month']}, not sent{tail}")
    return 0


def _required_keys(table: str | None) -> list[str]:
    from autotag.registry import RegistryReader  # noqa: PLC0415

    return list(RegistryReader(aws.dynamodb(), _registry_table(table)).config().policy.required)


def _registry_table(table: str | None) -> str:
    name = (table or os.environ.get("REGISTRY_TABLE", "")).strip()
    if not name:
        raise CommandError("name the registry table: --table NAME or REGISTRY_TABLE")
    return name


def describe_activation(found: Any) -> list[str]:
    """The activation's lines, as `autotag activate` and `autotag audit` print them."""
    lines = []
    for label, keys in (
        ("active", found.active),
        ("activated now", found.activated),
        ("inactive", found.inactive),
        ("not yet in billing data (they appear up to 24 h after first use)", found.unseen),
    ):
        if keys:
            lines.append(f"{label}: {', '.join(keys)}")
    lines += [f"refused: {line}" for line in found.refused]
    return lines


def cmd_activate(args: argparse.Namespace) -> int:
    from autotag import costs  # noqa: PLC0415

    keys = _required_keys(args.table)
    try:
        found = costs.activate(aws.cost_explorer(), keys, dry_run=args.dry_run)
    except costs.CostsError as error:
        raise CommandError(str(error)) from error
    out = console()
    out.print(f"cost allocation tags for the policy's keys ({', '.join(keys)}):")
    for line in describe_activation(found):
        out.print(f"  {line}")
    return 1 if found.refused else 0


def cmd_budgets_sync(args: argparse.Namespace) -> int:
    import boto3  # noqa: PLC0415

    from autotag import budgets  # noqa: PLC0415

    registry = registry_file.read_table(aws.dynamodb(), _registry_table(args.table))
    account = boto3.client("sts", config=aws.CLIENT_CONFIG).get_caller_identity()["Account"]
    client = boto3.client("budgets", region_name="us-east-1", config=aws.CLIENT_CONFIG)
    steps = budgets.plan(budgets.wanted(registry.projects.values()), budgets.held(client, account))
    out = console()
    for line in steps.lines() or ["nothing to change: AWS Budgets holds what the registry says"]:
        out.print(line)
    if args.dry_run or steps.empty:
        return 0
    budgets.apply(client, account, steps)
    out.print(
        f"{len(steps.create)} created, {len(steps.update)} updated, {len(steps.delete)} deleted"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except registry_file.RegistryError as error:
        for line in str(error).splitlines():
            print(f"error: {line}", file=sys.stderr)
    except (CommandError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
    except (ClientError, BotoCoreError) as error:
        print(f"error: AWS: {error}", file=sys.stderr)
    return 2
