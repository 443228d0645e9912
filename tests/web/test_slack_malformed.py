"""``/slack/events`` never answers 500 to a malformed body, signed or not: the signature is
checked first over the raw bytes (401), then the body is parsed with bounds (400)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.web.slack_body import MAX_DEPTH, nesting
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import SIGNING_SECRET
from tests.web.test_slack_routes import web_with_slack

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    fake = FakeSlack().start()
    try:
        yield web_with_slack(fake)
    finally:
        fake.stop()


def _post(client: TestClient, body: bytes, content_type: str, *, signed: bool) -> tuple[int, str]:
    headers = {"content-type": content_type}
    if signed:
        headers.update(_sign_bytes(body))
    response = client.post("/slack/events", content=body, headers=headers)
    return response.status_code, response.text


def _sign_bytes(body: bytes) -> dict[str, str]:
    """``tests.slack.harness.sign`` over raw bytes (a body need not be UTF-8)."""
    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": ts, "x-slack-signature": f"v0={digest}"}


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("body", "content_type", "status", "reason"),
    [
        (b"{not json", JSON, 400, "not valid JSON"),
        (b"[1, 2]", JSON, 400, "not a JSON object"),
        (b"\xff\xfe", JSON, 400, "not UTF-8"),
        (b"", JSON, 400, "empty"),
        (b'{"a": ' + _nested(5000).encode() + b"}", JSON, 400, "nests deeper"),
        (urlencode({"payload": "{" * 10}).encode(), FORM, 400, "not valid JSON"),
        (urlencode({"payload": _nested(100_000)}).encode(), FORM, 400, "nests deeper"),
        (urlencode({"payload": '"a string"'}).encode(), FORM, 400, "not a JSON object"),
        # Found by the property test below: Bolt's authorization reads body.get("event", {}).get
        (b'{"":"","event":null}', JSON, 400, "`event` is not an object"),
        (urlencode({"payload": '{"type": "block_actions", "view": null}'}).encode(), FORM, 400, "`view` is not"),
    ],
)
def test_signed_malformed_bodies_are_400_with_a_reason(
    client: TestClient, body: bytes, content_type: str, status: int, reason: str
) -> None:
    code, text = _post(client, body, content_type, signed=True)
    assert code == status and reason in text


def test_unsigned_bodies_are_refused_before_they_are_parsed(client: TestClient) -> None:
    code, text = _post(client, urlencode({"payload": _nested(100_000)}).encode(), FORM, signed=False)
    assert code == 401 and "not signed" in text
    response = client.post(
        "/slack/events",
        content=b"{}",
        headers={"content-type": JSON, "x-slack-request-timestamp": "soon", "x-slack-signature": "v0=00"},
    )
    assert response.status_code == 401 and "not a number" in response.text


def test_nesting_skips_strings() -> None:
    assert nesting(json.loads('{"a": "[[[[{{{{", "b": [1, {"c": []}]}')) == 4
    assert nesting(json.loads(_nested(MAX_DEPTH))) == MAX_DEPTH
    assert nesting("[[[") == 0


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 200])
def test_a_body_just_past_the_bound_is_400(client: TestClient, depth: int) -> None:
    # Past MAX_DEPTH but well within json's recursion limit: refused by the walk, not the parser.
    body = json.dumps({"type": "event_callback", "event": {"x": json.loads(_nested(depth - 2))}}).encode()
    code, text = _post(client, body, JSON, signed=True)
    assert code == 400 and "nests deeper" in text


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=30,
)
_envelopes = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["event_callback", "block_actions", "view_submission", "url_verification"])
        | st.text(max_size=10),
        "team_id": st.text(max_size=12),
        "event_id": st.text(max_size=12),
        "event": _json_values,
        "actions": _json_values,
        "view": _json_values,
        "team": _json_values,
        "user": _json_values,
        "challenge": _json_values,
    },
)
_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    _envelopes.map(lambda d: json.dumps(d).encode()),
    _envelopes.map(lambda d: urlencode({"payload": json.dumps(d)}).encode()),
    st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=5).map(lambda d: urlencode(d).encode()),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_bodies, content_type=st.sampled_from([JSON, FORM, "text/plain", ""]), signed=st.booleans())
def test_arbitrary_bodies_never_answer_500(client: TestClient, body: bytes, content_type: str, signed: bool) -> None:
    code, _text = _post(client, body, content_type, signed=signed)
    assert code < 500, (code, body[:200])
    if not signed:
        assert code == 401
