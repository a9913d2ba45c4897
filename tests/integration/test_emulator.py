"""The local emulator fills moto's SageMaker gaps the way SageMaker behaves."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from autotag.sagemaker import ResourceTags
from local.emulator import Emulator, Stack

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole"


def tags(emulator: Emulator, arn: str) -> list[dict[str, str]]:
    listed = emulator.sagemaker().list_tags(ResourceArn=arn)["Tags"]
    return [{"Key": tag["Key"], "Value": tag.get("Value", "")} for tag in listed]


def test_user_profiles(emulator: Emulator, stack: Stack) -> None:
    sagemaker = emulator.sagemaker()
    arn = sagemaker.create_user_profile(
        DomainId="d-xyz", UserProfileName="Zoe", Tags=[{"Key": "Team", "Value": "t"}]
    )["UserProfileArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-xyz/zoe"
    described = sagemaker.describe_user_profile(DomainId="d-xyz", UserProfileName="Zoe")
    assert described["UserProfileArn"] == arn
    listed = sagemaker.list_user_profiles(UserProfileNameContains="zo")["UserProfiles"]
    assert [(p["DomainId"], p["UserProfileName"]) for p in listed] == [("d-xyz", "Zoe")]
    assert tags(emulator, arn) == [{"Key": "Team", "Value": "t"}]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "Project", "Value": "P"}])
    assert {"Key": "Project", "Value": "P"} in tags(emulator, arn)
    sagemaker.delete_user_profile(DomainId="d-xyz", UserProfileName="Zoe")
    with pytest.raises(ClientError, match="ResourceNotFound"):
        sagemaker.describe_user_profile(DomainId="d-xyz", UserProfileName="Zoe")


def test_add_tags_replaces_by_key_on_a_resource_created_without_tags(
    emulator: Emulator, stack: Stack
) -> None:
    sagemaker = emulator.sagemaker()
    sagemaker.create_transform_job(
        TransformJobName="score",
        ModelName="m",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/i"}}
        },
        TransformOutput={"S3OutputPath": "s3://b/o"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    arn = sagemaker.describe_transform_job(TransformJobName="score")["TransformJobArn"]
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "Team", "Value": "a"}])
    sagemaker.add_tags(ResourceArn=arn, Tags=[{"Key": "Team", "Value": "b"}])
    assert tags(emulator, arn) == [{"Key": "Team", "Value": "b"}]


def test_seeded_resources_of_kinds_moto_lacks(emulator: Emulator, stack: Stack) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:app/d-x/dave/jupyterlab/default"
    emulator.seed_resource(arn, {"a": "1"})
    emulator.sagemaker().add_tags(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])
    assert tags(emulator, arn) == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]


def test_list_tags_on_an_unknown_arn_is_a_validation_error(
    emulator: Emulator, stack: Stack
) -> None:
    for arn in (
        "arn:aws:sagemaker:us-east-1:123456789012:training-job/nope",
        "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-1/nope",
    ):
        with pytest.raises(ClientError, match="ValidationException"):
            emulator.sagemaker().list_tags(ResourceArn=arn)


@pytest.mark.parametrize(
    ("key", "value"),
    [("Team", "a,b"), ("Team", "x" * 257), ("aws:x", "y"), ("k" * 129, "v")],
)
def test_add_tags_rejects_what_sagemaker_rejects(
    emulator: Emulator, stack: Stack, key: str, value: str
) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model/m"
    emulator.seed_resource(arn)
    with pytest.raises(ClientError, match="ValidationException"):
        emulator.sagemaker().add_tags(ResourceArn=arn, Tags=[{"Key": key, "Value": value}])


def test_add_tags_rejects_a_51st_tag(emulator: Emulator, stack: Stack) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e"
    emulator.seed_resource(arn, {f"k{i}": "v" for i in range(50)})
    with pytest.raises(ClientError, match="maximum of 50"):
        emulator.sagemaker().add_tags(ResourceArn=arn, Tags=[{"Key": "one-more", "Value": "v"}])
    emulator.sagemaker().add_tags(ResourceArn=arn, Tags=[{"Key": "k1", "Value": "replaced"}])


def test_list_tags_pages(emulator: Emulator, stack: Stack) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/paged"
    # more than one page of the 100 the tagger asks for (aws: tags do not count against 50)
    seeded = {f"k{i:02d}": "v" for i in range(50)} | {f"aws:x{i}": "v" for i in range(70)}
    emulator.seed_resource(arn, seeded)
    first = emulator.sagemaker().list_tags(ResourceArn=arn, MaxResults=50)
    assert len(first["Tags"]) == 50
    assert first["NextToken"]
    assert ResourceTags(emulator.sagemaker()).read(arn) == seeded
