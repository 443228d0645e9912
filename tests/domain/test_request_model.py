"""The one Request model: reads the reference's camelCase documents, writes the same keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.domain.errors import InvalidDocument
from core.domain.request import Request

# Shaped like the example document of the earlier TfPilot (camelCase keys), plus fields the
# reference lists elsewhere (cleanupPr, cost, previousPrs, ...).
REFERENCE_DOC: dict[str, Any] = {
    "id": "req_abc123",
    "project": "core",
    "environment": "dev",
    "module": "s3-bucket",
    "config": {"bucket_name": "my-bucket", "tags": {}},
    "receivedAt": "2025-02-20T10:00:00Z",
    "updatedAt": "2025-02-20T10:05:00Z",
    "status": "plan_ready",
    "statusDerivedAt": "2025-02-20T10:05:00Z",
    "version": 3,
    "revision": 2,
    "templateId": "s3-bucket@1",
    "environmentName": "Development",
    "targetOwner": "org",
    "targetRepo": "core-terraform",
    "targetBase": "main",
    "targetEnvPath": "envs/dev",
    "targetFiles": ["envs/dev/tfpilot_req_abc123.tf"],
    "branchName": "request/req_abc123",
    "prNumber": 42,
    "prUrl": "https://github.com/org/core-terraform/pull/42",
    "pr": {"number": 42, "url": "https://github.com/org/core-terraform/pull/42", "merged": False, "open": True},
    "pullRequest": {
        "number": 42,
        "url": "https://github.com/org/core-terraform/pull/42",
        "merged": False,
        "open": True,
    },
    "commitSha": "abc",
    "mergedSha": None,
    "activePrNumber": 42,
    "previousPrs": [{"number": 41, "url": "https://github.com/org/core-terraform/pull/41"}],
    "planRun": {"runId": 100, "url": "https://x/100", "status": "completed", "conclusion": "success", "headSha": "abc"},
    "applyRun": None,
    "approval": None,
    "destroyRun": None,
    "plan": {"output": "Plan: 1 to add, 0 to change, 0 to destroy."},
    "cleanupPr": {"number": 50, "url": "https://x/50", "merged": False, "status": "open"},
    "timeline": [{"step": "Request created", "at": "2025-02-20T10:00:00Z"}],
    "cost": {"monthlyCost": 1.5, "currency": "USD"},
    "drift": {"detected": False, "checkedAt": "2025-02-21T10:00:00Z"},
    "render": {"engine": "v1"},
    "moduleRef": "terraform-aws-modules/s3-bucket/aws@4.6.0",
    "registryRef": "builtin",
    "assistantState": {"step": "done"},  # unknown to us: must be kept
}


def _assert_contains(actual: Any, expected: Any, path: str) -> None:
    """Every key and value of ``expected`` is in ``actual`` (the model may add keys)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing"
            _assert_contains(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), path
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _assert_contains(a, e, f"{path}.{i}")
    elif isinstance(expected, str) and path.endswith(("At", ".at")):
        assert actual.replace("+00:00", "Z") == expected, path
    else:
        assert actual == expected, path


def test_reads_the_reference_document_and_writes_the_same_keys_and_values() -> None:
    request = Request.from_doc(REFERENCE_DOC)
    assert request.plan_run is not None and request.plan_run.run_id == 100
    assert request.pr is not None and request.pr.open
    _assert_contains(request.to_doc(), REFERENCE_DOC, "doc")


def test_round_trip_through_json_is_stable() -> None:
    once = Request.from_doc(REFERENCE_DOC).to_json()
    twice = Request.from_json(once).to_json()
    assert once == twice
    assert json.loads(once)["assistantState"] == {"step": "done"}


def test_snake_case_attributes_for_python_code() -> None:
    request = Request.from_doc(REFERENCE_DOC)
    assert request.target_env_path == "envs/dev"
    assert request.cleanup_pr is not None and request.cleanup_pr.number == 50


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"version": "three"}, "version"),
        ({"planRun": {"runId": "abc"}}, "planRun.runId"),
        ({"pr": {"merged": "perhaps"}}, "pr.merged"),
        ({"timeline": [{"step": "x"}]}, "timeline.0.at"),
        ({"receivedAt": "yesterday"}, "receivedAt"),
        ({"config": ["not", "a", "map"]}, "config"),
    ],
)
def test_wrong_types_are_rejected_naming_the_field(patch: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidDocument) as info:
        Request.from_doc({**REFERENCE_DOC, **patch}, key="requests/req_abc123.json")
    assert field in {p.loc for p in info.value.problems}
    assert "requests/req_abc123.json" in str(info.value)


def test_missing_identity_is_rejected() -> None:
    doc = dict(REFERENCE_DOC)
    del doc["project"]
    with pytest.raises(InvalidDocument, match="project"):
        Request.from_doc(doc)


def test_corrupted_json_is_reported() -> None:
    with pytest.raises(InvalidDocument):
        Request.from_json(b"{not json", key="requests/x.json")


# Every key the reference's "State model" lists for the request document (and the metrics
# builder's inputs), with the keys of each sub-document it names.
REFERENCE_FIELDS = {
    # identity / meta
    "id", "project", "environment", "module", "receivedAt", "updatedAt", "version", "revision", "status",
    "statusDerivedAt",
    # config
    "config", "templateId", "environmentName",
    # git / PR
    "targetOwner", "targetRepo", "targetBase", "targetEnvPath", "targetFiles", "branchName", "prNumber", "prUrl",
    "pr", "pullRequest", "commitSha", "mergedSha", "activePrNumber", "previousPrs",
    # runs, approval, plan output, cleanup, timeline, other
    "planRun", "applyRun", "destroyRun", "approval", "plan", "cleanupPr", "timeline", "cost", "render",
    "moduleRef", "registryRef",
    # read by the ops metrics builder
    "applyTriggeredAt", "appliedAt",
}  # fmt: skip
REFERENCE_SUBFIELDS = {
    "planRun": {"runId", "url", "status", "conclusion", "headSha"},
    "applyRun": {"runId", "url", "status", "conclusion"},
    "destroyRun": {"runId", "url", "status", "conclusion"},
    "pr": {"number", "url", "merged", "open", "headSha"},
    "pullRequest": {"number", "url", "merged", "open", "headSha"},
    "approval": {"approved", "approvers"},
    "cleanupPr": {"number", "url", "merged", "status"},
    "timeline": {"step", "status", "message", "at"},
}


def _declared(model: type[Any]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


def _sub_model(field: str) -> type[Any]:
    annotation = Request.model_fields[{(i.alias or n): n for n, i in Request.model_fields.items()}[field]].annotation
    for candidate in getattr(annotation, "__args__", (annotation,)):
        inner = getattr(candidate, "__args__", (candidate,))[0] if hasattr(candidate, "__origin__") else candidate
        if isinstance(inner, type) and hasattr(inner, "model_fields"):
            return inner
    raise AssertionError(f"{field} is not a sub-document")


def test_every_field_of_the_reference_state_model_is_declared() -> None:
    assert REFERENCE_FIELDS - _declared(Request) == set()
    for field, keys in REFERENCE_SUBFIELDS.items():
        assert keys - _declared(_sub_model(field)) == set(), field


def test_a_minimal_request_writes_every_reference_key() -> None:
    written = Request.from_doc(
        {"id": "req_abc123", "project": "core", "environment": "dev", "module": "s3-bucket",
         "receivedAt": "2025-02-20T10:00:00.000Z", "updatedAt": "2025-02-20T10:00:00.000Z"}
    ).to_doc()  # fmt: skip
    assert REFERENCE_FIELDS - set(written) == set()


def test_the_reference_example_document_as_printed() -> None:
    # The reference's example, verbatim but for its elided values ("..." URLs and timestamps).
    doc = json.loads(
        """{
          "id": "req_abc123", "project": "core", "environment": "dev", "module": "s3-bucket",
          "config": { "bucket_name": "my-bucket", "tags": {} },
          "receivedAt": "2025-02-20T10:00:00.000Z", "updatedAt": "2025-02-20T10:05:00.000Z",
          "status": "plan_ready", "statusDerivedAt": "2025-02-20T10:05:00.000Z", "version": 3,
          "targetOwner": "org", "targetRepo": "core-terraform", "targetBase": "main", "targetEnvPath": "envs/dev",
          "branchName": "request/req_abc123", "prNumber": 42,
          "pr": { "number": 42, "url": "https://github.com/org/core-terraform/pull/42", "merged": false, "open": true },
          "planRun": { "runId": 100, "url": "https://github.com/org/core-terraform/actions/runs/100",
                       "status": "completed", "conclusion": "success" },
          "applyRun": null, "approval": null, "destroyRun": null,
          "timeline": [{ "step": "Request created", "at": "2025-02-20T10:00:00.000Z" }]
        }"""
    )
    request = Request.from_doc(doc)
    assert (request.version, request.pr_number, request.timeline[0].step) == (3, 42, "Request created")
    assert request.received_at.isoformat() == "2025-02-20T10:00:00+00:00"
    written = json.loads(request.to_json())
    assert set(doc) <= set(written)
    for key, value in doc.items():
        if key.endswith("At"):
            assert written[key].replace("Z", ".000Z") == value, key
        elif key == "timeline":
            assert written[key][0]["step"] == "Request created"
        elif isinstance(value, dict):
            assert {k: written[key][k] for k in value} == value, key
        else:
            assert written[key] == value, key
