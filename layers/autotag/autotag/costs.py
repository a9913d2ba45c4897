"""The CFO's question in one call: what a month of SageMaker cost, by project, phase or service,
and how much of it is nobody's (`autotag costs`).

Cost Explorer's `GetCostAndUsage` answers it; boto3 has no paginator for it, so `fetch` follows
`NextPageToken` itself. Each request costs $0.01 and the data refreshes a few times a day, so
answers are cached with the time they were fetched (`Cache`). The rest is pure: the request for
a question (`requests`) and the rows of an answer (`report`).

Tag groups come back as `Project$<value>`; `Project$` alone is spend without the tag: the
unallocated part, always reported as an amount and a share.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol

from botocore.exceptions import ClientError

from autotag.aws import error_code
from autotag.policy import PROJECT_KEY

SAGEMAKER: Final = "Amazon SageMaker"
PHASE_KEY: Final = "ML-Phase"
METRICS: Final = ("UnblendedCost", "AmortizedCost", "NetAmortizedCost")
CACHE_SECONDS: Final = 6 * 3600  # Cost Explorer refreshes its data a few times a day

# SageMaker's usage types name what ran: `USE1-Train:ml.p4d.24xlarge`, `Host:ml.m5.large`, ...
# The phase of spend that carries no ML-Phase tag comes from them (first match wins).
USAGE_PHASES: Final = (
    ("Train", "Training"),
    ("Tuning", "Training"),
    ("HyperPod", "Training"),
    ("Cluster", "Training"),
    ("Host", "Inference"),
    ("AsyncInf", "Inference"),
    ("ServerlessInf", "Inference"),
    ("Tsform", "Inference"),
    ("Transform", "Inference"),
    ("Processing", "Preprocessing"),
    ("FeatureStore", "Preprocessing"),
    ("FS", "Preprocessing"),
    ("Notebk", "Development"),
    ("Studio", "Development"),
    ("Canvas", "Development"),
    ("MLflow", "Development"),
)


class By(StrEnum):
    PROJECT = "project"
    PHASE = "phase"
    SERVICE = "service"


class CostsError(Exception):
    """Cost Explorer could not answer; the message says what to do."""


@dataclass(frozen=True)
class Question:
    start: date  # the month's first day
    end: date  # the next month's first day (Cost Explorer's end is exclusive)
    by: By = By.PROJECT
    metric: str = "UnblendedCost"
    project: str | None = None


def month(text: str) -> tuple[date, date]:
    """`2026-11` -> (2026-11-01, 2026-12-01)."""
    try:
        first = datetime.strptime(text, "%Y-%m").replace(tzinfo=UTC).date()
    except ValueError:
        raise CostsError(f"--month {text!r}: expected YYYY-MM") from None
    return first, _next_month(first)


def last_month(today: date) -> tuple[date, date]:
    this = today.replace(day=1)
    previous = (this.replace(year=this.year - 1, month=12) if this.month == 1
                else this.replace(month=this.month - 1))  # fmt: skip
    return previous, this


def _next_month(first: date) -> date:
    if first.month == 12:
        return first.replace(year=first.year + 1, month=1)
    return first.replace(month=first.month + 1)


def _scope(
    question: Question, *, sagemaker: bool, spellings: tuple[str, ...] = ()
) -> dict[str, Any]:
    """SageMaker only (unless asked for every service), credits and refunds left out, and the
    one project when asked: each spelling of its name the tags carry (Cost Explorer matches
    tag values by case; the tagger never rewrites a `Project` a person set as `alpha-nlp`)."""
    parts: list[dict[str, Any]] = [
        {"Not": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Credit", "Refund"]}}}
    ]
    if sagemaker:
        parts.append({"Dimensions": {"Key": "SERVICE", "Values": [SAGEMAKER]}})
    if question.project:
        values = sorted(set(spellings) | {question.project})
        parts.append({"Tags": {"Key": PROJECT_KEY, "Values": values}})
    return {"And": parts} if len(parts) > 1 else parts[0]


def requests(question: Question, spellings: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """The GetCostAndUsage requests a question needs: `projects` (SageMaker by Project tag: the
    total and the unallocated part), and the breakdown when it is not by project, for each
    of the project's `spellings` (found in the `projects` answer)."""
    base = {
        "TimePeriod": {"Start": question.start.isoformat(), "End": question.end.isoformat()},
        "Granularity": "MONTHLY",
        "Metrics": [question.metric],
    }
    unscoped = Question(question.start, question.end, question.by, question.metric)
    asked: dict[str, dict[str, Any]] = {
        "projects": base
        | {
            "Filter": _scope(unscoped, sagemaker=True),
            "GroupBy": [{"Type": "TAG", "Key": PROJECT_KEY}],
        }
    }
    if question.by is By.PHASE:
        asked["breakdown"] = base | {
            "Filter": _scope(question, sagemaker=True, spellings=spellings),
            "GroupBy": [
                {"Type": "TAG", "Key": PHASE_KEY},
                {"Type": "DIMENSION", "Key": "USAGE_TYPE"},
            ],
        }
    elif question.by is By.SERVICE:
        asked["breakdown"] = base | {
            "Filter": _scope(question, sagemaker=False, spellings=spellings),
            "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        }
    return asked


class CostExplorer(Protocol):
    def get_cost_and_usage(self, **kwargs: Any) -> Mapping[str, Any]: ...


def fetch(client: CostExplorer, request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Every page of one request (a NextPageToken loop), with Cost Explorer's refusals named."""
    pages: list[Mapping[str, Any]] = []
    token: str | None = None
    while True:
        try:
            page = client.get_cost_and_usage(
                **request, **({"NextPageToken": token} if token else {})
            )
        except ClientError as error:
            raise CostsError(_explain(error)) from error
        pages.append(page)
        token = page.get("NextPageToken")
        if not token:
            return pages


def _explain(error: ClientError) -> str:
    code = error_code(error)
    text = str(error)
    if code in {"AccessDeniedException", "AccessDenied"}:
        if "not enabled" in text.lower():
            return "Cost Explorer is not enabled for this account: enable it in the Billing console"
        return f"access denied: the caller needs ce:GetCostAndUsage ({text})"
    if code == "DataUnavailableException":
        return (
            "Cost Explorer has no data for that period yet (it fills in within 24 hours of "
            "being enabled)"
        )
    if code == "ValidationException" and "tag" in text.lower():
        return (
            f"{text}: is {PROJECT_KEY} (and {PHASE_KEY}) active for cost allocation? "
            "Run `autotag activate`"
        )
    return text


class Answers(Protocol):
    """Where answers are kept between requests: on disk (`Cache`) or for one run (`Kept`)."""

    def get(self, request: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], float] | None: ...

    def put(self, request: Mapping[str, Any], pages: list[Mapping[str, Any]]) -> float: ...


def _digest(request: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:24]


@dataclass
class Kept:
    """Answers kept in memory for one run: a request asked twice is paid for once."""

    answers: dict[str, tuple[list[Mapping[str, Any]], float]] = field(default_factory=dict)
    clock: Callable[[], float] = time.time

    def get(self, request: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], float] | None:
        return self.answers.get(_digest(request))

    def put(self, request: Mapping[str, Any], pages: list[Mapping[str, Any]]) -> float:
        now = self.clock()
        self.answers[_digest(request)] = (pages, now)
        return now


@dataclass
class Cache:
    """Answers on disk, by request, with the time they were fetched."""

    folder: Path
    seconds: float = CACHE_SECONDS
    clock: Callable[[], float] = time.time

    def _path(self, request: Mapping[str, Any]) -> Path:
        return self.folder / f"{_digest(request)}.json"

    def get(self, request: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], float] | None:
        path = self._path(request)
        try:
            kept = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        fetched = float(kept.get("fetched_at", 0))
        if self.clock() - fetched > self.seconds:
            return None
        return kept["pages"], fetched

    def put(self, request: Mapping[str, Any], pages: list[Mapping[str, Any]]) -> float:
        now = self.clock()
        self.folder.mkdir(parents=True, exist_ok=True)
        self._path(request).write_text(json.dumps({"fetched_at": now, "pages": pages}))
        return now


def answer(
    client: CostExplorer, question: Question, cache: Answers | None, *, refresh: bool = False
) -> Report:
    """The question's requests, from the cache unless `refresh`, made into a report. The
    account's spend by project comes first: it names the spellings of the project's tag."""
    answers: dict[str, list[Mapping[str, Any]]] = {}
    fetched: list[float] = []

    def ask(name: str, request: Mapping[str, Any]) -> None:
        kept = None if (cache is None or refresh) else cache.get(request)
        if kept is None:
            pages = fetch(client, request)
            fetched.append(cache.put(request, pages) if cache else time.time())
        else:
            pages, when = kept
            fetched.append(when)
        answers[name] = pages

    ask("projects", requests(question)["projects"])
    names = {_tag_value(keys[0]) for keys, _, _ in _groups(answers["projects"], question.metric)}
    spellings = tuple(sorted(n for n in names if n and _same(n, question.project)))
    breakdown = requests(question, spellings).get("breakdown")
    if breakdown is not None:
        ask("breakdown", breakdown)
    return report(question, answers, min(fetched))


def _same(name: str, project: str | None) -> bool:
    return project is not None and name.casefold() == project.casefold()


# ------------------------------------------------------------------ the report (pure)


@dataclass(frozen=True)
class Row:
    project: str | None
    phase: str | None
    service: str | None
    amount: float
    source: str  # "tag", "usage type", "no tag", "service"


@dataclass(frozen=True)
class Report:
    question: Question
    currency: str
    total: float  # SageMaker's spend in the period (of the project, if one was asked)
    unallocated: float  # SageMaker's spend without a Project tag
    account_total: float  # SageMaker's spend in the period, every project
    rows: list[Row] = field(default_factory=list)
    fetched_at: float = 0.0

    @property
    def unallocated_share(self) -> float:
        return self.unallocated / self.account_total if self.account_total else 0.0

    @property
    def allocated_share(self) -> float:
        return 1.0 - self.unallocated_share if self.account_total else 0.0

    def to_json(self) -> dict[str, Any]:
        q = self.question
        return {
            "period": {"start": q.start.isoformat(), "end": q.end.isoformat()},
            "metric": q.metric,
            "currency": self.currency,
            "scope": "every service" if q.by is By.SERVICE else SAGEMAKER,
            "project": q.project,
            "total": self.total,
            "unallocated": self.unallocated,  # SageMaker's spend without a Project tag
            "unallocated_share": round(self.unallocated_share, 4),
            "allocated_share": round(self.allocated_share, 4),
            "rows": [
                {
                    "project": r.project,
                    "phase": r.phase,
                    "service": r.service,
                    "amount": r.amount,
                    "source": r.source,
                }
                for r in self.rows
            ],
            "fetched_at": datetime.fromtimestamp(self.fetched_at, UTC).isoformat(),
        }


def _groups(pages: list[Mapping[str, Any]], metric: str) -> Iterator[tuple[list[str], float, str]]:
    for page in pages:
        for period in page.get("ResultsByTime", []):
            for group in period.get("Groups", []):
                value = group.get("Metrics", {}).get(metric, {})
                yield (
                    list(group.get("Keys", [])),
                    float(value.get("Amount", 0)),
                    value.get("Unit", ""),
                )


def _tag_value(key: str) -> str | None:
    """`Project$Alpha-NLP` -> `Alpha-NLP`; `Project$` (no tag) -> None."""
    _, _, value = key.partition("$")
    return value or None


def usage_phase(usage_type: str) -> str:
    """The phase a SageMaker usage type names (`USE1-Train:ml.p4d.24xlarge` -> Training)."""
    kind = usage_type.split(":", 1)[0].split("-", 1)[-1]
    for prefix, phase in USAGE_PHASES:
        if kind.startswith(prefix):
            return phase
    return "Other"


def report(
    question: Question, answers: Mapping[str, list[Mapping[str, Any]]], fetched: float
) -> Report:
    metric = question.metric
    currency = ""
    by_project: dict[str | None, float] = {}
    for keys, amount, unit in _groups(answers["projects"], metric):
        currency = currency or unit
        name = _tag_value(keys[0]) if keys else None
        by_project[name] = by_project.get(name, 0.0) + amount
    account = sum(by_project.values())
    unallocated = by_project.get(None, 0.0)
    rows: list[Row] = []
    if question.by is By.PROJECT:
        for name, amount in sorted(by_project.items(), key=lambda kv: -kv[1]):
            if question.project and not (name and _same(name, question.project)):
                continue
            rows.append(Row(name, None, None, amount, "tag" if name else "no tag"))
    elif question.by is By.PHASE:
        phases: dict[tuple[str, str], float] = {}
        for keys, amount, unit in _groups(answers["breakdown"], metric):
            currency = currency or unit
            tagged = _tag_value(keys[0]) if keys else None
            phase, source = (
                (tagged, "tag")
                if tagged
                else (usage_phase(keys[1] if len(keys) > 1 else ""), "usage type")
            )
            phases[(phase, source)] = phases.get((phase, source), 0.0) + amount
        rows = [
            Row(question.project, phase, None, amount, source)
            for (phase, source), amount in sorted(phases.items(), key=lambda kv: -kv[1])
        ]
    else:
        for keys, amount, unit in _groups(answers["breakdown"], metric):
            currency = currency or unit
            rows.append(Row(question.project, None, keys[0] if keys else None, amount, "service"))
        rows.sort(key=lambda r: -r.amount)
    if question.by is By.SERVICE:  # the spend on every service (of the project, if one)
        total = sum(row.amount for row in rows)
    else:
        total = (
            sum(a for name, a in by_project.items() if name and _same(name, question.project))
            if question.project
            else account
        )
    return Report(question, currency or "USD", total, unallocated, account, rows, fetched)


# ------------------------------------------------------------------ cost allocation tags

ACTIVATE_BATCH: Final = 20  # UpdateCostAllocationTagsStatus takes at most 20 keys a call


@dataclass(frozen=True)
class Activation:
    """The policy's keys as Billing sees them."""

    active: tuple[str, ...] = ()
    activated: tuple[str, ...] = ()  # inactive until now: activated by this run
    inactive: tuple[str, ...] = ()  # still inactive (a dry look, or refused)
    unseen: tuple[str, ...] = ()  # not yet in billing data: they appear up to 24 h after use
    refused: tuple[str, ...] = ()  # per-key errors Billing returned


def _statuses(client: Any, keys: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    token: str | None = None
    while True:
        page = client.list_cost_allocation_tags(
            TagKeys=keys, Type="UserDefined", **({"NextToken": token} if token else {})
        )
        for tag in page.get("CostAllocationTags", []):
            found[tag["TagKey"]] = tag["Status"]
        token = page.get("NextToken")
        if not token:
            return found


def key_status(client: Any, key: str) -> str | None:
    """`Active`, `Inactive` or `unseen` (not in billing data yet); None when Billing will not
    say (a member account of an organization may not read it)."""
    try:
        return _statuses(client, [key]).get(key, "unseen")
    except ClientError as error:
        if error_code(error) in {"AccessDeniedException", "AccessDenied"}:
            return None
        raise CostsError(_explain(error)) from error


def activate(client: Any, keys: list[str], *, dry_run: bool = False) -> Activation:
    """Read the keys' status and activate the inactive ones (20 a call). A refusal for the
    whole account says why: only the management account of an organization may."""
    try:
        status = _statuses(client, keys)
        inactive = [k for k in keys if status.get(k) == "Inactive"]
        refused: list[str] = []
        failed: set[str] = set()
        if not dry_run:
            for start in range(0, len(inactive), ACTIVATE_BATCH):
                batch = inactive[start : start + ACTIVATE_BATCH]
                answer = client.update_cost_allocation_tags_status(
                    CostAllocationTagsStatus=[{"TagKey": k, "Status": "Active"} for k in batch]
                )
                for e in answer.get("Errors", []):
                    failed.add(str(e.get("TagKey")))
                    refused.append(f"{e.get('TagKey')}: {e.get('Message') or e.get('Code')}")
    except ClientError as error:
        if error_code(error) in {"AccessDeniedException", "AccessDenied"}:
            raise CostsError(
                "Billing refused: cost allocation tags are activated in the management account "
                "of an AWS Organization (or a standalone account), by a principal allowed "
                f"ce:ListCostAllocationTags and ce:UpdateCostAllocationTagsStatus ({error})"
            ) from error
        raise CostsError(_explain(error)) from error
    return Activation(
        active=tuple(k for k in keys if status.get(k) == "Active"),
        activated=() if dry_run else tuple(k for k in inactive if k not in failed),
        inactive=tuple(inactive) if dry_run else tuple(k for k in inactive if k in failed),
        unseen=tuple(k for k in keys if k not in status),
        refused=tuple(refused),
    )
