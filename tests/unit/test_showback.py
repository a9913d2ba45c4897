"""The showback's pure parts: who gets which projects, which month, and the message."""

from __future__ import annotations

from datetime import date

import pytest

from autotag.costs import By, CostsError, Question, Report, Row
from autotag.notify import MAX_MESSAGE_BYTES, MAX_SUBJECT, PROJECT_OWNER, Outcome
from autotag.registry import Budget, ProjectEntry
from autotag.showback import Section, compose, ledger_key, owners, read_month

NOVEMBER = (date(2026, 11, 1), date(2026, 12, 1))


def report(project: str, rows: list[Row], *, currency: str = "USD") -> Report:
    total = sum(row.amount for row in rows)
    question = Question(*NOVEMBER, By.PHASE, "UnblendedCost", project)
    return Report(question, currency, total, unallocated=50.0, account_total=1000.0, rows=rows)


def test_each_owner_once_whatever_the_spelling_and_unowned_projects_named() -> None:
    found, nobody = owners(
        [
            ProjectEntry("B", owner="Alice@Example.com"),
            ProjectEntry("A", owner="alice@example.com"),
            ProjectEntry("C"),
            ProjectEntry("D", owner="grace@example.com"),
        ]
    )
    assert {owner: [p.name for p in ps] for owner, ps in found.items()} == {
        "alice@example.com": ["A", "B"],
        "grace@example.com": ["D"],
    }
    assert nobody == ["C"]
    assert ledger_key(date(2026, 11, 1), "Alice@Example.com") == ledger_key(
        date(2026, 11, 1), "alice@example.com"
    )
    assert ledger_key(date(2026, 11, 1), "a@x") != ledger_key(date(2026, 10, 1), "a@x")


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ({"time": "2026-12-03T08:00:00Z"}, (date(2026, 11, 1), date(2026, 12, 1))),
        ({"time": "2027-01-02T08:00:00Z"}, (date(2026, 12, 1), date(2027, 1, 1))),
        ({"month": "2026-01"}, (date(2026, 1, 1), date(2026, 2, 1))),
        ({"month": "2026-02"}, (date(2026, 2, 1), date(2026, 3, 1))),
        ({}, (date(2026, 2, 1), date(2026, 3, 1))),  # invoked by hand: before today
        ({"time": "yesterday"}, (date(2026, 2, 1), date(2026, 3, 1))),
    ],
)
def test_the_month_is_the_one_before_the_schedules_time_unless_named(
    event: dict[str, str], expected: tuple[date, date]
) -> None:
    assert read_month(event, date(2026, 3, 15)) == expected


@pytest.mark.parametrize("named", ["2026-03", "2026-04"])
def test_a_month_not_over_cannot_be_named(named: str) -> None:
    with pytest.raises(CostsError, match="is not over"):
        read_month({"month": named}, date(2026, 3, 15))


def test_one_project_by_phase_with_its_budget_and_the_accounts_unallocated_share() -> None:
    rows = [
        Row("Alpha-NLP", "Training", None, 700.0, "tag"),
        Row("Alpha-NLP", "Inference", None, 300.0, "usage type"),
        Row("Alpha-NLP", "Training", None, 200.0, "usage type"),
    ]
    project = ProjectEntry("Alpha-NLP", owner="alice@example.com", budget=Budget(1000.0))
    notice = compose("alice@example.com", [Section(project, report("Alpha-NLP", rows))])
    assert notice.recipient == "alice@example.com"
    assert (notice.outcome, notice.role) == (Outcome.SHOWBACK, PROJECT_OWNER)
    assert notice.subject == "[autotag] Alpha-NLP: SageMaker spend in November 2026: $1,200.00"
    assert "Alpha-NLP: $1,200.00\n" in notice.body
    assert "budget $1,000.00 a month: 120% of it spent" in notice.body
    lines = notice.body.splitlines()
    assert (
        "  Training              $900.00   $700.00 by its ML-Phase tag, "
        "$200.00 by the usage type (no ML-Phase tag)"
    ) in lines  # one line a phase, largest first, its sources named
    assert lines.index("  Inference             $300.00   by the usage type (no ML-Phase tag)") > (
        lines.index("  budget $1,000.00 a month: 120% of it spent")
    )
    assert "(2026-11-01 to 2026-11-30)" in notice.body
    assert "5.0% of SageMaker spend carried no Project tag" in notice.body


def test_several_projects_in_one_message_that_always_fits_sns() -> None:
    many = [
        Section(
            ProjectEntry(f"Project-{n:04d}-" + "x" * 40, owner="o@example.com"),
            report(f"Project-{n}", [Row(None, "Training", None, 1.0, "tag")] * 20),
        )
        for n in range(3000)
    ]
    notice = compose("o@example.com", many)
    assert notice.subject.startswith("[autotag] Your 3000 projects' SageMaker spend")
    assert len(notice.subject) <= MAX_SUBJECT
    assert notice.subject.isascii()
    assert len(notice.body.encode()) <= MAX_MESSAGE_BYTES
    assert "more projects (too long to list)" in notice.body
    assert "Project-0000-" in notice.body


def test_another_currency_is_named() -> None:
    rows = [Row("P", "Training", None, 10.0, "tag")]
    notice = compose(
        "o@example.com", [Section(ProjectEntry("P"), report("P", rows, currency="EUR"))]
    )
    assert "P: 10.00 EUR" in notice.body


def test_a_long_project_name_gives_way_to_the_amount() -> None:
    """Finding: a 46-character name cut the amount short: `$12,34`."""
    name = "Forecasting-Platform-Shared-Inference-Services"
    rows = [Row(name, "Inference", None, 12345.67, "tag")]
    notice = compose("o@example.com", [Section(ProjectEntry(name), report(name, rows))])
    assert len(notice.subject) <= MAX_SUBJECT
    assert notice.subject.endswith(": SageMaker spend in November 2026: $12,345.67")
    assert notice.subject.startswith("[autotag] Forecasting-Platform")
    assert "..." in notice.subject
