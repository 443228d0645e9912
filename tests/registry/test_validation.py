"""Config validation: defaults, plain-word field errors, environment policy, tag and name policy, limits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from module_registry import catalogue, limits
from module_registry.catalogue import Registry
from module_registry.result import FieldError
from module_registry.validation import field_path

RDS_NET = {
    "subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    "security_group_ids": ["sg-0123456789abcdef0"],
}


def errors_by_field(result: Any) -> dict[str, FieldError]:
    return {e.field: e for e in result.errors}


def test_defaults_are_applied(registry: Registry) -> None:
    result = registry.validate("sqs-queue", {"name": "orders"}, "dev", prod=False)
    assert result.ok and result.errors == []
    assert result.config["visibility_timeout_seconds"] == 30
    assert result.config["dead_letter_queue"] is True
    assert result.config["tags"] == {}
    assert result.config["name"] == "orders"


def test_defaults_do_not_leak_between_calls(registry: Registry) -> None:
    first = registry.validate("s3-bucket", {"name": "a"}, "dev", prod=False)
    first.config["tags"]["mutated"] = "yes"
    second = registry.validate("s3-bucket", {"name": "b"}, "dev", prod=False)
    assert second.config["tags"] == {}


def test_errors_say_which_field_what_was_wrong_and_what_is_allowed(registry: Registry) -> None:
    config = {
        "name": "Orders_Queue",
        "visibility_timeout_seconds": 99999,
        "delay_seconds": "soon",
        "max_receive_count": 0,
        "colour": "blue",
    }
    found = errors_by_field(registry.validate("sqs-queue", config, "dev", prod=False))
    assert found["name"].message == "does not have the allowed format"
    assert "lowercase letters" in (found["name"].allowed or "")
    assert found["visibility_timeout_seconds"].message == "is too large"
    assert found["visibility_timeout_seconds"].allowed == "43200 or less"
    assert found["delay_seconds"].message == "must be a whole number, got text"
    assert found["max_receive_count"].allowed == "1 or more"
    assert found["colour"].message == "is not a known field"
    assert "visibility_timeout_seconds" in (found["colour"].allowed or "")


def test_required_and_enum_errors(registry: Registry) -> None:
    result = registry.validate("dynamodb-table", {"billing_mode": "FREE"}, "dev", prod=False)
    found = errors_by_field(result)
    assert not result.ok
    assert found["name"].message == "is required"
    assert found["hash_key"].message == "is required"
    assert found["billing_mode"].message == "is not one of the allowed values"
    assert found["billing_mode"].allowed == "PAY_PER_REQUEST, PROVISIONED"


def test_nested_fields_are_named_with_their_path(registry: Registry) -> None:
    config = {"name": "events", "subscriptions": {"worker": {"protocol": "sqs", "endpoint": "not-an-arn"}}}
    found = errors_by_field(registry.validate("sns-topic", config, "dev", prod=False))
    assert found["subscriptions.worker.endpoint"].message == "does not have the allowed format"
    assert found["subscriptions.worker.endpoint"].allowed == "an SQS queue ARN"


def test_conditional_rules_have_their_own_messages(registry: Registry) -> None:
    found = errors_by_field(
        registry.validate(
            "ec2-instance",
            {
                "name": "x",
                "instance_type": "t4g.small",
                "subnet_id": "subnet-0123456789abcdef0",
                "security_group_ids": ["sg-0123456789abcdef0"],
            },
            "dev",
            prod=False,
        )
    )
    assert found["architecture"].message == "must be arm64 for a Graviton instance type"
    found = errors_by_field(
        registry.validate(
            "dynamodb-table", {"name": "t", "hash_key": "pk", "billing_mode": "PROVISIONED"}, "dev", prod=False
        )
    )
    assert found["read_capacity"].message == "is required" and found["write_capacity"].message == "is required"
    found = errors_by_field(registry.validate("iam-role", {"name": "r"}, "dev", prod=False))
    assert "nobody could assume this role" in found[""].message


@pytest.mark.parametrize(
    ("module_id", "config", "field"),
    [
        ("s3-bucket", {"name": "data", "force_destroy": True}, "force_destroy"),
        ("s3-bucket", {"name": "data", "versioning": False}, "versioning"),
        ("sqs-queue", {"name": "jobs", "dead_letter_queue": False}, "dead_letter_queue"),
        ("dynamodb-table", {"name": "t", "hash_key": "pk"}, "deletion_protection"),
        (
            "dynamodb-table",
            {"name": "t", "hash_key": "pk", "deletion_protection": True, "point_in_time_recovery": False},
            "point_in_time_recovery",
        ),
        ("ecr-repository", {"name": "api", "force_delete": True}, "force_delete"),
        ("ecr-repository", {"name": "api", "image_tag_mutability": "MUTABLE"}, "image_tag_mutability"),
        ("rds-postgres", {"name": "db", **RDS_NET, "multi_az": True}, "deletion_protection"),
        (
            "rds-postgres",
            {"name": "db", **RDS_NET, "multi_az": True, "deletion_protection": True, "backup_retention_days": 1},
            "backup_retention_days",
        ),
        ("rds-postgres", {"name": "db", **RDS_NET, "deletion_protection": True}, "multi_az"),
        (
            "ec2-instance",
            {"name": "vm", "subnet_id": "subnet-0123456789abcdef0", "security_group_ids": ["sg-0123456789abcdef0"]},
            "termination_protection",
        ),
        (
            "iam-role",
            {"name": "r", "trusted_role_arns": ["arn:aws:iam::123456789012:root"], "require_mfa": False},
            "require_mfa",
        ),
        (
            "sns-topic",
            {"name": "t", "subscriptions": {"me": {"protocol": "email", "endpoint": "me@example.com"}}},
            "subscriptions",
        ),
    ],
)
def test_production_constraints_are_field_errors(
    registry: Registry, module_id: str, config: dict[str, Any], field: str
) -> None:
    assert registry.validate(module_id, config, "dev", prod=False).ok
    prod = registry.validate(module_id, config, "prod", prod=True)
    assert not prod.ok
    found = errors_by_field(prod)
    assert field in found, prod.errors
    assert "production" in found[field].message


def test_administrator_access_is_refused_everywhere(registry: Registry) -> None:
    config = {
        "name": "admin",
        "trusted_services": ["ec2.amazonaws.com"],
        "managed_policy_arns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
    }
    for env, prod in (("dev", False), ("prod", True)):
        found = errors_by_field(registry.validate("iam-role", config, env, prod=prod))
        assert "AdministratorAccess" in found["managed_policy_arns"].message


@pytest.mark.parametrize(
    "key",
    [
        "managed-by",
        "Managed-By",
        "project",
        "ENVIRONMENT",
        "requester",
        "tfpilot-request-id",
        "tfpilot:owner",
        "aws:createdBy",
    ],
)
def test_users_cannot_set_or_override_server_tags(registry: Registry, key: str) -> None:
    result = registry.validate("s3-bucket", {"name": "data", "tags": {key: "mine", "team": "ok"}}, "dev", prod=False)
    found = errors_by_field(result)
    where = field_path(["tags", key])
    assert not result.ok and list(found) == [where]
    assert "managed-by" in (found[where].allowed or "")


def test_tag_syntax_and_count(registry: Registry) -> None:
    found = errors_by_field(
        registry.validate("s3-bucket", {"name": "d", "tags": {"team": "a;b", "bad key!": "x"}}, "dev", prod=False)
    )
    assert found["tags.team"].message == "is not a valid AWS tag value"
    assert found['tags["bad key!"]'].message == "the key 'bad key!' is not allowed"
    many = {f"k{i}": "v" for i in range(46)}
    found = errors_by_field(registry.validate("s3-bucket", {"name": "d", "tags": many}, "dev", prod=False))
    assert found["tags"].allowed == "at most 45 entries"
    assert registry.validate(
        "s3-bucket", {"name": "d", "tags": {"Kostenstelle": "Zürich 42", "owner": "a.b@example.com"}}, "dev", prod=False
    ).ok


@pytest.mark.parametrize(
    ("module_id", "extra", "limit"),
    [
        ("s3-bucket", {}, 63),
        ("sqs-queue", {}, 76),  # 80 minus the 4 characters of the dead-letter queue's "-dlq"
        ("iam-role", {"trusted_services": ["ec2.amazonaws.com"]}, 64),
        ("rds-postgres", RDS_NET, 63),
    ],
)
def test_full_names_respect_the_resource_limit(
    registry: Registry, module_id: str, extra: dict[str, Any], limit: int
) -> None:
    prefix = "core-dev-"
    fits = "n" * (limit - len(prefix))
    assert registry.validate(module_id, {"name": fits, **extra}, "dev", prod=False, project="core").ok
    too_long = fits + "xy"
    result = registry.validate(module_id, {"name": too_long, **extra}, "dev", prod=False, project="core")
    if result.ok:
        pytest.fail(f"{module_id}: {len(prefix + too_long)} characters accepted")
    message = errors_by_field(result)["name"].message
    assert "shorten the name by 2 characters" in message


def test_fifo_suffix_counts_towards_the_sqs_limit(registry: Registry) -> None:
    name = "n" * (76 - len("core-dev-"))
    assert registry.validate("sqs-queue", {"name": name}, "dev", prod=False, project="core").ok
    result = registry.validate("sqs-queue", {"name": name, "fifo": True}, "dev", prod=False, project="core")
    assert "shorten the name by 5 characters" in errors_by_field(result)["name"].message


def test_short_names_are_checked_even_without_a_project(registry: Registry) -> None:
    result = registry.validate(
        "iam-role", {"name": "r" * 55, "trusted_services": ["ec2.amazonaws.com"]}, "production", prod=True
    )
    assert "name" in errors_by_field(result)


def test_config_must_be_an_object(registry: Registry) -> None:
    for bad in ([], "x", None, 3):
        result = registry.validate("s3-bucket", bad, "dev", prod=False)  # type: ignore[arg-type]
        assert not result.ok and result.errors[0].message == "the config must be a JSON object"


def test_configs_over_64_kib_are_rejected(registry: Registry) -> None:
    big = {"name": "d", "tags": {"k": "v" * 200}, "padding": "x" * (64 * 1024)}
    result = registry.validate("s3-bucket", big, "dev", prod=False)
    assert not result.ok and "64 KiB" in result.errors[0].message
    assert len(result.errors) == 1  # refused before schema validation


def test_configs_nested_deeper_than_10_are_rejected(registry: Registry) -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(10):
        deep = {"d": deep}
    assert limits.depth_exceeds(deep)
    result = registry.validate("s3-bucket", {"name": "x", **deep}, "dev", prod=False)
    assert not result.ok and "deeper than 10" in result.errors[0].message
    ten: dict[str, Any] = {}
    for _ in range(9):
        ten = {"d": ten}
    assert not limits.depth_exceeds(ten)


def test_non_json_values_are_rejected(registry: Registry) -> None:
    for bad in ({"name": float("nan")}, {"name": "a\ud800"}, {"name": {1: 2}}, {"name": object()}):
        result = registry.validate("s3-bucket", bad, "dev", prod=False)
        assert not result.ok


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "must be a JSON object"),
        ("{", "not valid JSON"),
        ('{"a": NaN}', "not valid JSON"),
        ("[" * 5000 + "]" * 5000, "deeper than 10"),
        ('{"a": "' + "x" * (64 * 1024) + '"}', "64 KiB"),
    ],
)
def test_config_json_text_is_checked_before_parsing_gets_expensive(text: str, message: str) -> None:
    config, errors = limits.parse_config_json(text)
    assert config is None and message in errors[0].message


def test_environment_and_project_names_are_identifiers(registry: Registry) -> None:
    assert not registry.validate("s3-bucket", {"name": "d"}, "../prod", prod=False).ok
    assert not registry.validate("s3-bucket", {"name": "d"}, "dev", prod=False, project="core;rm").ok


def test_by_field_helper_for_forms(registry: Registry) -> None:
    result = registry.validate("s3-bucket", {"name": "UPPER", "encryption": "none"}, "dev", prod=False)
    fields = result.by_field()
    assert set(fields) == {"name", "encryption"}
    assert fields["encryption"].startswith("is not one of the allowed values (allowed: sse-s3, sse-kms)")


def test_iam_roles_do_not_mix_services_with_principals_that_need_mfa(registry: Registry) -> None:
    # The module's MFA trust policy puts services and principals in one statement with an MFA
    # condition: services never sign in with MFA, so they would silently be locked out.
    both = {
        "name": "deployer",
        "trusted_services": ["ec2.amazonaws.com"],
        "trusted_role_arns": ["arn:aws:iam::123456789012:role/ci"],
    }
    found = errors_by_field(registry.validate("iam-role", both, "dev", prod=False))
    assert "AWS services never sign in with MFA" in found["trusted_services"].message
    assert found["trusted_services"].allowed == "no trusted services while trusted principals must use MFA"
    assert registry.validate("iam-role", {**both, "require_mfa": False}, "dev", prod=False).ok
    services_only = {"name": "worker", "trusted_services": ["ecs-tasks.amazonaws.com"]}
    assert registry.validate("iam-role", services_only, "prod", prod=True).ok
    principals_only = {"name": "deployer", "trusted_role_arns": ["arn:aws:iam::123456789012:role/ci"]}
    assert registry.validate("iam-role", principals_only, "prod", prod=True).ok


def test_relations_between_fields_are_field_errors(registry: Registry) -> None:
    big = {"name": "db", **RDS_NET, "allocated_storage": 200}
    found = errors_by_field(registry.validate("rds-postgres", big, "dev", prod=False))
    assert "ceiling storage autoscaling" in found["max_allocated_storage"].message
    assert found["max_allocated_storage"].allowed == "more than allocated_storage (200)"
    assert registry.validate("rds-postgres", {**big, "max_allocated_storage": 400}, "dev", prod=False).ok
    same_key = {"name": "t", "hash_key": "pk", "range_key": "pk"}
    found = errors_by_field(registry.validate("dynamodb-table", same_key, "dev", prod=False))
    assert found["range_key"].allowed == "different from hash_key (pk)"
    assert registry.validate("dynamodb-table", {**same_key, "range_key": "sk"}, "dev", prod=False).ok
    # A field that already failed its own schema is not compared as well.
    found = errors_by_field(registry.validate("rds-postgres", {**big, "allocated_storage": "lots"}, "dev", prod=False))
    assert "max_allocated_storage" not in found and found["allocated_storage"].message.startswith("must be")


def test_constraints_apply_to_prod_nonprod_all_or_named_environments(tmp_path: Path) -> None:
    doc = json.loads((catalogue.builtin_modules_dir() / "s3-bucket.json").read_text())
    doc["constraints"] = [
        {"field": "versioning", "applies_to": "prod", "schema": {"const": True}, "message": "prod rule"},
        {"field": "force_destroy", "applies_to": "nonprod", "schema": {"const": True}, "message": "nonprod rule"},
        {"field": "encryption", "applies_to": ["qa", "perf"], "schema": {"const": "sse-kms"}, "message": "named rule"},
        {"field": "expiration_days", "applies_to": "all", "schema": {"maximum": 400}, "message": "everywhere rule"},
    ]
    (tmp_path / "s3-bucket.json").write_text(json.dumps(doc))
    registry = catalogue.load_registry(tmp_path)
    config = {"name": "data", "versioning": False, "expiration_days": 500}

    def messages(environment: str, prod: bool) -> set[str]:
        return {e.message for e in registry.validate("s3-bucket", config, environment, prod=prod).errors}

    assert messages("prod", True) == {"prod rule", "everywhere rule"}
    assert messages("dev", False) == {"nonprod rule", "everywhere rule"}
    assert messages("qa", False) == {"nonprod rule", "named rule", "everywhere rule"}
    # The prod flag, not the name, decides: a production environment called "live" gets the prod rules.
    assert messages("live", True) == {"prod rule", "everywhere rule"}


FIFO_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:core-dev-orders.fifo"


@pytest.mark.parametrize(
    ("protocol", "endpoint"),
    [
        ("email", "ops@example.com"),
        ("https", "https://hooks.example.com/orders"),
        ("lambda", "arn:aws:lambda:us-east-1:123456789012:function:orders-handler"),
    ],
)
def test_a_fifo_topic_refuses_every_subscription_but_sqs_naming_it(
    registry: Registry, protocol: str, endpoint: str
) -> None:
    config = {
        "name": "orders",
        "fifo": True,
        "subscriptions": {
            "worker": {"protocol": "sqs", "endpoint": FIFO_QUEUE_ARN},
            "notify": {"protocol": protocol, "endpoint": endpoint},
        },
    }
    result = registry.validate("sns-topic", config, "dev", prod=False, project="core")
    assert not result.ok
    [error] = result.errors
    assert error.field == "subscriptions.notify.protocol"  # the offending subscription, by its name
    assert error.message.startswith("must be sqs: a FIFO topic delivers only to SQS queues")
    assert error.allowed == "sqs, or a standard topic (fifo false) for other protocols"


def test_the_same_subscriptions_are_fine_on_a_standard_topic(registry: Registry) -> None:
    subscriptions = {
        "mail": {"protocol": "email", "endpoint": "ops@example.com"},
        "hook": {"protocol": "https", "endpoint": "https://hooks.example.com/orders"},
        "fn": {"protocol": "lambda", "endpoint": "arn:aws:lambda:us-east-1:123456789012:function:orders-handler"},
    }
    assert registry.validate("sns-topic", {"name": "orders", "subscriptions": subscriptions}, "dev", prod=False).ok
    explicit = {"name": "orders", "fifo": False, "subscriptions": subscriptions}
    assert registry.validate("sns-topic", explicit, "dev", prod=False).ok


def test_a_fifo_topic_with_sqs_subscriptions_only_is_valid_and_every_offender_is_named(registry: Registry) -> None:
    ok = {"name": "orders", "fifo": True, "subscriptions": {"worker": {"protocol": "sqs", "endpoint": FIFO_QUEUE_ARN}}}
    assert registry.validate("sns-topic", ok, "dev", prod=False).ok
    bad = {
        "name": "orders",
        "fifo": True,
        "subscriptions": {
            "mail": {"protocol": "email", "endpoint": "ops@example.com"},
            "hook": {"protocol": "https", "endpoint": "https://hooks.example.com/orders"},
        },
    }
    found = errors_by_field(registry.validate("sns-topic", bad, "dev", prod=False))
    assert set(found) == {"subscriptions.mail.protocol", "subscriptions.hook.protocol"}


def test_the_fifo_rule_is_accepted_by_the_meta_schema_and_refused_by_the_renderer(registry: Registry) -> None:
    from module_registry import meta, render
    from module_registry.errors import ConfigRejected

    path = Path(catalogue.__file__).parent / "modules" / "sns-topic.json"
    definition = meta.check_document(meta.read_document(path), path.name, expected_id="sns-topic")
    # A draft 2020-12 conditional on the fifo flag, with required in the "if" so that a partial
    # preset without fifo does not trigger it.
    [rule] = [r for r in definition.schema_["allOf"] if "fifo" in r["if"]["properties"]]
    assert rule["if"]["required"] == ["fifo"]
    assert (
        rule["then"]["properties"]["subscriptions"]["additionalProperties"]["properties"]["protocol"]["const"] == "sqs"
    )
    inp = render.RenderInput(
        request_id="req_fifo12345678",
        project="core",
        environment="dev",
        module="sns-topic",
        config={"name": "orders", "fifo": True, "subscriptions": {"n": {"protocol": "email", "endpoint": "a@b.io"}}},
        env_path="envs/dev",
        requester="U1",
        prod=False,
    )
    with pytest.raises(ConfigRejected) as refused:
        render.render(inp, registry)
    assert [e.field for e in refused.value.errors] == ["subscriptions.n.protocol"]
