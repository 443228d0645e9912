"""The destroy preflight (``core.domain.destroy.preflight``): typed refusals from a destroy plan,
and the local runner's words for them (``core.adapters.preflight_text``, as the CI helper says)."""

from __future__ import annotations

from typing import Any

from core.adapters.preflight_text import preflight_message, refusal_words
from core.domain.destroy import Refusal, data_probes, preflight


def _deleted(rtype: str, address: str, before: dict[str, Any]) -> dict[str, Any]:
    return {"type": rtype, "address": address, "mode": "managed", "change": {"actions": ["delete"], "before": before}}


PLAN = {
    "resource_changes": [
        _deleted("aws_dynamodb_table", "module.t.aws_dynamodb_table.this[0]", {"deletion_protection_enabled": True}),
        _deleted("aws_s3_bucket", "module.b.aws_s3_bucket.this[0]", {"force_destroy": False, "bucket": "logs"}),
        _deleted("aws_s3_bucket", "module.c.aws_s3_bucket.this[0]", {"force_destroy": True, "bucket": "tmp"}),
        _deleted("aws_sqs_queue", "module.q.aws_sqs_queue.this", {}),
    ]
}


def test_the_preflight_types_what_aws_would_refuse() -> None:
    assert data_probes(PLAN) == [("objects", "logs")]
    refusals = preflight(PLAN, [("objects", "logs")])
    assert refusals == [
        Refusal(
            address="module.t.aws_dynamodb_table.this[0]",
            resource_type="aws_dynamodb_table",
            attribute="deletion_protection_enabled",
            kind="flag",
        ),
        Refusal(
            address="module.b.aws_s3_bucket.this[0]",
            resource_type="aws_s3_bucket",
            attribute="force_destroy",
            kind="data",
            data="objects",
        ),
    ]
    assert preflight(PLAN, []) == refusals[:1]  # an empty bucket deletes


def test_the_runner_words_them_as_before() -> None:
    refusals = preflight(PLAN, [("objects", "logs")])
    assert refusal_words(refusals[0]) == (
        "module.t.aws_dynamodb_table.this[0]: deletion_protection_enabled is on: "
        "turn deletion protection off (Prepare destroy)"
    )
    assert refusal_words(refusals[1]) == (
        "module.b.aws_s3_bucket.this[0]: it holds objects and force_destroy is off: "
        "set force_destroy (Prepare destroy), or empty the bucket (every object version)"
    )
    assert preflight_message(refusals).startswith(
        "destroy refused before deleting anything: AWS would refuse module.t.aws_dynamodb_table.this[0]: "
    )
