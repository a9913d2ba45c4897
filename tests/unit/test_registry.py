from __future__ import annotations

import re
import textwrap

import pytest

from autotag import registry, registry_file
from autotag.policy import Drift, Membership
from autotag.registry_file import Registry, RegistryError, parse_text, to_items
from tests.conftest import EXAMPLE_REGISTRY

GOOD = """
policy:
  required: [Project, CostCenter, Team, Owner, Environment, ML-Phase]
  allowed: {Environment: [Production, Staging, Development]}
defaults: {Environment: Development}
projects:
  - name: Alpha-NLP
    tags: {CostCenter: CC-1001, Team: nlp}
    owner: alice@example.com
    members: [alice, bob@example.com]
  - name: Beta
    tags: {CostCenter: CC-2}
    members: [carol]
people:
  - id: alice
    email: alice@example.com
    aliases: [Alice.Smith]
    tags: {Team: nlp-core}
  - id: carol
"""


def parse(text: str) -> Registry:
    return parse_text(textwrap.dedent(text), "reg.yaml")


def errors_of(text: str) -> list[str]:
    with pytest.raises(RegistryError) as raised:
        parse(text)
    assert str(raised.value).startswith("reg.yaml: ")
    return raised.value.errors


def test_the_example_registry_is_valid() -> None:
    reg = registry_file.read_file(str(EXAMPLE_REGISTRY))
    assert set(reg.projects) == {"Alpha-NLP", "Beta-Forecast", "Gamma-Vision"}
    ids = {person.id for person in reg.people}
    assert {"alice", "bob", "carol", "dave", "erin", "grace", "github-mlops-deploy"} <= ids


def test_people_get_their_single_membership_as_project() -> None:
    reg = parse(GOOD)
    people = reg.person_by_key()
    assert people["alice"].project == "Alpha-NLP"
    assert people["alice.smith"] is people["alice"]
    assert people["alice@example.com"] is people["alice"]
    assert people["carol"].project == "Beta"
    # a member only named in a project is a person of that project
    assert people["bob@example.com"].project == "Alpha-NLP"
    assert people["bob@example.com"].email == "bob@example.com"


def test_items_give_one_lookup_per_name() -> None:
    items = to_items(parse(GOOD))
    keys = sorted(item["pk"]["S"] for item in items)
    assert keys == sorted(
        [
            "config",
            "project#Alpha-NLP",
            "project#Beta",
            "person#alice",
            "person#alice@example.com",
            "person#alice.smith",
            "person#carol",
            "person#bob@example.com",
        ]
    )


def test_items_round_trip() -> None:
    reg = parse(GOOD)
    by_key = {item["pk"]["S"]: item for item in to_items(reg)}
    config = registry.config_from_item(by_key["config"])
    assert config == reg.config
    assert registry.project_from_item(by_key["project#Alpha-NLP"]) == reg.projects["Alpha-NLP"]
    alice = registry.person_from_item(by_key["person#alice.smith"])
    assert alice == reg.person_by_key()["alice"]


MISTAKES = {
    "unknown key": (
        "projects:\n  - name: A\n    colour: blue\n",
        "projects[0] (A): unknown field 'colour'",
    ),
    "missing project": (
        "projects: [{name: A}]\npeople:\n  - id: x\n    project: Nope\n",
        "people[0] (x).project: unknown project 'Nope'",
    ),
    "duplicate id": (
        "people:\n  - id: x\n  - id: X\n",
        "people[1] (X): 'x' is already used by people[0] (x)",
    ),
    "duplicate alias": (
        "people:\n  - {id: x, email: a@b.co}\n  - {id: y, aliases: [a@b.co]}\n",
        "'a@b.co' is already used by people[0] (x)",
    ),
    "person in two projects without a default": (
        "projects:\n  - {name: A, members: [x]}\n  - {name: B, members: [x]}\npeople: [{id: x}]\n",
        "people[0] (x).project: is a member of ['A', 'B']",
    ),
    "member in two projects and not a person": (
        "projects:\n  - {name: A, members: [x]}\n  - {name: B, members: [x]}\n",
        "'x': is in several projects",
    ),
    "invalid tag value": (
        "projects:\n  - name: A\n    tags: {Team: 'nlp;core'}\n",
        "projects[0] (A).tags.Team: 'nlp;core': the characters ';' are not allowed",
    ),
    "comma in a value": (
        "defaults: {Team: 'a, b'}\n",
        "defaults.Team: 'a, b': commas are not allowed",
    ),
    "required key in another case": (
        "projects:\n  - name: A\n    tags: {costcenter: CC-1}\n",
        "projects[0] (A).tags.costcenter: the required key is spelled 'CostCenter'",
    ),
    "bad YAML": ("projects: [name: A\n", "not valid YAML"),
    "value not allowed": (
        "defaults: {Environment: Prod}\n",
        "defaults.Environment: 'Prod' is not one of the allowed values",
    ),
    "not an e-mail": ("people: [{id: x, email: nope}]\n", "people[0] (x).email: 'nope'"),
    "list expected": ("projects: {name: A}\n", "projects: expected a list"),
    "empty file": ("", "the file is empty"),
    "duplicate project": (
        "projects: [{name: A}, {name: A}]\n",
        "projects[1] (A): duplicate project name",
    ),
    "over-long value": (
        f"defaults: {{Team: {'x' * 300}}}\n",
        "at most 256 characters",
    ),
    "reserved key": ("defaults: {'aws:x': y}\n", "the prefix 'aws:' is reserved"),
}
POLICY = "policy:\n  required: [Project, CostCenter, Team, Owner, Environment, ML-Phase]\n"
ALLOWED = "  allowed: {Environment: [Production, Staging, Development]}\n"


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_each_mistake_gets_a_message_naming_entry_and_field(case: str) -> None:
    text, expected = MISTAKES[case]
    if case not in {"bad YAML", "empty file"}:
        text = POLICY + ALLOWED + text
    errors = errors_of(text)
    assert any(expected in error for error in errors), errors


def test_all_mistakes_are_reported_at_once() -> None:
    errors = errors_of(
        "people:\n  - id: x\n    email: nope\n    project: Nope\n  - id: x\n    flavour: 1\n"
    )
    assert len(errors) >= 4


def test_bad_yaml_names_the_line() -> None:
    errors = errors_of("projects:\n  - name: A\n    tags: {Team: [\n")
    assert errors[0].startswith("line ")


def test_unreadable_file(tmp_path: object) -> None:
    with pytest.raises(RegistryError, match="cannot read the file"):
        registry_file.read_file("/nonexistent/registry.yaml")


def test_policy_keys_must_be_unique_ignoring_case() -> None:
    errors = errors_of("policy:\n  required: [Project, project]\n")
    assert any("repeats 'Project'" in error for error in errors)


def test_values_that_look_like_numbers_stay_text() -> None:
    reg = parse("projects:\n  - name: A\n    tags: {CostCenter: 0123, Team: '1:30'}\n")
    assert reg.projects["A"].tags == {"CostCenter": "0123", "Team": "1:30"}
    reg = parse("projects:\n  - name: A\n    tags: {CostCenter: 1:30}\n")
    assert reg.projects["A"].tags["CostCenter"] == "1:30"


@pytest.mark.parametrize(
    "text",
    [
        "people: [{id: a}]\npeople: [{id: b}]\n",
        "projects:\n  - name: A\n    tags: {Team: x}\n    tags: {CostCenter: y}\n",
    ],
)
def test_a_repeated_key_is_a_mistake_not_an_overwrite(text: str) -> None:
    errors = errors_of(text)
    assert any("duplicate key" in error and error.startswith("line ") for error in errors)


def test_a_default_project_must_be_registered() -> None:
    errors = errors_of("defaults: {Project: Nope}\nprojects: [{name: A}]\n")
    assert any("defaults.Project: unknown project 'Nope'" in error for error in errors)
    assert parse("defaults: {Project: A}\nprojects: [{name: A}]\n").config.defaults == {
        "Project": "A"
    }


def test_drift_policy_is_read_checked_and_stored() -> None:
    reg = parse(POLICY + "  drift: report-only\n")
    assert reg.config.policy.drift is Drift.REPORT_ONLY
    by_key = {item["pk"]["S"]: item for item in to_items(reg)}
    assert registry.config_from_item(by_key["config"]).policy.drift is Drift.REPORT_ONLY
    assert parse(POLICY).config.policy.drift is Drift.REPAIR  # put back, by default
    errors = errors_of(POLICY + "  drift: sometimes\n")
    assert any(
        "policy.drift: 'sometimes' is not one of ['repair', 'report-only']" in e for e in errors
    )


def test_trust_and_membership_policy_are_read_checked_and_stored() -> None:
    text = POLICY + "  trusted_session_roles: [ml-analyst, Okta-Users]\n  membership: ignore\n"
    reg = parse(text + "projects: [{name: Alpha-NLP}]\n")
    policy = reg.config.policy
    assert policy.trusted_session_roles == frozenset({"ml-analyst", "Okta-Users"})
    assert policy.vouched_roles == frozenset({"ml-analyst", "okta-users"})
    assert policy.membership is Membership.IGNORE
    by_key = {item["pk"]["S"]: item for item in to_items(reg)}
    stored = registry.config_from_item(by_key["config"]).policy
    assert stored.trusted_session_roles == policy.trusted_session_roles
    assert stored.membership is Membership.IGNORE
    assert stored.projects == ("Alpha-NLP",)  # the names, for one definition of compliant
    assert parse(POLICY).config.policy.membership is Membership.REPORT  # by default
    errors = errors_of(POLICY + "  membership: sometimes\n")
    assert any("policy.membership: 'sometimes' is not one of" in e for e in errors)


def test_project_names_are_one_ignoring_case() -> None:
    errors = errors_of("projects: [{name: Alpha-NLP}, {name: alpha-nlp}]\n")
    assert any("duplicate project name" in e for e in errors)
    policy = parse("projects: [{name: Alpha-NLP}]\n").config.policy
    assert policy.project_name("ALPHA-nlp") == "Alpha-NLP"
    assert policy.project_name("Alpah-NLP") is None
    assert policy.gaps({"Project": "alpha-nlp"}) == tuple(
        k for k in policy.required if k != "Project"
    )


def test_a_config_written_before_project_names_were_kept_knows_no_project() -> None:
    """The audit, the sweep and the tagger agree: until the registry is loaded again, no
    project is known (the tagger cannot find one either)."""
    item = {"pk": {"S": "config"}, "required": {"L": [{"S": "Project"}]}}
    policy = registry.config_from_item(item).policy
    assert policy.projects == ()
    assert policy.gaps({"Project": "Anything"}) == ("Project",)
    assert policy.gaps({"Project": ""}) == ("Project",)  # empty is missing, always
    unloaded = registry.config_from_item(None).policy  # no registry: the default policy
    assert "Project" in unloaded.gaps({"Project": "Anything"})


def test_a_project_budget_is_read_with_default_alerts_and_checked() -> None:
    base = (
        "projects:\n  - name: Alpha\n    owner: alice@example.com\n    budget: {monthly: 1500.5}\n"
    )
    budget = registry_file.parse_text(base, "r.yaml").projects["Alpha"].budget
    assert budget == registry.Budget(1500.5, (80.0,), (100.0,))
    items = registry_file.to_items(registry_file.parse_text(base, "r.yaml"))
    item = next(i for i in items if i["pk"]["S"] == "project#Alpha")
    assert registry.project_from_item(item).budget == budget  # the table keeps it whole
    for text, named in (
        (base.replace("1500.5", "0"), "budget.monthly"),
        (base.replace("1500.5", "lots"), "budget.monthly"),
        (base.replace("    owner: alice@example.com\n", ""), "give it an owner"),
        (base.replace("{monthly: 1500.5}", "{monthly: 9, alerts: {weekly: [5]}}"), "weekly"),
        (base.replace("{monthly: 1500.5}", "{monthly: 9, alerts: {actual: [-1]}}"), "actual[0]"),
        (
            base.replace(
                "{monthly: 1500.5}", "{monthly: 9, alerts: {actual: [1,2,3,4,5,6,7,8,9,10,11]}}"
            ),
            "at most 10 alerts",
        ),
        (base.replace("name: Alpha", "name: ml:Alpha"), "cannot name an AWS budget"),
    ):
        with pytest.raises(registry_file.RegistryError, match=re.escape(named)):
            registry_file.parse_text(text, "r.yaml")
