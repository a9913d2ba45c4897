from __future__ import annotations

from typing import Any

import pytest

from autotag.policy import Policy
from autotag.registry import ProjectEntry
from autotag.resolve import Facts, SourceName, candidate_projects, event_tags, plan

REQUIRED = ("Project", "CostCenter", "Team", "Owner", "Environment", "ML-Phase")
POLICY = Policy(REQUIRED, {"Environment": ("Production", "Staging", "Development")})
ALPHA = ProjectEntry("Alpha-NLP", {"CostCenter": "CC-1001", "Team": "nlp"}, "alice@example.com")
BETA = ProjectEntry("Beta-Forecast", {"CostCenter": "CC-2002", "Team": "forecasting"})
PROJECTS = {p.name: p for p in (ALPHA, BETA)}


def facts(**overrides: Any) -> Facts:
    values: dict[str, Any] = {
        "policy": POLICY,
        "existing": {},
        "event": event_tags("Training", "alice@example.com"),
        "defaults": {"Environment": "Development"},
        "projects": PROJECTS,
    }
    values.update(overrides)
    return Facts(**values)


def test_everything_from_the_registry_person_and_project() -> None:
    result = plan(facts(person={"Project": "Alpha-NLP"}, person_detail="alice"))
    assert result.tags_to_write() == {
        "Project": "Alpha-NLP",
        "CostCenter": "CC-1001",
        "Team": "nlp",
        "Owner": "alice@example.com",
        "Environment": "Development",
        "ML-Phase": "Training",
    }
    assert result.add["Project"].source == "registry person alice"
    assert result.add["CostCenter"].source == "registry project Alpha-NLP"
    assert result.add["Owner"].source == "event"
    assert result.add["Environment"].source == "registry defaults"
    assert result.complete
    assert result.project == ALPHA


def test_existing_values_are_never_written() -> None:
    existing = {"Project": "Beta-Forecast", "Team": "my-own-team", "Owner": "someone"}
    result = plan(facts(existing=existing, person={"Project": "Alpha-NLP", "Team": "nlp"}))
    assert not set(result.add) & set(existing)
    # the resource's own Project decides which project's tags apply
    assert result.add["CostCenter"].value == "CC-2002"
    assert result.project == BETA


@pytest.mark.parametrize(
    ("winner", "sources"),
    [
        (SourceName.PARENT, {"parent": {"Team": "p"}, "profile": {"Team": "u"}}),
        (SourceName.USER_PROFILE, {"profile": {"Team": "u"}, "person": {"Team": "r"}}),
        (SourceName.REGISTRY_PERSON, {"person": {"Team": "r", "Project": "Alpha-NLP"}}),
        (SourceName.REGISTRY_PROJECT, {"person": {"Project": "Alpha-NLP"}}),
        (SourceName.DEFAULTS, {"defaults": {"Team": "d"}}),
    ],
)
def test_precedence(winner: SourceName, sources: dict[str, Any]) -> None:
    result = plan(facts(**sources))
    assert result.add["Team"].source.startswith(winner.value)


def test_event_answers_phase_and_owner_before_defaults() -> None:
    result = plan(facts(defaults={"ML-Phase": "Inference", "Owner": "nobody"}))
    assert result.add["ML-Phase"] == result.add["ML-Phase"].__class__("Training", "event")
    assert result.add["Owner"].value == "alice@example.com"


def test_wrong_cased_key_is_reported_and_copied() -> None:
    result = plan(facts(existing={"project": "Alpha-NLP"}))
    assert result.add["Project"].value == "Alpha-NLP"
    assert result.add["Project"].source == "resource tag 'project'"
    assert any("'project'" in p.message and p.key == "Project" for p in result.problems)
    assert result.add["Team"].value == "nlp"


def test_unknown_project_is_reported_not_written() -> None:
    result = plan(facts(person={"Project": "Omega"}))
    assert "Project" not in result.add
    assert "Project" in result.still_missing
    assert any("unknown project 'Omega'" in p.message for p in result.problems)
    # nothing implied by a project nobody registered
    assert "CostCenter" in result.still_missing


def test_existing_unknown_project_is_reported_and_kept() -> None:
    result = plan(facts(existing={"Project": "Omega"}))
    assert "Project" not in result.add
    assert "Project" not in result.still_missing
    assert any("unknown project 'Omega'" in p.message for p in result.problems)


def test_value_outside_allowed_is_reported_not_written() -> None:
    result = plan(facts(person={"Environment": "prod"}, defaults={}))
    assert "Environment" not in result.add
    assert "Environment" in result.still_missing
    assert any("not one of" in p.message for p in result.problems)


def test_a_rejected_answer_gives_way_to_the_next_source() -> None:
    result = plan(
        facts(
            profile={"Project": "Alpha-NLP-old", "Environment": "dev"},
            person={"Project": "Alpha-NLP"},
        )
    )
    assert result.add["Project"].value == "Alpha-NLP"
    assert result.add["Project"].source == "registry person"
    assert result.add["CostCenter"].value == "CC-1001"
    assert result.add["Environment"] == result.add["Environment"].__class__(
        "Development", "registry defaults"
    )
    messages = [p.message for p in result.problems]
    assert any("unknown project 'Alpha-NLP-old'" in m for m in messages)
    assert any("'dev'" in m and "not one of" in m for m in messages)


def test_existing_values_the_policy_rejects_make_the_resource_incomplete() -> None:
    existing = dict.fromkeys(REQUIRED, "x") | {"Project": "Omega", "Environment": "prod"}
    result = plan(facts(existing=existing))
    assert result.add == {}
    assert result.missing_before == ()
    assert result.rejected == ("Project", "Environment")
    assert not result.complete
    assert result.needs_notice


def test_allowed_value_in_another_case_is_written_in_the_allowed_spelling() -> None:
    result = plan(facts(person={"Environment": "staging"}))
    assert result.add["Environment"].value == "Staging"


def test_existing_value_in_another_case_is_kept_and_reported() -> None:
    result = plan(facts(existing={"Environment": "development"}))
    assert "Environment" not in result.add
    assert any("allowed spelling is 'Development'" in p.message for p in result.problems)


def test_invalid_value_is_made_valid() -> None:
    result = plan(facts(event=event_tags("Training", "lee,sam")))
    assert result.add["Owner"].value == "lee sam"


def test_value_that_cannot_be_made_valid_is_reported() -> None:
    result = plan(facts(event=event_tags("Training", ",,,")))
    assert "Owner" in result.still_missing
    assert any(p.key == "Owner" and "no usable value" in p.message for p in result.problems)


@pytest.mark.parametrize("existing_count", [44, 47, 49, 50])
def test_never_past_fifty_tags(existing_count: int) -> None:
    existing = {f"k{i}": "v" for i in range(existing_count)}
    result = plan(facts(existing=existing, person={"Project": "Alpha-NLP"}))
    assert len(existing) + len(result.add) <= 50
    assert len(result.add) == min(6, 50 - existing_count)
    dropped = set(REQUIRED) - set(result.add)
    assert set(result.still_missing) == dropped


def test_aws_tags_do_not_count_against_the_limit() -> None:
    existing = {f"aws:k{i}": "v" for i in range(49)}
    result = plan(facts(existing=existing, person={"Project": "Alpha-NLP"}))
    assert len(result.add) == 6


def test_missing_before_lists_required_keys_in_policy_order() -> None:
    result = plan(facts(existing={"Team": "x", "project": "Alpha-NLP"}))
    assert result.missing_before == ("Project", "CostCenter", "Owner", "Environment", "ML-Phase")


def test_a_key_nobody_answers_stays_missing() -> None:
    result = plan(facts(event=event_tags("Training", None), defaults={}))
    assert set(result.still_missing) == {"Project", "CostCenter", "Team", "Owner", "Environment"}
    assert not result.complete


def test_candidate_projects_collects_every_spelling_once() -> None:
    names = candidate_projects([{"project": "A"}, {"Project": "B"}, {"Project": "A"}, {"x": "C"}])
    assert names == ["A", "B"]


def test_custom_required_keys_from_the_policy() -> None:
    policy = Policy(("Project", "Department"), {})
    result = plan(facts(policy=policy, person={"Project": "Alpha-NLP", "Department": "R&D"}))
    assert result.tags_to_write() == {"Project": "Alpha-NLP", "Department": "R D"}
    assert result.still_missing == ()
    assert any(p.key == "Department" and "'R D'" in p.message for p in result.problems)
