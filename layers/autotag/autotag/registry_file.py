"""The registry file people edit (YAML), its validation, and loading it into the table.

The file is validated whole before anything is written: every mistake is named by entry and
field. Loading makes the table hold exactly the file. The CLI's side; the Lambda never imports
this module (nor YAML).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final, TypeVar

from autotag.identity import is_email
from autotag.policy import (
    DEFAULT_REQUIRED,
    PROJECT_KEY,
    Drift,
    Membership,
    Policy,
    key_problem,
    value_problem,
)
from autotag.registry import (
    CONFIG_KEY,
    DEFAULT_ACTUAL_ALERTS,
    DEFAULT_FORECAST_ALERTS,
    KEY_ATTRIBUTE,
    PERSON_PREFIX,
    PROJECT_PREFIX,
    Budget,
    Config,
    PersonEntry,
    ProjectEntry,
    config_from_item,
    person_from_item,
    project_from_item,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_TOP_KEYS: Final = frozenset({"policy", "defaults", "projects", "people"})
_POLICY_KEYS: Final = frozenset(
    {"required", "allowed", "drift", "trusted_session_roles", "membership"}
)
_PROJECT_KEYS: Final = frozenset({"name", "tags", "owner", "members", "budget"})
_BUDGET_KEYS: Final = frozenset({"monthly", "alerts"})
_ALERT_KEYS: Final = frozenset({"forecast", "actual"})
MAX_BUDGET_ALERTS: Final = 10  # notifications per budget (CreateBudget)
MAX_BUDGET_NAME: Final = 100 - len("autotag-")  # budget names: 100 characters, no ':' or '\\'
_PERSON_KEYS: Final = frozenset({"id", "email", "aliases", "project", "tags"})


_Choice = TypeVar("_Choice", Drift, Membership)


@dataclass(frozen=True)
class Registry:
    """A validated registry file."""

    config: Config
    projects: Mapping[str, ProjectEntry]
    people: Sequence[PersonEntry]  # declared people first, then members only named in projects

    def person_by_key(self) -> dict[str, PersonEntry]:
        return {key: person for person in self.people for key in person.keys}


class RegistryError(Exception):
    """A registry file with mistakes; `errors` holds one line per mistake."""

    def __init__(self, source: str, errors: Sequence[str]) -> None:
        self.source = source
        self.errors = list(errors)
        super().__init__("\n".join(f"{source}: {error}" for error in self.errors))


# --------------------------------------------------------------------------- the file


class _Checker:
    """Collects every mistake of a registry document, each naming the entry and the field."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.required: tuple[str, ...] = DEFAULT_REQUIRED
        self.allowed: dict[str, tuple[str, ...]] = {}

    def fail(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def mapping(self, value: Any, where: str, keys: frozenset[str] | None) -> dict[str, Any]:
        if value is None or value == "":
            return {}
        if not isinstance(value, dict):
            self.fail(where, f"expected a mapping, found {type(value).__name__}")
            return {}
        if keys is not None:
            self.only(value, keys, where)
        return value

    def entry(
        self, doc: Any, where: str, name_field: str, keys: frozenset[str]
    ) -> tuple[dict[str, Any], str | None, str]:
        """A list entry: its fields, its name (required), and where it is, named by it."""
        entry = self.mapping(doc, where, None)
        name = self.text(entry.get(name_field), f"{where}.{name_field}", required=True)
        where = f"{where} ({name})" if name else where
        self.only(entry, keys, where)
        return entry, name, where

    def only(self, entry: dict[str, Any], keys: frozenset[str], where: str) -> None:
        for unknown in sorted(str(key) for key in entry if key not in keys):
            self.fail(where, f"unknown field {unknown!r} (expected one of {sorted(keys)})")

    def items(self, value: Any, where: str) -> list[Any]:
        if value is None or value == "":
            return []
        if not isinstance(value, list):
            self.fail(where, f"expected a list, found {type(value).__name__}")
            return []
        return value

    def text(self, value: Any, where: str, *, required: bool = False) -> str | None:
        if value is None:
            if required:
                self.fail(where, "is required")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(where, f"expected text, found {type(value).__name__}")
            return None
        text = str(value).strip()
        if not text and required:
            self.fail(where, "must not be empty")
            return None
        return text or None

    def email(self, value: Any, where: str) -> str | None:
        text = self.text(value, where)
        if text is not None and not is_email(text):
            self.fail(where, f"{text!r} is not an e-mail address")
            return None
        return text

    def names(self, value: Any, where: str) -> tuple[str, ...]:
        names = (
            self.text(item, f"{where}[{i}]") for i, item in enumerate(self.items(value, where))
        )
        return tuple(name for name in names if name)

    def value(self, value: str, where: str) -> bool:
        problem = value_problem(value)
        if "," in value:
            problem = "commas are not allowed in a SageMaker tag value"
        if problem:
            self.fail(where, f"{value!r}: {problem}")
        return problem is None

    def tags(self, value: Any, where: str) -> dict[str, str]:
        tags: dict[str, str] = {}
        for raw_key, raw_value in self.mapping(value, where, None).items():
            key = str(raw_key)
            spot = f"{where}.{key}"
            problem = key_problem(key)
            if problem:
                self.fail(spot, f"invalid tag key: {problem}")
                continue
            canonical = next(
                (req for req in self.required if req.casefold() == key.casefold()), key
            )
            if canonical != key:
                self.fail(spot, f"the required key is spelled {canonical!r}, not {key!r}")
                continue
            text = self.text(raw_value, spot)
            if text is None or not self.value(text, spot):
                continue
            choices = self.allowed.get(key)
            if choices and text not in choices:
                self.fail(spot, f"{text!r} is not one of the allowed values {list(choices)}")
                continue
            tags[key] = text
        return tags

    def policy(self, value: Any) -> Policy:
        doc = self.mapping(value, "policy", _POLICY_KEYS)
        required = self.names(doc.get("required"), "policy.required") or DEFAULT_REQUIRED
        seen: dict[str, str] = {}
        for i, key in enumerate(required):
            problem = key_problem(key)
            if problem:
                self.fail(f"policy.required[{i}]", f"{key!r}: {problem}")
            if key.casefold() in seen:
                self.fail(f"policy.required[{i}]", f"{key!r} repeats {seen[key.casefold()]!r}")
            seen[key.casefold()] = key
        self.required = required
        for key, choices in self.mapping(doc.get("allowed"), "policy.allowed", None).items():
            spot = f"policy.allowed.{key}"
            if key not in required:
                self.fail(spot, f"{key!r} is not one of the required keys {list(required)}")
            names = self.names(choices, spot)
            for i, name in enumerate(names):
                self.value(name, f"{spot}[{i}]")
            self.allowed[str(key)] = names
        drift = self.choice(doc.get("drift"), "policy.drift", Drift, Drift.REPAIR)
        membership = self.choice(
            doc.get("membership"), "policy.membership", Membership, Membership.REPORT
        )
        roles = self.names(doc.get("trusted_session_roles"), "policy.trusted_session_roles")
        return Policy(
            required=required,
            allowed=dict(self.allowed),
            drift=drift,
            trusted_session_roles=frozenset(roles),
            membership=membership,
        )

    def choice(self, value: Any, where: str, kind: type[_Choice], default: _Choice) -> _Choice:
        text = self.text(value, where) or default.value
        try:
            return kind(text)
        except ValueError:
            self.fail(where, f"{text!r} is not one of {[c.value for c in kind]}")
            return default


def _project(check: _Checker, index: int, doc: Any) -> ProjectEntry | None:
    entry, name, where = check.entry(doc, f"projects[{index}]", "name", _PROJECT_KEYS)
    if name is None:
        return None
    check.value(name, f"{where}.name")
    tags = check.tags(entry.get("tags"), f"{where}.tags")
    if PROJECT_KEY in tags and tags[PROJECT_KEY] != name:
        check.fail(f"{where}.tags.{PROJECT_KEY}", f"must be the project's own name {name!r}")
    tags.pop(PROJECT_KEY, None)
    owner = check.email(entry.get("owner"), f"{where}.owner")
    members = check.names(entry.get("members"), f"{where}.members")
    budget = _budget(check, entry.get("budget"), f"{where}.budget")
    if budget is not None and not owner:
        check.fail(f"{where}.budget", "a budget alerts the project's owner: give it an owner")
    if budget is not None and (set(name) & {":", "\\"} or len(name) > MAX_BUDGET_NAME):
        check.fail(
            f"{where}.budget",
            f"{name!r} cannot name an AWS budget (no ':' or '\\', "
            f"at most {MAX_BUDGET_NAME} characters)",
        )
    return ProjectEntry(name=name, tags=tags, owner=owner, members=members, budget=budget)


def _budget(check: _Checker, value: Any, where: str) -> Budget | None:
    """`budget: {monthly: 5000, alerts: {forecast: [80], actual: [100]}}` (alerts optional)."""
    if value is None:
        return None
    doc = check.mapping(value, where, _BUDGET_KEYS)
    monthly = _positive_number(check, doc.get("monthly"), f"{where}.monthly")
    alerts = check.mapping(doc.get("alerts"), f"{where}.alerts", _ALERT_KEYS)
    percents: dict[str, tuple[float, ...]] = {}
    for kind, default in (("forecast", DEFAULT_FORECAST_ALERTS), ("actual", DEFAULT_ACTUAL_ALERTS)):
        raw = alerts.get(kind)
        if raw is None:
            percents[kind] = default
            continue
        items = raw if isinstance(raw, list) else [raw]
        found = [
            _positive_number(check, v, f"{where}.alerts.{kind}[{i}]") for i, v in enumerate(items)
        ]
        percents[kind] = tuple(sorted({p for p in found if p is not None}))
    if len(percents["forecast"]) + len(percents["actual"]) > MAX_BUDGET_ALERTS:
        check.fail(f"{where}.alerts", f"at most {MAX_BUDGET_ALERTS} alerts (AWS Budgets' limit)")
    if monthly is None:
        return None
    return Budget(monthly, percents["forecast"], percents["actual"])


def _positive_number(check: _Checker, value: Any, where: str) -> float | None:
    """A number above 0 (the file's scalars are read as text: `5000` is '5000')."""
    try:
        number = float(str(value).replace("_", "")) if isinstance(value, str | int | float) else 0.0
    except ValueError:
        number = 0.0
    if isinstance(value, bool) or not number > 0 or number == float("inf"):
        check.fail(where, f"{value!r}: expected a number above 0")
        return None
    return number


def _person(check: _Checker, index: int, doc: Any) -> tuple[str, PersonEntry] | None:
    entry, person_id, where = check.entry(doc, f"people[{index}]", "id", _PERSON_KEYS)
    if person_id is None:
        return None
    tags = check.tags(entry.get("tags"), f"{where}.tags")
    project = check.text(entry.get("project"), f"{where}.project")
    if PROJECT_KEY in tags:
        if project and project != tags[PROJECT_KEY]:
            check.fail(f"{where}.tags.{PROJECT_KEY}", f"contradicts project {project!r}")
        project = project or tags[PROJECT_KEY]
    tags.pop(PROJECT_KEY, None)
    person = PersonEntry(
        id=person_id,
        email=check.email(entry.get("email"), f"{where}.email"),
        project=project,
        tags=tags,
        aliases=check.names(entry.get("aliases"), f"{where}.aliases"),
    )
    return where, person


def _people(
    check: _Checker, docs: list[Any], projects: Mapping[str, ProjectEntry]
) -> list[PersonEntry]:
    """The declared people, each with a default project, then the members that only projects
    name."""
    memberships: dict[str, list[str]] = {}
    for entry in projects.values():
        for member in entry.members:
            memberships.setdefault(member.casefold(), []).append(entry.name)

    people: list[PersonEntry] = []
    owners: dict[str, str] = {}
    for index, item in enumerate(docs):
        found = _person(check, index, item)
        if found is None:
            continue
        where, person = found
        for key in person.keys:
            if key in owners:
                check.fail(where, f"{key!r} is already used by {owners[key]}")
            owners.setdefault(key, where)
        joined = sorted({p for key in person.keys for p in memberships.get(key, [])})
        project = person.project
        if project is None and len(joined) > 1:
            check.fail(
                f"{where}.project",
                f"is a member of {joined}: say which one is the default with 'project:'",
            )
        elif project is None and joined:
            project = joined[0]
        if project is not None and project not in projects:
            check.fail(f"{where}.project", f"unknown project {project!r}")
        people.append(PersonEntry(person.id, person.email, project, person.tags, person.aliases))

    for member, joined in memberships.items():
        if member in owners:
            continue
        where = f"projects ({', '.join(joined)}).members: {member!r}"
        if len(joined) > 1:
            check.fail(where, "is in several projects: list them under 'people' with a 'project'")
            continue
        people.append(PersonEntry(member, member if is_email(member) else None, joined[0]))
    return people


def parse_document(doc: Any, source: str = "registry") -> Registry:
    """Validate a parsed registry document; raise RegistryError listing every mistake."""
    check = _Checker()
    if doc is None or doc == "":
        check.fail("registry", "the file is empty")
    top = check.mapping(doc, "registry", _TOP_KEYS)
    policy = check.policy(top.get("policy"))
    defaults = check.tags(top.get("defaults"), "defaults")

    projects: dict[str, ProjectEntry] = {}
    for index, item in enumerate(check.items(top.get("projects"), "projects")):
        project = _project(check, index, item)
        if project is None:
            continue
        # Project names match ignoring case: two that differ only in case are one project.
        if any(name.casefold() == project.name.casefold() for name in projects):
            check.fail(f"projects[{index}] ({project.name})", "duplicate project name")
        projects[project.name] = project

    people = _people(check, check.items(top.get("people"), "people"), projects)
    default_project = defaults.get(PROJECT_KEY)
    if default_project is not None and default_project not in projects:
        check.fail(f"defaults.{PROJECT_KEY}", f"unknown project {default_project!r}")

    if check.errors:
        raise RegistryError(source, check.errors)
    policy = replace(policy, projects=tuple(projects))
    return Registry(Config(policy, defaults), projects, people)


def _load_yaml(text: str) -> Any:
    """YAML with every scalar read as text (`CostCenter: 0123` stays "0123", `1:30` stays
    "1:30") and a repeated key an error rather than a silent overwrite."""
    import yaml  # noqa: PLC0415  (only the CLI reads YAML; the Lambda never imports it)

    class StrictLoader(yaml.BaseLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep)

    return yaml.load(text, Loader=StrictLoader)  # noqa: S506  (BaseLoader builds no objects)


def parse_text(text: str, source: str = "registry") -> Registry:
    import yaml  # noqa: PLC0415

    try:
        doc = _load_yaml(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "the file"
        problem = getattr(error, "problem", None) or str(error)
        raise RegistryError(source, [f"{where}: not valid YAML: {problem}"]) from None
    return parse_document(doc, source)


def read_file(path: str) -> Registry:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise RegistryError(path, [f"cannot read the file: {error.strerror}"]) from None
    except UnicodeDecodeError:
        raise RegistryError(path, ["the file is not UTF-8 text"]) from None
    return parse_text(text, path)


# --------------------------------------------------------------------------- the table


def _s(text: str) -> AttributeValueTypeDef:
    return {"S": text}


def _strings(values: Iterable[str]) -> AttributeValueTypeDef:
    return {"L": [_s(value) for value in values]}


def _tags(tags: Mapping[str, str]) -> AttributeValueTypeDef:
    return {"M": {key: _s(value) for key, value in tags.items()}}


def _optional(name: str, value: str | None) -> dict[str, AttributeValueTypeDef]:
    return {name: _s(value)} if value else {}


def _budget_item(budget: Budget | None) -> dict[str, AttributeValueTypeDef]:
    if budget is None:
        return {}

    def numbers(values: Iterable[float]) -> AttributeValueTypeDef:
        return {"L": [{"N": repr(v)} for v in values]}

    return {
        "budget": {
            "M": {
                "monthly": {"N": repr(budget.monthly)},
                "forecast": numbers(budget.forecast),
                "actual": numbers(budget.actual),
            }
        }
    }


def to_items(registry: Registry) -> list[dict[str, AttributeValueTypeDef]]:
    """The table's items for a validated registry."""
    policy = registry.config.policy
    items: list[dict[str, AttributeValueTypeDef]] = [
        {
            KEY_ATTRIBUTE: _s(CONFIG_KEY),
            "required": _strings(policy.required),
            "allowed": {"M": {key: _strings(v) for key, v in policy.allowed.items()}},
            "drift": _s(policy.drift.value),
            "membership": _s(policy.membership.value),
            "trusted_session_roles": _strings(sorted(policy.trusted_session_roles)),
            "projects": _strings(registry.projects),
            "defaults": _tags(registry.config.defaults),
        }
    ]
    for project in registry.projects.values():
        items.append(
            {
                KEY_ATTRIBUTE: _s(PROJECT_PREFIX + project.name),
                "name": _s(project.name),
                "tags": _tags(project.tags),
                "members": _strings(project.members),
                **_optional("owner", project.owner),
                **_budget_item(project.budget),
            }
        )
    for key, person in registry.person_by_key().items():
        items.append(
            {
                KEY_ATTRIBUTE: _s(PERSON_PREFIX + key),
                "id": _s(person.id),
                "tags": _tags(person.tags),
                "aliases": _strings(person.aliases),
                **_optional("email", person.email),
                **_optional("project", person.project),
            }
        )
    return items


# --------------------------------------------------------------------------- loading the table


@dataclass(frozen=True)
class SyncResult:
    written: int
    deleted: int
    created: bool = False


def table_exists(client: DynamoDBClient, table: str) -> bool:
    try:
        client.describe_table(TableName=table)
    except client.exceptions.ResourceNotFoundException:
        return False
    return True


def create_table(client: DynamoDBClient, table: str) -> None:
    """Create the registry table with the stack's schema (template.yaml, RegistryTable)."""
    client.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"}],
        KeySchema=[{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True},
    )
    client.get_waiter("table_exists").wait(TableName=table)
    client.update_continuous_backups(
        TableName=table,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )


def _existing_keys(client: DynamoDBClient, table: str) -> set[str]:
    keys: set[str] = set()
    for page in client.get_paginator("scan").paginate(
        TableName=table, ProjectionExpression="#k", ExpressionAttributeNames={"#k": KEY_ATTRIBUTE}
    ):
        keys.update(item[KEY_ATTRIBUTE]["S"] for item in page.get("Items", []))
    return keys


def _batch_write(client: DynamoDBClient, table: str, requests: list[Any]) -> None:
    for start in range(0, len(requests), 25):
        pending = {table: requests[start : start + 25]}
        for attempt in range(8):
            unprocessed = client.batch_write_item(RequestItems=pending).get("UnprocessedItems")
            if not unprocessed:
                break
            pending = dict(unprocessed)
            time.sleep(min(0.05 * 2**attempt, 2.0))
        else:
            raise RuntimeError(f"DynamoDB kept {len(pending[table])} writes unprocessed")


def sync_table(
    client: DynamoDBClient, table: str, registry: Registry, *, create: bool = False
) -> SyncResult:
    """Make `table` hold exactly the registry's items: write them all, delete every other item."""
    created = False
    if not table_exists(client, table):
        if not create:
            raise RegistryError(table, ["the table does not exist (use --create to create it)"])
        create_table(client, table)
        created = True
    items = to_items(registry)
    wanted = {item[KEY_ATTRIBUTE]["S"] for item in items}
    stale = sorted(_existing_keys(client, table) - wanted)
    requests: list[Any] = [{"PutRequest": {"Item": item}} for item in items]
    requests += [{"DeleteRequest": {"Key": {KEY_ATTRIBUTE: {"S": key}}}} for key in stale]
    _batch_write(client, table, requests)
    return SyncResult(written=len(items), deleted=len(stale), created=created)


def read_table(client: DynamoDBClient, table: str) -> Registry:
    """The registry a table holds (what `sync_table` wrote), for `registry show` and `subscribe`."""
    if not table_exists(client, table):
        raise RegistryError(table, ["the table does not exist"])
    config: Config | None = None
    projects: dict[str, ProjectEntry] = {}
    people: dict[str, PersonEntry] = {}
    for page in client.get_paginator("scan").paginate(TableName=table):
        for item in page.get("Items", []):
            key = item[KEY_ATTRIBUTE]["S"]
            if key == CONFIG_KEY:
                config = config_from_item(item)
            elif key.startswith(PROJECT_PREFIX):
                project = project_from_item(item)
                projects[project.name] = project
            elif key.startswith(PERSON_PREFIX):
                person = person_from_item(item)
                people.setdefault(person.id, person)
    if config is None:
        raise RegistryError(table, ["no registry is loaded (use `autotag registry load`)"])
    ordered = sorted(projects.values(), key=lambda project: project.name)
    return Registry(config, {p.name: p for p in ordered}, sorted(people.values(), key=_by_id))


def _by_id(person: PersonEntry) -> str:
    return person.id.casefold()
