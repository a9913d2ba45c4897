"""Properties that hold for any input (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autotag.decide import Creator
from autotag.events import parse
from autotag.identity import claims, who
from autotag.policy import MAX_TAGS, Policy, counted_tags, key_problem, value_problem
from autotag.registry import PersonEntry, ProjectEntry
from autotag.resolve import Facts, event_tags, plan
from tests.conftest import load_event

REQUIRED = ("Project", "CostCenter", "Team", "Owner", "Environment", "ML-Phase")
POLICY = Policy(REQUIRED, {"Environment": ("Production", "Staging", "Development")})
PROJECTS = {"Alpha-NLP": ProjectEntry("Alpha-NLP", {"CostCenter": "CC-1001", "Team": "nlp"})}

# Keys as people write them: the required ones in any case, and anything else.
keys = st.one_of(
    st.sampled_from(REQUIRED).map(str.lower),
    st.sampled_from(REQUIRED),
    st.text(min_size=1, max_size=20),
)
values = st.text(max_size=300)
existing_tags = st.dictionaries(keys, values, max_size=60)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(existing=existing_tags, person=st.dictionaries(st.sampled_from(REQUIRED), values))
def test_no_existing_value_changes_and_no_resource_passes_fifty_tags(
    existing: dict[str, str], person: dict[str, str]
) -> None:
    result = plan(
        Facts(
            policy=POLICY,
            existing=existing,
            person=person,
            event=event_tags("Training", "someone"),
            defaults={"Environment": "Development"},
            projects=PROJECTS,
        )
    )
    # nothing on the resource is overwritten (an empty value holds nothing to keep)
    assert not set(result.add) & {key for key, value in existing.items() if value}
    if counted_tags(existing) <= MAX_TAGS:
        assert counted_tags(existing) + len(set(result.add) - set(existing)) <= MAX_TAGS
    else:
        assert result.add == {}


identity_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=400
)


def _identity(kind: int, text: str) -> dict[str, Any]:
    if kind == 0:
        return {"type": "IAMUser", "userName": text, "arn": f"arn:aws:iam::1:user/{text}"}
    session_context: dict[str, Any] = {
        "sessionIssuer": {"userName": "SomeRole", "arn": "arn:aws:iam::1:role/SomeRole"}
    }
    if kind == 1:
        session_context["sourceIdentity"] = text
    arn = f"arn:aws:sts::1:assumed-role/SomeRole/{text}"
    if kind == 3:
        arn = f"arn:aws:sts::1:assumed-role/AWSReservedSSO_X_1/{text}"
        session_context["sessionIssuer"] = {
            "userName": "AWSReservedSSO_X_1",
            "arn": "arn:aws:iam::1:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_X_1",
        }
    return {"type": "AssumedRole", "arn": arn, "sessionContext": session_context}


@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.integers(0, 3), text=identity_text, registered=st.booleans())
def test_any_identity_string_gives_valid_tags(kind: int, text: str, registered: bool) -> None:
    call = parse(load_event("iam-user_CreateEndpoint"))
    principal = who(
        claims(_identity(kind, text), {}),
        studio_roles=frozenset({"arn:aws:iam::1:role/SomeRole"}),
        vouched_roles=frozenset({"somerole"}),
    )
    entry = PersonEntry(text, project="Alpha-NLP") if registered and text else None
    creator = Creator(principal, entry, own=entry is not None)
    result = plan(
        Facts(
            policy=POLICY,
            existing={},
            person=creator.tags,
            person_detail=text,
            event=event_tags(call.spec.phase.value, creator.owner),
            projects=PROJECTS,
        )
    )
    for key, added in result.add.items():
        assert key_problem(key) is None
        assert value_problem(added.value) is None
        assert "," not in added.value
        assert len(added.value) <= 256
