"""`decide` is pure: its rules about who pays and who is told hold for any input (hypothesis).

Caller-writable inputs are the tags on a resource (any key: `Owner`, Studio's system tags, ...),
the request tags of a caller that is not a Studio execution role, and the session name of a role
the registry does not vouch for. None of them may change the creator, the registry entry, the
project (beyond the resource's own `Project` tag, which is the resource's own choice and is
reported when its creator is not a member) or the recipient.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotag.decide import Decision, Evidence, decide
from autotag.events import parse
from autotag.identity import claims, studio_user
from autotag.lineage import Parent
from autotag.policy import PROJECT_KEY, Membership, Policy
from autotag.registry import PersonEntry, ProjectEntry
from tests.conftest import load_event

REQUIRED = ("Project", "CostCenter", "Team", "Owner", "Environment", "ML-Phase")
ALPHA = ProjectEntry("Alpha-NLP", {"CostCenter": "CC-1001", "Team": "nlp"}, "alice@example.com")
BETA = ProjectEntry("Beta-Forecast", {"CostCenter": "CC-2002"}, "grace@example.com", ("grace",))
PROJECTS = {p.name: p for p in (ALPHA, BETA)}
POLICY = Policy(
    REQUIRED,
    {"Environment": ("Production", "Staging", "Development")},
    projects=tuple(PROJECTS),
    trusted_session_roles=frozenset({"ml-analyst"}),
)
BOB = PersonEntry("bob", "bob@example.com", "Alpha-NLP", {"Team": "bobs-team"})
ALICE = PersonEntry("alice", "alice@example.com", "Alpha-NLP")
PEOPLE = {key: person for person in (BOB, ALICE) for key in person.keys}
EXEC_ROLE = (
    "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole-20240601T120000"
)

# Keys a caller may put on a resource: anything but the Project key (in any spelling).
caller_keys = st.one_of(
    st.sampled_from(
        [
            "Owner",
            "owner",
            "CostCenter",
            "Team",
            "sagemaker:user-profile-arn",
            "sagemaker:domain-arn",
            "sagemaker:pipeline-execution-arn",
            "Environment",
        ]
    ),
    st.text(min_size=1, max_size=12),
).filter(lambda key: key.casefold() != PROJECT_KEY.casefold())
caller_values = st.one_of(
    st.sampled_from(
        [
            "alice@example.com",
            "alice",
            "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-abc123xyz456/alice",
            "Beta-Forecast",
            "",
        ]
    ),
    st.text(max_size=40),
)
caller_tags = st.dictionaries(caller_keys, caller_values, max_size=8)


def evidence(event: str, **changes: Any) -> Evidence:
    call = parse(load_event(event))
    values: dict[str, Any] = {
        "call": call,
        "policy": POLICY,
        "existing": {},
        "claims": claims(call.user_identity, call.request_tags),
        "people": PEOPLE,
        "projects": PROJECTS,
        "defaults": {"Environment": "Development"},
    }
    values.update(changes)
    return Evidence(**values)


def chosen(decision: Decision) -> tuple[Any, ...]:
    notice = decision.notice
    return (
        decision.principal.kind,
        decision.principal.name,
        decision.creator.entry,
        decision.plan.project,
        notice.recipient if notice else None,
    )


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(tags=caller_tags)
def test_tags_on_the_resource_choose_nothing(tags: dict[str, str]) -> None:
    # bob (an IAM user) made it; the state change and the sweep know him from his record
    for event in ("iam-user_CreateEndpoint", "state-change_TrainingJob"):
        plain = evidence(event)
        if event.startswith("state-change"):
            recorded = decide(evidence("iam-user_CreateEndpoint")).principal
            plain = evidence(event, recorded=recorded)
        tagged = Evidence(**{**plain.__dict__, "existing": tags})
        assert chosen(decide(tagged))[:4] == chosen(decide(plain))[:4]
        notice = decide(tagged).notice
        if notice is not None:  # whoever is told, it is never someone a tag names
            assert notice.recipient.address in {"bob@example.com", "alice@example.com", "admin"}


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(tags=caller_tags, session=st.text(min_size=1, max_size=40))
def test_request_tags_and_session_names_of_other_callers_choose_nothing(
    tags: dict[str, str], session: str
) -> None:
    """An unvouched role with any session name and any request tags (a forged Studio profile
    tag included) is the role; the Studio profile's execution role is another."""
    identity = {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::123456789012:assumed-role/data-loader/{session}",
        "sessionContext": {
            "sessionIssuer": {
                "arn": "arn:aws:iam::123456789012:role/data-loader",
                "userName": "data-loader",
            }
        },
    }
    base = evidence("iam-user_CreateEndpoint", claims=claims(identity, {}))
    forged = Evidence(**{**base.__dict__, "claims": claims(identity, tags)})
    assert chosen(decide(forged))[:3] == chosen(decide(base))[:3]
    assert decide(forged).principal.name == "data-loader"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    existing=st.dictionaries(st.sampled_from(REQUIRED), caller_values, max_size=6),
    person_tags=st.dictionaries(st.sampled_from(REQUIRED), st.text(max_size=20), max_size=6),
    parent_tags=st.dictionaries(st.sampled_from(REQUIRED), st.text(max_size=20), max_size=6),
)
def test_one_coherent_set_and_nothing_overwritten(
    existing: dict[str, str], person_tags: dict[str, str], parent_tags: dict[str, str]
) -> None:
    person = PersonEntry("bob", "bob@example.com", "Alpha-NLP", person_tags)
    people = dict.fromkeys(person.keys, person)
    result = decide(
        evidence(
            "iam-user_CreateEndpoint",
            existing=existing,
            people=people,
            parent=Parent(parent_tags, "parent"),
        )
    ).plan
    # no existing non-empty value changes
    assert not set(result.add) & {key for key, value in existing.items() if value}
    # the project's values for every key it defines, unless the resource already had one
    if result.project is not None:
        for key, value in result.project.tags.items():
            if not existing.get(key) and key in result.add:
                assert result.add[key].value == value


def test_a_studio_claim_counts_only_under_the_profiles_execution_role() -> None:
    base = evidence("studio-source-identity_CreateTrainingJob")
    believed = decide(Evidence(**{**base.__dict__, "studio": _profile(EXEC_ROLE)}))
    doubted = decide(Evidence(**{**base.__dict__, "studio": _profile("arn:aws:iam::1:role/x")}))
    assert (believed.principal.name, believed.creator.entry) == ("alice", ALICE)
    assert doubted.principal.name == "AmazonSageMaker-ExecutionRole-20240601T120000"
    assert doubted.creator.entry is None
    assert doubted.principal.claimed == "alice"


def test_a_project_its_creator_is_not_a_member_of_is_reported_to_its_owner() -> None:
    decision = decide(evidence("iam-user_CreateEndpoint", existing={"Project": "Beta-Forecast"}))
    assert decision.plan.project == BETA
    assert decision.membership is not None
    assert decision.membership.recipient.address == "grace@example.com"
    assert "bob" in decision.membership.notice.body
    ignored = Policy(**{**POLICY.__dict__, "membership": Membership.IGNORE})
    quiet = decide(
        evidence("iam-user_CreateEndpoint", existing={"Project": "Beta-Forecast"}, policy=ignored)
    )
    assert quiet.membership is None


def test_root_is_told_to_the_admins() -> None:
    identity = {"type": "Root", "arn": "arn:aws:iam::123456789012:root"}
    decision = decide(evidence("iam-user_CreateEndpoint", claims=claims(identity, {})))
    assert decision.principal.name == "root"
    assert decision.notice is not None
    assert decision.notice.recipient.address == "admin"
    assert "Owner" not in decision.plan.add


def _profile(role: str) -> Any:
    from autotag.studio import Profile  # noqa: PLC0415

    return Profile("arn:profile", {}, frozenset({role}), "d-abc123xyz456")


def test_only_sagemaker_itself_hands_a_resource_to_its_parents_person() -> None:
    """A role deploying through CloudFormation names alice's endpoint config: the config's
    creator (alice) is not the endpoint's. SageMaker's own call is (a pipeline's step)."""
    alice = studio_user("alice", "d-abc123xyz456", "the config's creator record")
    parent = Parent({"Project": "Alpha-NLP"}, "endpoint config c", alice, arn="arn:config")
    made_by = {}
    for invoked_by in ("cloudformation.amazonaws.com", "sagemaker.amazonaws.com"):
        identity = {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::123456789012:assumed-role/deployer/x",
            "invokedBy": invoked_by,
            "sessionContext": {
                "sessionIssuer": {
                    "arn": "arn:aws:iam::123456789012:role/deployer",
                    "userName": "deployer",
                }
            },
        }
        made = evidence("iam-user_CreateEndpoint", claims=claims(identity, {}), parent=parent)
        made_by[invoked_by] = decide(made).principal.name
    assert made_by == {
        "cloudformation.amazonaws.com": "deployer",
        "sagemaker.amazonaws.com": "alice",
    }
