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
    ("key", "winner", "sources"),
    [
        # the project: parent > trusted Studio profile > registry person > defaults
        (
            "Project",
            SourceName.PARENT,
            {"parent": {"Project": "Beta-Forecast"}, "person": {"Project": "Alpha-NLP"}},
        ),
        (
            "Project",
            SourceName.USER_PROFILE,
            {"profile": {"Project": "Beta-Forecast"}, "person": {"Project": "Alpha-NLP"}},
        ),
        (
            "Project",
            SourceName.REGISTRY_PERSON,
            {"person": {"Project": "Alpha-NLP"}, "defaults": {"Project": "Beta-Forecast"}},
        ),
        ("Project", SourceName.DEFAULTS, {"defaults": {"Project": "Beta-Forecast"}}),
        # other keys: the project > the parent > profile > person > defaults
        (
            "Environment",
            SourceName.PARENT,
            {"parent": {"Environment": "Staging"}, "profile": {"Environment": "Production"}},
        ),
        (
            "Team",
            SourceName.REGISTRY_PROJECT,
            {"parent": {"Project": "Alpha-NLP", "Team": "p"}, "person": {"Project": "Alpha-NLP"}},
        ),
        (
            "Team",
            SourceName.REGISTRY_PROJECT,
            {"profile": {"Team": "u"}, "person": {"Project": "Alpha-NLP", "Team": "r"}},
        ),
        ("Team", SourceName.USER_PROFILE, {"profile": {"Team": "u"}, "person": {"Team": "r"}}),
        ("Team", SourceName.REGISTRY_PERSON, {"person": {"Team": "r"}}),
        ("Team", SourceName.DEFAULTS, {"defaults": {"Team": "d"}}),
    ],
)
def test_precedence(key: str, winner: SourceName, sources: dict[str, Any]) -> None:
    result = plan(facts(**sources))
    assert result.add[key].source.startswith(winner.value)


def test_one_coherent_set_the_projects_own_tags_outrank_the_persons() -> None:
    # bob's own tags say another cost center and team: the project's values win for every key
    # the project defines, so the set reconciles in finance.
    result = plan(
        facts(
            existing={"Project": "Beta-Forecast"},
            person={
                "Project": "Alpha-NLP",
                "CostCenter": "CC-9999",
                "Team": "nlp",
                "Environment": "Staging",
            },
            profile={"CostCenter": "CC-8888"},
        )
    )
    assert result.tags_to_write() | {"Project": "Beta-Forecast"} == {
        "Project": "Beta-Forecast",
        "CostCenter": "CC-2002",
        "Team": "forecasting",
        "Owner": "alice@example.com",
        "Environment": "Staging",  # Beta leaves it open: the person fills it
        "ML-Phase": "Training",
    }


def test_a_parent_of_another_project_gives_only_keys_the_project_leaves_open() -> None:
    result = plan(
        facts(
            existing={"Project": "Alpha-NLP"},
            parent={
                "Project": "Beta-Forecast",
                "CostCenter": "CC-2002",
                "Environment": "Production",
            },
        )
    )
    assert result.add["CostCenter"].value == "CC-1001"
    assert result.add["Environment"].value == "Production"


def test_owner_is_only_the_resolved_creator() -> None:
    owners = {"Owner": "mallory@example.com"}
    result = plan(
        facts(
            event=event_tags("Training", None),
            parent=owners,
            person=owners,
            profile=owners,
            defaults=owners,
        )
    )
    assert "Owner" not in result.add
    assert "Owner" in result.still_missing


def test_an_empty_value_is_filled_like_a_missing_one() -> None:
    result = plan(
        facts(existing={"Project": "", "CostCenter": ""}, person={"Project": "Alpha-NLP"})
    )
    assert result.add["Project"].value == "Alpha-NLP"
    assert result.add["CostCenter"].value == "CC-1001"
    assert "Project" in result.missing_before


def test_an_existing_project_matches_ignoring_case_and_is_kept() -> None:
    result = plan(facts(existing={"Project": "alpha-nlp"}))
    assert "Project" not in result.add
    assert result.project == ALPHA
    assert result.add["CostCenter"].value == "CC-1001"
    assert any("'Alpha-NLP'" in p.message for p in result.problems)


def test_an_unknown_existing_project_keeps_other_sources_out() -> None:
    result = plan(
        facts(existing={"Project": "Alpah-NLP"}, person={"Project": "Alpha-NLP", "Team": "nlp"})
    )
    assert result.rejected == ("Project",)
    assert "CostCenter" not in result.add
    assert "Team" not in result.add
    assert result.add["ML-Phase"].value == "Training"


@pytest.mark.parametrize(
    ("member_of", "outsider"),
    [(frozenset({"Beta-Forecast"}), True), (frozenset({"alpha-nlp"}), False), (None, False)],
)
def test_a_project_the_creator_is_not_a_member_of_is_flagged(
    member_of: frozenset[str] | None, outsider: bool
) -> None:
    result = plan(facts(existing={"Project": "Alpha-NLP"}, member_of=member_of))
    assert result.outsider is outsider
    assert "Project" not in result.add


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


def test_a_wrong_cased_owner_is_never_copied() -> None:
    """`owner=mallory` is the caller's text: `Owner` comes only from the resolved creator."""
    result = plan(facts(existing={"owner": "mallory@example.com"}))
    assert result.add["Owner"] == result.add["Owner"].__class__("alice@example.com", "event")
