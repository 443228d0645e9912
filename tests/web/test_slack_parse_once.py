"""``/slack/events`` parses a body once: the route's bounded parse is what Bolt dispatches on
(``bot.web.slack_body``), and it is the envelope Bolt's own parser would have produced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_bolt.request import internals as bolt_internals
from slack_bolt.request import request as bolt_request_module

from bot.web.slack_body import BadSlackBody, parse_slack_body
from tests.conftest import SHARED_FIXTURES
from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import sign
from tests.web.test_slack_routes import url_verification, web_with_slack

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def bolt_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every body Bolt's ``BoltRequest`` parses itself (it should see none)."""
    seen: list[str] = []
    real = bolt_request_module.parse_body

    def counting(body: str, content_type: str | None) -> dict[str, Any]:
        if body:
            seen.append(body)
        return real(body, content_type)

    monkeypatch.setattr(bolt_request_module, "parse_body", counting)
    return seen


def _fixture(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SHARED_FIXTURES / "slack" / "payloads" / name).read_text())
    return doc


def _post(client: TestClient, body: str, content_type: str) -> Any:
    return client.post("/slack/events", content=body, headers={"content-type": content_type, **sign(body)})


def test_bolt_dispatches_the_routes_parse_without_parsing_again(fake_slack: FakeSlack, bolt_parses: list[str]) -> None:
    client = web_with_slack(fake_slack)
    response = _post(client, url_verification(), "application/json")
    assert response.status_code == 200 and response.json() == {"challenge": "c-123"}
    command = {**_fixture("slash_command.json"), "command": "/tfpilot", "text": "help"}
    command["response_url"] = fake_slack.response_url("parse-once")
    assert _post(client, urlencode(command), FORM).status_code == 200
    assert bolt_parses == []


def test_a_command_that_says_payload_reaches_its_listener(fake_slack: FakeSlack) -> None:
    # Bolt's own parser reads any form body containing the word "payload" as an interaction
    # without one (an empty envelope: no listener, 404); the route's parse keeps the command.
    command = {**_fixture("slash_command.json"), "command": "/tfpilot", "text": "help payload"}
    command["response_url"] = fake_slack.response_url("payload-word")
    body = urlencode(command)
    assert bolt_internals.parse_body(body, FORM) == {}
    assert _post(web_with_slack(fake_slack), body, FORM).status_code == 200


def test_a_click_outside_enterprise_grid_is_accepted(fake_slack: FakeSlack) -> None:
    # Slack sends "enterprise": null for a workspace outside Enterprise Grid.
    payload = _fixture("block_actions_button_click.json")["payload"]
    payload["enterprise"] = None
    payload["is_enterprise_install"] = False
    payload["actions"][0].update(action_id="req:apply", block_id="card:nope", value='{"r":"nope","v":1}')
    parsed = parse_slack_body(urlencode({"payload": json.dumps(payload)}).encode(), FORM)
    assert parsed.envelope["enterprise"] is None
    response = _post(web_with_slack(fake_slack), urlencode({"payload": json.dumps(payload)}), FORM)
    assert response.status_code == 200, response.text


_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
_values = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
)
_envelopes = st.fixed_dictionaries(
    {"type": st.sampled_from(["block_actions", "event_callback", "view_submission"])},
    optional={"event": st.dictionaries(st.text(max_size=8), _values, max_size=3), "token": st.text(max_size=8)},
)
_forms = st.dictionaries(
    st.text(min_size=1, max_size=10).filter(lambda k: k != "payload"), st.text(max_size=20), max_size=5
).map(urlencode)
_texts = st.one_of(
    _envelopes.map(json.dumps),
    _envelopes.map(lambda d: urlencode({"payload": json.dumps(d)})),
    _forms,
    st.text(max_size=60),
)


@settings(max_examples=200, deadline=None)
@given(text=_texts, content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", FORM, ""]))
def test_the_routes_parse_is_bolts(text: str, content_type: str) -> None:
    try:
        parsed = parse_slack_body(text.encode(), content_type)
    except BadSlackBody:
        return  # refused with a 400: stricter than Bolt is allowed
    assert parsed.text == text
    bolts = bolt_internals.parse_body(text, content_type.split(";", maxsplit=1)[0] or None)
    if "payload" in text and "payload" not in dict(bolt_internals.parse_qsl(text, keep_blank_values=True)):
        return  # Bolt's empty envelope for a form mentioning "payload" (see the test above)
    assert parsed.envelope == bolts
