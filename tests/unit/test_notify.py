from __future__ import annotations

from autotag.events import parse
from autotag.identity import Principal, PrincipalKind, claims, who
from autotag.notify import (
    ADMIN,
    CREATOR,
    PROJECT_OWNER,
    Outcome,
    Recipient,
    choose_recipient,
    compose,
)
from autotag.registry import PersonEntry, ProjectEntry
from autotag.resolve import Added, Problem, TagPlan
from tests.conftest import load_event

REQUIRED = ("Project", "CostCenter", "Team", "Owner", "Environment", "ML-Phase")
PROJECT = ProjectEntry("Alpha-NLP", {"CostCenter": "CC-1001"}, owner="lead@example.com")
PLAN = TagPlan(
    missing_before=("CostCenter", "Team", "Owner", "ML-Phase"),
    add={
        "CostCenter": Added("CC-1001", "registry project Alpha-NLP"),
        "Owner": Added("bob@example.com", "event"),
        "ML-Phase": Added("Training", "event"),
    },
    still_missing=("Team",),
    problems=(Problem("Team", "the resource has 'team': the key is 'Team'"),),
    project=PROJECT,
)
EXISTING = {"Project": "Alpha-NLP", "Environment": "Staging", "team": "x"}


def _notice(recipient: Recipient, outcome: Outcome = Outcome.INCOMPLETE) -> tuple[str, str]:
    call = parse(load_event("wrong-case_CreateTrainingJob"))
    principal = who(claims(call.user_identity, call.request_tags))
    notice = compose(
        call=call,
        principal=principal,
        plan=PLAN,
        recipient=recipient,
        outcome=outcome,
        required=REQUIRED,
        existing=EXISTING,
    )
    assert notice.attributes()["recipient"]["StringValue"] == recipient.address
    assert notice.attributes()["outcome"]["StringValue"] == outcome.value
    return notice.subject, notice.body


def test_message_says_what_was_missing_added_and_still_missing() -> None:
    subject, body = _notice(Recipient("bob@example.com", CREATOR))
    assert "training-job sentiment-distil-0603" in subject
    assert "without these required cost-allocation tags: CostCenter, Team, Owner, ML-Phase" in body
    assert "CostCenter = CC-1001    (from registry project Alpha-NLP)" in body
    assert "Still missing, please add: Team" in body
    assert "the key is 'Team'" in body
    assert "by bob (IAM user)" in body


def test_message_gives_copy_paste_tags_for_sdk_and_boto3() -> None:
    _, body = _notice(Recipient("bob@example.com", CREATOR))
    assert "tags=[" in body
    assert "sagemaker.create_training_job(" in body
    assert "Tags=[" in body
    assert '{"Key": "Project", "Value": "Alpha-NLP"},' in body  # existing value
    assert '{"Key": "CostCenter", "Value": "CC-1001"},' in body  # added value
    assert '{"Key": "Team", "Value": "<Team>"},' in body  # nobody knew
    assert body.count('"Key": "Environment"') == 2


def test_dry_run_says_nothing_was_written() -> None:
    subject, body = _notice(Recipient("bob@example.com", CREATOR), Outcome.DRY_RUN)
    assert "Would add (dry run, nothing written):" in body
    assert "dry run" in subject


def test_admin_and_project_owner_messages_say_why_they_get_it() -> None:
    _, admin = _notice(Recipient(ADMIN, ADMIN))
    assert admin.startswith("Nobody in the registry created")
    assert "it was bob (IAM user)" in admin  # the creator as CloudTrail shows them
    assert 'add them to the registry (people: - id: "bob"' in admin
    _, owner = _notice(Recipient("lead@example.com", PROJECT_OWNER))
    assert owner.startswith("You own the project of")
    assert "add them to the registry" in owner
    _, creator = _notice(Recipient("bob@example.com", CREATOR))
    assert "add them to the registry" not in creator


def test_subject_is_short_ascii() -> None:
    subject, _ = _notice(Recipient("bob@example.com", CREATOR))
    assert len(subject) < 100
    assert subject.isascii()


def test_recipient_fallbacks() -> None:
    anonymous = Principal(PrincipalKind.ROLE, "ci-role", "role")
    with_email = Principal(PrincipalKind.SSO_USER, "x@example.com", "SSO", email="x@example.com")
    person = PersonEntry("bob", email="bob@example.com")
    assert choose_recipient(anonymous, person, PROJECT) == Recipient("bob@example.com", CREATOR)
    # an e-mail the registry does not know has no subscription: never the recipient
    assert choose_recipient(with_email, None, PROJECT) == Recipient(
        "lead@example.com", PROJECT_OWNER
    )
    assert choose_recipient(with_email, None, None) == Recipient(ADMIN, ADMIN)
    assert choose_recipient(anonymous, PersonEntry("bob"), PROJECT) == Recipient(
        "lead@example.com", PROJECT_OWNER
    )
    assert choose_recipient(anonymous, None, None) == Recipient(ADMIN, ADMIN)


def test_rejected_existing_values_are_called_out() -> None:
    call = parse(load_event("compliant_CreateTrainingJob"))
    principal = who(claims(call.user_identity, call.request_tags))
    plan = TagPlan(
        missing_before=(),
        add={},
        still_missing=(),
        problems=(Problem("Project", "resource has unknown project 'Omega' from its own tag"),),
        project=None,
        rejected=("Project",),
    )
    existing = dict.fromkeys(REQUIRED, "x") | {"Project": "Omega"}
    notice = compose(
        call=call,
        principal=principal,
        plan=plan,
        recipient=Recipient("carol@example.com", CREATOR),
        outcome=Outcome.INCOMPLETE,
        required=REQUIRED,
        existing=existing,
    )
    assert "has tags whose values the tag policy rejects: Project." in notice.body
    assert "Please correct: Project" in notice.body
    assert '{"Key": "Project", "Value": "<Project>"},' in notice.body
    assert "created without" not in notice.body
    assert notice.subject.endswith("has tags to correct: Project")
