"""What an IAM role session name names: a person, or a tool, CI system, AWS service, Lambda
function or opaque id. Pure, and driven by the table `SHAPES`. A session name is a claim (whoever
calls AssumeRole chooses it), so a `PERSON` result is only a candidate: it is used as the creator
only where the registry says an identity provider sets that role's session names.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache
from typing import Final, NamedTuple

# STS allows `[\w+=,.@-]`, 2 to 64 characters; anything else is not a session name.
MIN_LENGTH: Final = 2
MAX_LENGTH: Final = 64
OPAQUE: Final = "opaque"  # the shape of a session name no row matches


class SessionKind(StrEnum):
    PERSON = "person"  # an e-mail, a user name, a user name with a timestamp or run suffix
    TOOL = "tool"  # an SDK, CLI or IaC tool's default
    CI = "ci"  # a CI/CD system
    SERVICE = "service"  # an AWS service's own session
    FUNCTION = "function"  # a Lambda function's name
    INSTANCE = "instance"  # an EC2 instance id, an ECS task id, a UUID, a number, an opaque id


class SessionName(NamedTuple):
    kind: SessionKind
    person: str | None  # PERSON only: the e-mail or user name to look up, suffix removed
    shape: str  # the label of the row that matched, or OPAQUE


class Shape(NamedTuple):
    """One row of the table: a session name matching `pattern` whole is of `kind`."""

    label: str
    kind: SessionKind
    pattern: str
    person: str | None = None  # PERSON rows: the named group that holds the person's name
    ignore_case: bool = True


# A user name: letters with inner dots, hyphens, underscores or commas, then at most 4 digits.
_NAME: Final = r"[a-z](?:[a-z._,-]*[a-z])?\d{0,4}"
# What a tool or CI system appends to its name: a run id, a user, a timestamp.
_TAIL: Final = r"(?:[-_.@][\w+=,.@-]*)?"

_PERSON: Final = SessionKind.PERSON
_TOOL: Final = SessionKind.TOOL
_CI: Final = SessionKind.CI
_SERVICE: Final = SessionKind.SERVICE
_FUNCTION: Final = SessionKind.FUNCTION
_INSTANCE: Final = SessionKind.INSTANCE

# First match wins: the specific shapes come first, the person shapes last, so that a session name
# is a person's only when nothing else explains it.
SHAPES: Final[tuple[Shape, ...]] = (
    # AWS services assuming a role name the session themselves.
    Shape("SageMaker", _SERVICE, r"(?:amazon-?)?sagemaker(?:-?(?:studio|canvas|notebook))?"),
    Shape("CloudFormation", _SERVICE, r"(?:aws-?)?cloudformation"),
    Shape("Glue job runner", _SERVICE, r"gluejobrunnersession"),
    Shape(
        "AWS service name",
        _SERVICE,
        r"(?:aws-?|amazon-?)?(?:ecs-tasks?|autoscaling|backup|config|eventbridge|events|scheduler"
        r"|stepfunctions|states|ssm|emr|athena|redshift|datasync|dms|firehose|kinesis|lambda"
        r"|batch|quicksight|servicecatalog|controltower|securityhub|guardduty|inspector|macie)",
    ),
    Shape("EKS Pod Identity", _SERVICE, r"eks-[\w.-]+"),
    # CI/CD systems: their product's name, then a run id or nothing.
    Shape("GitHub Actions", _CI, rf"(?:github-?actions?|gha){_TAIL}"),
    Shape("GitLab CI", _CI, rf"gitlab(?:-?(?:ci|runner))?{_TAIL}"),
    Shape("CodeBuild", _CI, rf"(?:aws-?)?codebuild{_TAIL}"),
    Shape("CodePipeline", _CI, rf"(?:aws-?)?codepipeline{_TAIL}"),
    Shape("Jenkins", _CI, rf"jenkins{_TAIL}"),
    Shape("CircleCI", _CI, rf"circle-?ci{_TAIL}"),
    Shape("Spacelift", _CI, rf"spacelift{_TAIL}"),
    Shape("Atlantis", _CI, rf"atlantis{_TAIL}"),
    Shape("HCP Terraform run", _CI, r"run-[A-Za-z0-9]{16}", ignore_case=False),
    Shape(
        "CI/CD product",
        _CI,
        r"(?:bitbucket(?:-?pipelines?)?|azure-?(?:devops|pipelines)|buildkite|teamcity|travis-?ci"
        r"|drone-?ci|argo-?(?:cd|workflows)|harness|octopus(?:-?deploy)?|spinnaker|concourse"
        r"|tekton|bamboo|env0|scalr|terraform-?cloud|tfc-agent)" + _TAIL,
    ),
    Shape(
        "CI word", _CI, rf"(?:ci|cd|ci-?cd|deploy(?:er|ment)?|release|build(?:er)?|pipeline){_TAIL}"
    ),
    # SDKs, CLIs and IaC tools: their default session names.
    Shape("botocore default", _TOOL, r"botocore-session-\d+"),
    Shape("aws-go-sdk default", _TOOL, r"aws-go-sdk-\d+"),
    Shape("aws-sdk-<language> default", _TOOL, r"aws-sdk-[a-z]+(?:-session)?-\d+"),
    Shape(".NET SDK default", _TOOL, r"aws-dotnet-sdk-session-\d+"),
    Shape(
        "SDK or CLI name",
        _TOOL,
        r"(?:boto3?|botocore|aws-?cli|aws-?sdk(?:-[a-z]+)?|aws-?toolkit|aws-shell)"
        r"(?:[-_]?session)?(?:[-_.]?\d+)?",
    ),
    Shape("Terraform", _TOOL, rf"(?:terraform|terragrunt|opentofu){_TAIL}"),
    Shape(
        "IaC tool",
        _TOOL,
        r"(?:pulumi|aws-?cdk|cdk|cdktf|serverless|aws-sam|sam-cli|copilot|ansible|crossplane"
        r"|eksctl)" + _TAIL,
    ),
    Shape(
        "credential helper",
        _TOOL,
        rf"(?:awsume|aws-vault|granted|leapp|saml2aws|gimme-aws-creds|aws-sso-util){_TAIL}",
    ),
    Shape(
        "generic name",
        _TOOL,
        r"default(?:[-_]?session)?|session|(?:assumed?[-_]?)?role[-_]?session|assumed?[-_]role"
        r"|temp|tmp|test|admin(?:istrator)?|root|ec2-user|ubuntu|user|local(?:host)?|console"
        r"|automation|script|unknown|none|null",
    ),
    # Other AWS services' own names: after the CI systems and tools whose names start with AWS.
    Shape(
        "AWS-prefixed service",
        _SERVICE,
        rf"(?:AWS|Amazon)[A-Z][A-Za-z0-9]*{_TAIL}",
        ignore_case=False,
    ),
    Shape(
        "<Service>Session",
        _SERVICE,
        r"[A-Z][A-Za-z0-9]*[a-z0-9]Session\d*",
        ignore_case=False,
    ),
    # Opaque ids: EC2 instance profiles name the session after the instance, ECS after the task,
    # CodePipeline with a number.
    Shape("EC2 instance id", _INSTANCE, r"i-[0-9a-f]{8}(?:[0-9a-f]{9})?"),
    Shape("ECS task id", _INSTANCE, r"[0-9a-f]{32}"),
    Shape("UUID", _INSTANCE, r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    Shape("number", _INSTANCE, r"\d+"),
    Shape("hex id", _INSTANCE, r"(?=[a-f]*\d)[0-9a-f]{16,}"),
    # Lambda functions assume their role under their own name.
    Shape(
        "CloudFormation-generated name",
        _FUNCTION,
        r"[A-Za-z0-9][\w-]*-[A-Za-z0-9]+-(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{12,13}",
        ignore_case=False,
    ),
    Shape(
        "function-like name",
        _FUNCTION,
        r"(?=[\w-]*[-_])(?:[a-z0-9]+[-_])*"
        r"(?:function|fn|lambda|handler|job|etl|sync|worker|processor|service|svc|bot|trigger"
        r"|consumer|producer|cron|task|runner|loader|exporter|importer|ingest(?:or|er)?|scheduler"
        r"|notifier|webhook|api|stream|daemon|agent|poller|dispatcher|listener)s?"
        r"(?:[-_][a-z0-9]+)*",
    ),
    Shape(
        "CamelCase function",
        _FUNCTION,
        r"[A-Za-z0-9_-]*[a-z0-9_-](?:Function|Lambda|Handler|Processor|Worker)\d*",
        ignore_case=False,
    ),
    # People, last.
    Shape(
        "e-mail",
        _PERSON,
        r"(?P<person>[\w+=.-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,})",
        person="person",
    ),
    Shape(
        "user-<timestamp>",
        _PERSON,
        rf"(?P<person>{_NAME})[-_.@]\d{{10}}(?:\d{{3}}){{0,3}}",
        person="person",
    ),
    Shape(
        "user-<date>",
        _PERSON,
        rf"(?P<person>{_NAME})[-_.]\d{{8}}(?:t?\d{{4}}(?:\d\d)?z?)?",
        person="person",
    ),
    Shape("user name", _PERSON, rf"(?P<person>{_NAME})", person="person"),
)


@cache
def _regex(shape: Shape) -> re.Pattern[str]:
    """The row's pattern, compiled on first use (the import stays cheap for the cold start)."""
    flags = re.ASCII | (re.IGNORECASE if shape.ignore_case else 0)
    return re.compile(shape.pattern, flags)


def classify(session: str) -> SessionName:
    """The kind of a role session name: the first row of `SHAPES` that matches it whole. A suffix
    never makes a person: when a row strips one (`jdoe-1717405200`), the name left must be a
    person's on its own (`aws-cli_1717405200` is the AWS CLI, `i-0abc1234-1717405200` an id)."""
    named = _first_row(session)
    if named.person is not None and named.person != session:
        alone = _first_row(named.person)
        if alone.kind is not SessionKind.PERSON:
            return alone
    return named


def _first_row(session: str) -> SessionName:
    if MIN_LENGTH <= len(session) <= MAX_LENGTH:
        for shape in SHAPES:
            found = _regex(shape).fullmatch(session)
            if found is not None:
                person = found.group(shape.person) if shape.person else None
                return SessionName(shape.kind, person, shape.label)
    return SessionName(SessionKind.INSTANCE, None, OPAQUE)
