"""`make bench`: how fast, how many calls, how heavy, how costly. A benchmark, not a test: it
prints a table and writes build/bench.json; its figures are compared with targets, not asserted.

    python -m local.bench             # the full run
    python -m local.bench --small     # a quick run (part of `make test`)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")

import boto3
from rich.console import Console
from rich.table import Table

from autotag import aws, registry_file
from autotag.events import BY_NAME, DETAIL_TYPE
from autotag.identity import studio_user
from autotag.local_context import LocalContext
from autotag.state import StateTable
from local import functions, template
from local.emulator import COMPLIANT_TAGS, Emulator, Stack

ROOT: Final = Path(__file__).resolve().parent.parent
EVENTS: Final = ROOT / "events"
# Published AWS Lambda price, arm64, US East (N. Virginia), first pricing tier.
PRICE_GB_SECOND: Final = 0.0000133334
PRICE_PER_MILLION_REQUESTS: Final = 0.20
PROFILES: Final = {"alice": {"Project": "Alpha-NLP"}, "dave": {"Team": "forecasting"}}
DOMAIN: Final = "d-abc123xyz456"
ARN_PREFIX: Final = "arn:aws:sagemaker:us-east-1:123456789012"
TARGETS: Final = {"overhead_ratio": 1.5, "cold_start_ratio": 1.3}


warnings.filterwarnings("ignore", message="No application metrics")


def corpus() -> dict[str, dict[str, Any]]:
    """The corpus's Create* calls the rule delivers, by scenario (file name): the main path.
    (State changes, service events and drift reach the same resolution; they are not timed.)"""
    events = {path.stem: json.loads(path.read_text()) for path in sorted(EVENTS.glob("*.json"))}
    return {
        name: event
        for name, event in events.items()
        if template.rule_matches(event)
        and event["detail-type"] == DETAIL_TYPE
        and event["detail"].get("eventName") in BY_NAME
    }


def variant(event: dict[str, Any], index: int) -> dict[str, Any]:
    """The event again, for another resource: its own eventID and ARN."""
    copied = copy.deepcopy(event)
    detail = copied["detail"]
    detail["eventID"] = f"bench-{index:09d}-{detail['eventID'][:20]}"
    detail["responseElements"][BY_NAME[detail["eventName"]].arn_field] += f"-b{index}"
    return copied


def arn_of(event: dict[str, Any]) -> str:
    detail = event["detail"]
    return str(detail["responseElements"][BY_NAME[detail["eventName"]].arn_field])


def seed(emulator: Emulator, event: dict[str, Any], arn: str | None = None) -> None:
    from autotag.events import request_tags  # noqa: PLC0415

    tags = request_tags(event["detail"].get("requestParameters") or {})
    emulator.seed_resource(arn or arn_of(event), tags)


def prepare(emulator: Emulator, digest_delay: str) -> Stack:
    """The stack, the example registry and two Studio profiles; the function's environment as
    the template sets it (with a short digest delay so that timers fire within the run)."""
    os.environ.pop("AWS_ENDPOINT_URL", None)  # an in-process emulator has no address
    os.environ.update(emulator.environ())
    stack = emulator.provision()
    os.environ.update(stack.environ())
    os.environ["DIGEST_DELAY_SECONDS"] = digest_delay
    registry_file.sync_table(
        emulator.dynamodb(),
        stack.registry_table,
        registry_file.read_file(str(ROOT / "examples" / "registry.yaml")),
    )
    emulator.studio_profiles(DOMAIN, PROFILES)
    return stack


def handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    module = functions.module("tag_on_create")
    module.tagger.cache_clear()
    handle: Callable[[dict[str, Any], Any], dict[str, Any]] = module.lambda_handler
    return handle


# --------------------------------------------------------------------------- calls per event


class Calls:
    """Every AWS operation made through boto3's default session, with what it was about."""

    def __init__(self, registry_table: str) -> None:
        self.registry_table = registry_table
        self.seen: Counter[str] = Counter()
        self.resource = ""

    def record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        name = f"{model.service_model.signing_name}:{model.name}"
        if model.name == "ListTags" and self.resource:
            name += "(resource)" if params.get("ResourceArn") == self.resource else "(profile)"
        if model.name == "GetItem":
            table = params.get("TableName")
            name += "(registry)" if table == self.registry_table else "(state)"
        self.seen[name] += 1

    @contextmanager
    def around(self, arn: str) -> Iterator[Counter[str]]:
        self.seen = Counter()
        self.resource = arn
        yield self.seen


def measure_calls(emulator: Emulator, calls: Calls) -> dict[str, Any]:
    scenarios: dict[str, Any] = {}
    for index, (name, event) in enumerate(corpus().items()):
        found: dict[str, Any] = {}
        for phase, offset in (("cold", 0), ("warm", 1)):
            current = variant(event, 100_000 + index * 10 + offset)
            seed(emulator, current)
            handle = (
                handler() if phase == "cold" else functions.module("tag_on_create").lambda_handler
            )
            with calls.around(arn_of(current)) as seen:
                summary = handle(current, LocalContext())
            found[phase] = dict(sorted(seen.items()))
            found[f"{phase}_notification"] = summary.get("notification")
        warm = Counter(found["warm"])
        notifying = found["warm_notification"] in {"sent"}
        writes = warm["sagemaker:AddTags"]
        state_writes = sum(warm[f"dynamodb:{op}"] for op in ("PutItem", "UpdateItem", "DeleteItem"))
        found["warm_meets_target"] = (
            # one ListTags; one more, under the resource's lease, right before a write
            warm["sagemaker:ListTags(resource)"] <= 1 + writes
            and writes <= 1
            and warm["sns:Publish"] <= (1 if notifying else 0)
            # an event that tells nobody: one state-table write (handled, creator kept)
            and (found["warm_notification"] is not None or state_writes <= 1)
            and warm["dynamodb:GetItem(registry)"] == 0
            and warm["sagemaker:ListTags(profile)"] == 0
            and warm["sagemaker:DescribeUserProfile"] == 0
            and warm["sagemaker:ListUserProfiles"] == 0
        )
        scenarios[name] = found
    return scenarios


# --------------------------------------------------------------------------- overhead


def measure_overhead(emulator: Emulator, count: int) -> dict[str, Any]:
    """Median warm time per event through lambda_handler, against two floors measured in the
    same run with the same client configuration and emulator:

      floor  the calls the design budgets, made raw: one ListTags, one AddTags where it
             writes, one conditional state-table write (exactly once, the creator), and for
             an event that tells someone its notice's calls: one write to its window (about
             the size of a window's text), plus the timer's SendMessage when it opens the
             window, or a Publish when it sends at once;
      bare   the same without the state-table writes: what tagging costs with no record.

    `quiet_*` are the same figures over the events that tell nobody (one ListTags, at most
    one AddTags, one state write: the budget of attribution alone)."""
    events = list(corpus().values())
    handle = handler()
    for index in range(5):  # warm the container: clients built, registry cached
        warm = variant(events[index % len(events)], 200_000 + index)
        seed(emulator, warm)
        handle(warm, LocalContext())
    sagemaker, sns, dynamodb, sqs = aws.sagemaker(), aws.sns(), aws.dynamodb(), aws.sqs()
    topic, table = os.environ["NOTIFY_TOPIC_ARN"], os.environ["STATE_TABLE"]
    queue = os.environ["DIGEST_QUEUE_URL"]
    text = {"S": "x" * 1600}  # a notice's text, as a window keeps it (about 2 KB in all)
    handled: list[float] = []
    floor: list[float] = []
    bare: list[float] = []
    quiet: list[int] = []
    for index in range(count):
        event = variant(events[index % len(events)], 300_000 + index)
        seed(emulator, event)
        twin = arn_of(event) + "-floor"
        seed(emulator, event, twin)
        start = time.perf_counter()
        summary = handle(event, LocalContext())
        handled.append(time.perf_counter() - start)
        added = {key: item["value"] for key, item in summary.get("added", {}).items()}
        delivery = summary.get("notification")
        start = time.perf_counter()
        sagemaker.list_tags(ResourceArn=twin, MaxResults=100)
        if added:
            sagemaker.add_tags(
                ResourceArn=twin, Tags=[{"Key": k, "Value": v} for k, v in added.items()]
            )
        if delivery == "sent":
            sns.publish(TopicArn=topic, Subject="floor", Message="floor")
        elif delivery == "scheduled":
            sqs.send_message(QueueUrl=queue, MessageBody="{}", DelaySeconds=900)
        bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": f"floor#{twin}"}},
            UpdateExpression="SET #expires = :e ADD #handled :ids",
            ConditionExpression="attribute_not_exists(#handled) OR NOT contains(#handled, :id)",
            ExpressionAttributeNames={"#handled": "handled", "#expires": "expires"},
            ExpressionAttributeValues={
                ":ids": {"SS": [str(index)]},
                ":id": {"S": str(index)},
                ":e": {"N": str(int(time.time()) + 3600)},
            },
        )
        if delivery in {"sent", "scheduled", "gathered", "suppressed"}:
            dynamodb.update_item(
                TableName=table,
                Key={"pk": {"S": f"floor-window#{twin}"}},
                UpdateExpression="SET #head = :head ADD #count :one",
                ExpressionAttributeNames={"#head": "head", "#count": "notice_count"},
                ExpressionAttributeValues={
                    ":head": {"M": {"subject": {"S": twin}, "body": text}},
                    ":one": {"N": "1"},
                },
            )
        else:
            quiet.append(index)
        floor.append(bare[-1] + time.perf_counter() - start)
    handler_ms = statistics.median(handled) * 1000
    floor_ms = statistics.median(floor) * 1000
    bare_ms = statistics.median(bare) * 1000
    figures: dict[str, Any] = {
        "events": count,
        "handler_median_ms": round(handler_ms, 2),
        "floor_median_ms": round(floor_ms, 2),
        "ratio": round(handler_ms / floor_ms, 2),
        "target_ratio": TARGETS["overhead_ratio"],
        "bare_median_ms": round(bare_ms, 2),
        "ratio_to_bare": round(handler_ms / bare_ms, 2),
        "quiet_events": len(quiet),
    }
    if quiet:
        quiet_handler = statistics.median(handled[i] for i in quiet) * 1000
        quiet_floor = statistics.median(floor[i] for i in quiet) * 1000
        figures |= {
            "quiet_handler_median_ms": round(quiet_handler, 2),
            "quiet_floor_median_ms": round(quiet_floor, 2),
            "quiet_ratio": round(quiet_handler / quiet_floor, 2),
        }
    return figures


# --------------------------------------------------------------------------- cold start


def measure_cold_start(runs: int) -> dict[str, Any]:
    """Import time of the handler module against `import boto3`, each in a fresh process,
    with bytecode compiled ahead as `make build` does for the deployed layer."""
    with tempfile.TemporaryDirectory() as folder:
        shutil.copytree(ROOT / "layers" / "autotag" / "autotag", Path(folder) / "autotag")
        shutil.copy(ROOT / "functions" / "tag_on_create" / "app.py", folder)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "compileall",
                "-q",
                "--invalidation-mode",
                "unchecked-hash",
                folder,
            ],
            check=True,
        )
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPATH"] = folder

        def import_ms(module: str) -> float:
            code = f"import time;t=time.perf_counter();import {module};print(time.perf_counter()-t)"
            result = subprocess.run(
                [sys.executable, "-c", code],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            return float(result.stdout) * 1000

        boto3_ms: list[float] = []
        handler_ms: list[float] = []
        for _ in range(runs):  # alternating, so that a busy moment weighs on both alike
            boto3_ms.append(import_ms("boto3"))
            handler_ms.append(import_ms("app"))
    boto3_median, handler_median = statistics.median(boto3_ms), statistics.median(handler_ms)
    return {
        "runs": runs,
        "import_boto3_median_ms": round(boto3_median, 1),
        "import_handler_median_ms": round(handler_median, 1),
        "ratio": round(handler_median / boto3_median, 2),
        "target_ratio": TARGETS["cold_start_ratio"],
    }


def layer_size() -> dict[str, Any]:
    """The layer as `sam build` makes it: the autotag package and its locked requirements for
    arm64 and Python 3.13 under python/. Sizes unzipped and zipped."""
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "layer" / "python"
        subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
                "--platform", "manylinux2014_aarch64", "--only-binary=:all:",
                "--python-version", "3.13", "--implementation", "cp",
                "--require-hashes", "-r", str(ROOT / "layers" / "autotag" / "requirements.lock"),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        shutil.copytree(ROOT / "layers" / "autotag" / "autotag", target / "autotag")
        unzipped = sum(path.stat().st_size for path in target.rglob("*") if path.is_file())
        archive = shutil.make_archive(str(Path(folder) / "layer"), "zip", Path(folder) / "layer")
        return {
            "unzipped_mb": round(unzipped / 2**20, 2),
            "zipped_mb": round(os.path.getsize(archive) / 2**20, 2),
        }


# --------------------------------------------------------------------------- bursts


def burst_events(size: int, offset: int) -> list[dict[str, Any]]:
    """`size` events: a tuning burst of training jobs from one person (500, or half of a small
    run), then the corpus scenarios in turn."""
    scenarios = list(corpus().values())
    studio = corpus()["studio-source-identity_CreateTrainingJob"]
    tuning = min(500, size // 2)
    events = [variant(studio, offset + i) for i in range(tuning)]
    events += [
        variant(scenarios[i % len(scenarios)], offset + tuning + i) for i in range(size - tuning)
    ]
    return events


def run_burst(size: int, offset: int) -> dict[str, Any]:
    """In this process: the handler over `size` events, the digest timers, the messages."""
    with Emulator(in_process=True) as emulator:
        stack = prepare(emulator, digest_delay="1")
        events = burst_events(size, offset)
        for event in events:
            seed(emulator, event)
        handle = handler()
        windows = 0
        durations: list[float] = []
        start = time.perf_counter()
        for event in events:
            begin = time.perf_counter()
            summary = handle(event, LocalContext())
            durations.append(time.perf_counter() - begin)
            windows += summary.get("notification") == "scheduled"
        elapsed = time.perf_counter() - start
        timer = emulator.sqs_event(stack.digest_queue_url, expect=windows, timeout=10)
        if timer["Records"]:
            functions.module("notify_digest").lambda_handler(timer, LocalContext())
        published = len(emulator.notifications(stack))
    half = len(durations) // 2
    return {
        "events": size,
        "seconds": elapsed,
        "per_event_ms": 1000 * elapsed / size,
        "first_half_ms": 1000 * statistics.mean(durations[:half] or durations),
        "second_half_ms": 1000 * statistics.mean(durations[half:]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "notifications": published,
    }


def burst(size: int, workers: int) -> dict[str, Any]:
    """`size` events split over `workers` processes (like concurrent Lambda containers)."""
    share = size // workers
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local.bench",
                "--burst",
                str(share),
                "--offset",
                str(i * share),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"},
        )
        for i in range(workers)
    ]
    results = []
    for child in children:
        out, _ = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"a burst worker failed ({child.returncode})")
        results.append(json.loads(out.strip().splitlines()[-1]))
    wall = max(result["seconds"] for result in results)
    return {
        "events": size,
        "workers": workers,
        "events_per_second": round(size / wall, 1),
        "per_event_ms": round(statistics.mean(r["per_event_ms"] for r in results), 2),
        "first_half_ms": round(statistics.mean(r["first_half_ms"] for r in results), 2),
        "second_half_ms": round(statistics.mean(r["second_half_ms"] for r in results), 2),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in results), 1),
        "notifications": sum(r["notifications"] for r in results),
    }


# --------------------------------------------------------------------------- cost


def cost(handler_ms: float) -> dict[str, Any]:
    memory_mb = int(template.load()["Globals"]["Function"]["MemorySize"])
    billed_ms = max(1, round(handler_ms))
    gb_seconds = memory_mb / 1024 * billed_ms / 1000
    per_million = 1_000_000 * gb_seconds * PRICE_GB_SECOND + PRICE_PER_MILLION_REQUESTS
    return {
        "memory_mb": memory_mb,
        "billed_ms_per_event": billed_ms,
        "price_gb_second_usd": PRICE_GB_SECOND,
        "price_per_million_requests_usd": PRICE_PER_MILLION_REQUESTS,
        "usd_per_million_events": round(per_million, 2),
    }


# --------------------------------------------------------------------------- the run


def report(results: dict[str, Any], console: Console) -> None:
    table = Table(title="make bench", title_justify="left")
    for column in ("figure", "measured", "target"):
        table.add_column(column)
    overhead, cold = results["overhead"], results["cold_start"]
    table.add_row(
        "time per event, warm (median)",
        f"{overhead['handler_median_ms']} ms (floor {overhead['floor_median_ms']} ms)",
        "",
    )
    table.add_row(
        "overhead against the floor (budgeted calls, raw)", f"{overhead['ratio']}x", "<= 1.5x"
    )
    if "quiet_ratio" in overhead:
        table.add_row(
            f"the same, events that tell nobody ({overhead['quiet_events']})",
            f"{overhead['quiet_ratio']}x",
            "<= 1.5x",
        )
    table.add_row(
        "overhead against the bare floor (no state write)",
        f"{overhead['ratio_to_bare']}x (bare {overhead['bare_median_ms']} ms)",
        "",
    )
    table.add_row(
        "import handler vs boto3 (median)",
        f"{cold['import_handler_median_ms']} / {cold['import_boto3_median_ms']} ms "
        f"= {cold['ratio']}x",
        "<= 1.3x",
    )
    layer = results["layer"]
    table.add_row("layer size", f"{layer['zipped_mb']} MB zipped, {layer['unzipped_mb']} MB", "")
    met = sum(1 for s in results["calls"].values() if s["warm_meets_target"])
    table.add_row(
        "scenarios within the warm call budget", f"{met} / {len(results['calls'])}", "all"
    )
    for item in results["bursts"]:
        table.add_row(
            f"burst of {item['events']} ({item['workers']} workers)",
            f"{item['events_per_second']} events/s, {item['per_event_ms']} ms/event "
            f"({item['first_half_ms']} then {item['second_half_ms']}), "
            f"{item['peak_rss_mb']} MB peak, {item['notifications']} messages",
            "flat ms/event",
        )
    sweep = results["sweep"]
    first, second = sweep["passes"]
    table.add_row(
        f"sweep over {first['resources']} resources ({sweep['resources']} seeded, "
        f"{sweep['compliant_before']} of them compliant; the rest from the steps above)",
        f"first pass {first['sagemaker_calls']} SageMaker calls, {first['seconds']} s; "
        f"second pass {second['sagemaker_calls']} calls, {second['seconds']} s",
        "bulk reads; second pass writes nothing",
    )
    table.add_row(
        "Lambda cost per million events",
        f"${results['cost']['usd_per_million_events']} "
        f"({results['cost']['memory_mb']} MB, {results['cost']['billed_ms_per_event']} ms)",
        "",
    )
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="a quick run: few events")
    parser.add_argument("--output", default=str(ROOT / "build" / "bench.json"))
    parser.add_argument("--burst", type=int, help=argparse.SUPPRESS)  # a burst worker
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.burst:
        print(json.dumps(run_burst(args.burst, args.offset)))
        return 0

    console = Console()
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine()}
    with Emulator() as emulator:
        stack = prepare(emulator, digest_delay="120")
        calls = Calls(stack.registry_table)
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("provide-client-params", calls.record)
        console.print("calls per event, cold and warm ...")
        results["calls"] = measure_calls(emulator, calls)
        console.print("overhead against the floor ...")
        results["overhead"] = measure_overhead(emulator, 10 if args.small else 60)
        console.print("the sweep ...")
        results["sweep"] = measure_sweep(emulator, calls, 100 if args.small else 1000)
    console.print("cold start ...")
    results["cold_start"] = measure_cold_start(3 if args.small else 15)
    console.print("layer size ...")
    results["layer"] = layer_size()
    sizes = ((20, 1), (50, 1)) if args.small else ((100, 1), (1000, 2), (10_000, 2))
    results["bursts"] = []
    for size, workers in sizes:
        console.print(f"burst of {size} ...")
        results["bursts"].append(burst(size, workers))
    results["cost"] = cost(results["overhead"]["handler_median_ms"])
    results["seconds"] = round(time.perf_counter() - started, 1)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2))
    report(results, console)
    console.print(f"written to {output} in {results['seconds']} s")
    return 0


# --------------------------------------------------------------------------- the sweep


def seed_account(emulator: Emulator, size: int) -> int:
    """`size` resources: 70 % training jobs, 10 % each tuning jobs, endpoints and processing
    jobs; a quarter of them compliant, the others alice's Studio work whose tags someone
    removed (her creator record names her: the common case; a resource with no record is
    looked up in CloudTrail, at 2 requests a second). Returns how many are compliant."""
    studio = {"sagemaker:user-profile-arn": f"{ARN_PREFIX}:user-profile/{DOMAIN}/alice"}
    kinds = ["training-job"] * 7 + ["hyper-parameter-tuning-job", "endpoint", "processing-job"]
    state = StateTable(emulator.dynamodb(), os.environ["STATE_TABLE"])
    alice = studio_user("alice", DOMAIN, "her Create call")
    count = 0
    for index in range(size):
        kind = kinds[index % len(kinds)]
        tags = COMPLIANT_TAGS if index % 4 == 0 else studio
        count += index % 4 == 0
        arn = f"{ARN_PREFIX}:{kind}/bench-sweep-{index:05d}"
        emulator.seed_resource(arn, dict(tags))
        if index % 4:
            state.record_creator(arn, alice)
    return count


def measure_sweep(emulator: Emulator, calls: Calls, size: int) -> dict[str, Any]:
    """Two passes of the sweep's handler over `size` resources: calls and time per pass."""
    compliant = seed_account(emulator, size)
    module = functions.module("sweep")
    module.sweep.cache_clear()
    passes = []
    for _ in range(2):
        with calls.around("") as seen:
            started = time.perf_counter()
            summary = module.lambda_handler({}, LocalContext(timeout_seconds=900))
            seconds = time.perf_counter() - started
        sagemaker = {k: v for k, v in sorted(seen.items()) if k.startswith("sagemaker:")}
        passes.append(
            {
                "resources": summary["resources"],
                "seconds": round(seconds, 2),
                "ms_per_resource": round(1000 * seconds / summary["resources"], 2),
                "sagemaker_calls": sum(sagemaker.values()),
                "by_call": sagemaker,
                "handled": summary["handled"],
                "unchanged": summary["unchanged"],
            }
        )
    return {"resources": size, "compliant_before": compliant, "passes": passes}


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "emulator": "moto server on 127.0.0.1 (bursts: moto in-process)",
    }


if __name__ == "__main__":
    raise SystemExit(main())
