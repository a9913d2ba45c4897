"""The compliance report, the sweep's request ids and the lineage helpers: pure parts."""

from __future__ import annotations

from typing import Any

import pytest

from autotag import audit, lineage, sweep
from autotag.events import BY_KIND, ResourceArn, Trigger
from autotag.identity import PrincipalKind, from_created_by
from autotag.inventory import KINDS, LISTINGS, Found
from autotag.policy import Policy

ARN = "arn:aws:sagemaker:us-east-1:123456789012"
POLICY = Policy(
    required=("Project", "Owner", "Environment"),
    allowed={"Environment": ("Production", "Development")},
)


def found(kind: str, name: str, tags: dict[str, str]) -> Found:
    arn = ResourceArn.parse(f"{ARN}:{kind}/{name}")
    assert arn is not None
    return Found(BY_KIND[kind], arn, name, tags, {})


def test_gaps_are_missing_keys_wrong_spellings_and_values_not_allowed() -> None:
    assert POLICY.gaps({"Project": "p", "Owner": "o", "Environment": "Production"}) == ()
    assert POLICY.gaps({"project": "p", "Owner": "o", "Environment": "production"}) == ("Project",)
    assert POLICY.gaps({"Project": "p", "Owner": "o", "Environment": "Prod"}) == ("Environment",)
    assert POLICY.gaps({}) == ("Project", "Owner", "Environment")


def test_audit_counts_per_kind_project_and_owner() -> None:
    ok = {"Project": "A", "Owner": "ann@example.com", "Environment": "Production"}
    items = [
        found("training-job", "t1", ok),
        found("training-job", "t2", {"Project": "A", "Owner": "bo@example.com"}),
        found("training-job", "t3", {"Owner": "bo@example.com", "Environment": "Test"}),
        found("endpoint", "e1", {**ok, "Project": "B"}),
        found("endpoint", "e2", {"sagemaker:user-profile-arn": f"{ARN}:user-profile/d-1/cy"}),
    ]

    report = audit.audit(items, POLICY)

    assert (report.overall.compliant, report.overall.total) == (2, 5)
    assert report.overall.coverage == pytest.approx(40.0)
    kinds = {name: (g.compliant, g.total) for name, g in report.kinds.items()}
    assert kinds == {"training-job": (1, 3), "endpoint": (1, 2)}
    projects = {name: (g.compliant, g.total) for name, g in report.projects.items()}
    assert projects == {"A": (1, 2), "B": (1, 1), audit.NO_PROJECT: (0, 2)}
    assert report.kinds["training-job"].missing == {"Environment": 2, "Project": 1}
    assert [(g.name, g.total - g.compliant) for g in report.offenders()] == [
        ("bo@example.com", 2),
        ("cy", 1),
    ]
    document = report.as_dict()
    assert document["overall"] == {
        "name": "all resources",
        "compliant": 2,
        "total": 5,
        "coverage": 40.0,
        "missing": {"Environment": 3, "Project": 2, "Owner": 1},
    }
    assert [r["compliant"] for r in document["resources"]] == [True, False, False, True, False]


def test_csv_has_a_header_and_a_row_per_group() -> None:
    rows = audit.csv_rows(audit.audit([found("model", "m", {})], POLICY))
    assert rows[0] == audit.CSV_HEADER
    assert rows[1] == (
        "overall",
        "all resources",
        "0",
        "1",
        "0.0",
        "Project=1 Owner=1 Environment=1",
    )
    assert [row[0] for row in rows[1:]] == ["overall", "kind", "project", "offender"]


def test_an_empty_account_is_fully_covered() -> None:
    report = audit.audit([], POLICY)
    assert report.overall.coverage == 100.0
    assert report.offenders() == []


def test_the_sweep_request_id_changes_with_the_tags_only() -> None:
    a = found("model", "m", {"Project": "A"})
    assert sweep.request_id(a) == sweep.request_id(found("model", "m", {"Project": "A"}))
    assert sweep.request_id(a) != sweep.request_id(found("model", "m", {"Project": "B"}))
    assert sweep.request_id(a) != sweep.request_id(found("model", "n", {"Project": "A"}))
    subject = sweep.subject(a)
    assert subject.trigger is Trigger.SWEEP
    assert subject.user_identity == {}  # the sweep knows no creator


def test_every_supported_kind_is_listed_once_in_the_walk() -> None:
    assert set(LISTINGS) == {spec.kind for spec in KINDS} == set(BY_KIND)
    assert len(KINDS) == len(set(KINDS))
    searchable = {spec.kind for spec in KINDS if spec.searchable}
    assert searchable == {k for k, v in LISTINGS.items() if v.operation == "search"}
    assert LISTINGS["automl-job"].actions == ("ListAutoMLJobs",)
    assert LISTINGS["app"].actions == ("ListApps", "DescribeApp")


@pytest.mark.parametrize(
    ("created_by", "kind", "name"),
    [
        ({"UserProfileName": "dave", "DomainId": "d-1"}, PrincipalKind.STUDIO_USER, "dave"),
        (
            # An assumed-role ARN carries no role path: the Identity Center path cannot be
            # checked, so the role is the creator and the session name only a claim.
            {"IamIdentity": {"Arn": "arn:aws:sts::1:assumed-role/AWSReservedSSO_DS_1/carol@x.com"}},
            PrincipalKind.ROLE,
            "AWSReservedSSO_DS_1",
        ),
        (
            {
                "IamIdentity": {
                    "Arn": "arn:aws:sts::1:assumed-role/r/SageMaker",
                    "SourceIdentity": "al",
                }
            },
            PrincipalKind.ROLE,  # sourceIdentity unchecked against a profile: a claim
            "r",
        ),
        ({"IamIdentity": {"Arn": "arn:aws:iam::1:user/bob"}}, PrincipalKind.IAM_USER, "bob"),
        ({"IamIdentity": {"Arn": "arn:aws:iam::1:root"}}, PrincipalKind.ROOT, "root"),
    ],
)
def test_a_pipeline_starter_is_read_from_created_by(
    created_by: dict[str, Any], kind: PrincipalKind, name: str
) -> None:
    principal = from_created_by(created_by)
    assert principal is not None
    assert (principal.kind, principal.name) == (kind, name)


def test_created_by_without_anyone_names_nobody() -> None:
    assert from_created_by({}) is None
    assert from_created_by({"IamIdentity": {}}) is None


def test_an_endpoint_config_inherits_what_all_its_models_agree_on() -> None:
    refs = {
        "ProductionVariants": [{"ModelName": "a"}, {"ModelName": "b"}, {"ModelName": "a"}],
        "ShadowProductionVariants": [{"ModelName": "c"}, {"VariantName": "no model"}],
    }
    assert lineage._model_names(refs) == ("a", "b", "c")
    assert lineage._common([{"P": "x", "T": "1"}, {"P": "x", "T": "2"}]) == {"P": "x"}
    assert lineage._common([]) == {}
