"""The local runner's words for a destroy its preflight refuses (``core.domain.destroy.Refusal``).

The runner stands in for the infra repo's destroy workflow, whose CI helper writes the same
sentences (``destroy-preflight``): to the engine this is the run's diagnostic, text from outside
that is carried as data, like Terraform's own.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.domain.destroy import Refusal

# What lifts each resource type's protection.
FIXES: dict[str, str] = {
    "aws_s3_bucket": "set force_destroy (Prepare destroy), or empty the bucket (every object version)",
    "aws_ecr_repository": "set force_delete (Prepare destroy), or delete the repository's images",
    "aws_dynamodb_table": "turn deletion protection off (Prepare destroy)",
    "aws_db_instance": "turn deletion protection off (Prepare destroy)",
    "aws_instance": "turn termination protection off (Prepare destroy)",
}


def refusal_words(refusal: Refusal) -> str:
    fix = FIXES.get(refusal.resource_type, "Prepare destroy")
    if refusal.kind == "flag":
        return f"{refusal.address}: {refusal.attribute} is on: {fix}"
    return f"{refusal.address}: it holds {refusal.data} and {refusal.attribute} is off: {fix}"


def preflight_message(refusals: Sequence[Refusal]) -> str:
    listed = "; ".join(refusal_words(r) for r in refusals)
    return f"destroy refused before deleting anything: AWS would refuse {listed}"
