"""Resource naming policy: ``<project>-<environment>-<name>``, lowercase, checked against the
limits of the AWS resource it names (length, charset, first character, suffix).

The short ``name`` a user gives is checked as an identifier first; the full name is then checked
against the resource's own rule so the error says exactly how much to shorten.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from module_registry import identifiers
from module_registry.errors import InvalidName


@dataclass(frozen=True)
class NameRule:
    kind: str
    label: str  # "S3 bucket names"
    min_length: int
    max_length: int
    pattern: re.Pattern[str]
    charset: str  # plain words for the pattern
    first_letter: bool = False
    forbid_double_hyphen: bool = False


_LOWER_DASH = re.compile(r"^[a-z0-9-]+$")
_LOWER_DASH_DOT = re.compile(r"^[a-z0-9.-]+$")

RULES: dict[str, NameRule] = {
    rule.kind: rule
    for rule in (
        NameRule("s3", "S3 bucket names", 3, 63, _LOWER_DASH, "lowercase letters, digits and hyphens"),
        # 80 includes the ".fifo" suffix of FIFO queues.
        NameRule("sqs", "SQS queue names", 1, 80, _LOWER_DASH_DOT, "lowercase letters, digits and hyphens"),
        NameRule("sns", "SNS topic names", 1, 256, _LOWER_DASH_DOT, "lowercase letters, digits and hyphens"),
        NameRule("dynamodb", "DynamoDB table names", 3, 255, _LOWER_DASH, "lowercase letters, digits and hyphens"),
        NameRule("ecr", "ECR repository names", 2, 256, _LOWER_DASH, "lowercase letters, digits and hyphens"),
        NameRule("iam-role", "IAM role names", 1, 64, _LOWER_DASH, "lowercase letters, digits and hyphens"),
        NameRule(
            "rds",
            "RDS instance identifiers",
            1,
            63,
            _LOWER_DASH,
            "lowercase letters, digits and hyphens",
            first_letter=True,
            forbid_double_hyphen=True,
        ),
        NameRule("ec2", "EC2 Name tags", 1, 255, _LOWER_DASH, "lowercase letters, digits and hyphens"),
        NameRule("generic", "resource names", 1, 255, _LOWER_DASH, "lowercase letters, digits and hyphens"),
    )
}


def rule(kind: str) -> NameRule:
    try:
        return RULES[kind]
    except KeyError:
        raise InvalidName("naming rule", kind, f"is not one of {', '.join(sorted(RULES))}") from None


def compose(project: str, environment: str, name: str, *, suffix: str = "") -> str:
    """``<project>-<environment>-<name><suffix>`` after checking each part as an identifier."""
    identifiers.check_project(project)
    identifiers.check_environment(environment)
    identifiers.check("name", name)
    return f"{project}-{environment}-{name}{suffix}"


def problems(full_name: str, kind: str, *, suffix: str = "", reserve: int = 0) -> list[str]:
    """Every way ``full_name`` breaks the rule for ``kind`` (empty when it is valid).

    ``reserve``: characters the module appends to names it derives (an SQS ``-dlq``)."""
    spec = rule(kind)
    found: list[str] = []
    limit = spec.max_length - reserve
    if len(full_name) > limit:
        over = len(full_name) - limit
        room = f" (keeping {reserve} for the suffix the module adds)" if reserve else ""
        found.append(
            f"the full name {full_name!r} is {len(full_name)} characters; {spec.label} allow at most "
            f"{limit}{room}: shorten the name by {over} character{'s' if over != 1 else ''}"
        )
    if len(full_name) < spec.min_length:
        found.append(f"the full name {full_name!r} is shorter than the {spec.min_length} characters {spec.label} need")
    stem = full_name[: len(full_name) - len(suffix)] if suffix and full_name.endswith(suffix) else full_name
    if not spec.pattern.match(stem):
        found.append(f"{spec.label} may only contain {spec.charset}")
    if spec.first_letter and not full_name[:1].isalpha():
        found.append(f"{spec.label} must start with a letter")
    if spec.forbid_double_hyphen and "--" in full_name:
        found.append(f"{spec.label} cannot contain two hyphens in a row")
    if full_name.endswith("-") or stem.endswith("-"):
        found.append(f"{spec.label} cannot end with a hyphen")
    if kind == "s3":
        found.extend(_s3_problems(full_name))
    return found


def _s3_problems(name: str) -> list[str]:
    found: list[str] = []
    try:
        ipaddress.ip_address(name)
        found.append("S3 bucket names cannot look like an IP address")
    except ValueError:
        pass
    if name.startswith(("xn--", "sthree-")):
        found.append("S3 bucket names cannot start with 'xn--' or 'sthree-'")
    if name.endswith(("-s3alias", "--ol-s3", "--x-s3", "--table-s3")):
        found.append("S3 bucket names cannot end with an AWS-reserved suffix such as '-s3alias'")
    return found


def build(project: str, environment: str, name: str, kind: str, *, suffix: str = "", reserve: int = 0) -> str:
    """The full resource name, or ``InvalidName`` explaining every problem."""
    full = compose(project, environment, name, suffix=suffix)
    found = problems(full, kind, suffix=suffix, reserve=reserve)
    if found:
        raise InvalidName("name", name, "; ".join(found))
    return full


def validate_resource_name(full_name: str, kind: str, *, suffix: str = "") -> list[str]:
    """Alias of :func:`problems` under the name the policy is known by."""
    return problems(full_name, kind, suffix=suffix)
