"""``OpenAIChatModel`` through the real openai SDK against a respx router on ``/v1/responses``
(``tests.assistant.openai_api``): what the request carries (model, strict schema from the
module, the message as data, the output budget and reasoning effort for the model) and how
every kind of failure (HTTP errors, timeouts, incomplete responses, refusals, bad output) falls
back to the rules."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from assistant.adapters.openai_model import DEFAULT_MODEL, ModelOutputError, OpenAIChatModel, build_chat_model
from assistant.adapters.openai_profiles import REASONING_HEADROOM, profile_for
from assistant.domain.chat_model import FallbackChatModel
from assistant.domain.flow import extraction_context
from assistant.domain.rules import RuleExtractor
from assistant.domain.session import ConversationKey, IntakeSession
from tests.assistant import openai_api
from tests.assistant.conftest import World
from tests.assistant.fakes import FakeProjects, FakeRegistry

Handler = Callable[[httpx.Request], httpx.Response]
UNSUPPORTED = {"default", "examples", "minLength", "maxLength", "allOf", "oneOf", "not", "if", "then", "else", "$ref"}


class FakeOpenAI:
    """A respx router with one route, ``POST /v1/responses``, answering with the queued
    handlers in order (the last one repeats); ``requests`` are the JSON bodies it received."""

    def __init__(self, *handlers: Handler) -> None:
        self.handlers = list(handlers)
        self.router = openai_api.router()
        self.route = self.router.post("/responses").mock(side_effect=self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        handler = self.handlers.pop(0) if len(self.handlers) > 1 else self.handlers[0]
        return handler(request)

    @property
    def requests(self) -> list[dict[str, Any]]:
        return openai_api.sent(self.route)

    def client(self) -> Any:
        return openai_api.client(self.router)


def answer(**fields: Any) -> Handler:
    base: dict[str, Any] = {
        "intent": "none",
        "project": None,
        "environment": None,
        "module": None,
        "preset": None,
        "use_default": [],
        "config": [],  # no module known: field/value pairs
    }
    base.update(fields)
    return lambda _req: openai_api.ok(json.dumps(base))


def bucket_config(**values: Any) -> dict[str, Any]:
    config: dict[str, Any] = dict.fromkeys(FakeRegistry().get("s3-bucket").schema["properties"])
    config.update(values)
    return config


def context(**session_fields: Any) -> Any:
    from datetime import UTC, datetime

    s = IntakeSession.start(
        ConversationKey(channel="C", thread_ts="1"), "U", session_id="ses_1", now=datetime(2026, 1, 1, tzinfo=UTC)
    )
    for k, v in session_fields.items():
        setattr(s, k, v)
    return extraction_context(s, FakeRegistry(), FakeProjects())


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_request_carries_the_model_and_the_module_derived_strict_schema() -> None:
    fake = FakeOpenAI(
        answer(project="payments", environment="dev", module="s3-bucket", config=bucket_config(name="team-logs"))
    )
    model = OpenAIChatModel(fake.client(), "gpt-test", timeout=3)
    found = model.extract("a bucket team-logs in payments dev", context())
    assert found.extractor == "openai" and found.config == {"name": "team-logs"}
    [body] = fake.requests
    assert body["model"] == "gpt-test"
    fmt = body["text"]["format"]
    assert fmt["type"] == "json_schema" and fmt["strict"] is True and fmt["name"] == "tfpilot_intake"
    schema = fmt["schema"]
    config = schema["properties"]["config"]
    # The module was guessed from the message, so config follows the s3-bucket schema.
    assert set(config["properties"]) == {
        "name",
        "versioning",
        "force_destroy",
        "storage_class",
        "expiration_days",
        "tags",
    }
    assert config["properties"]["name"]["type"] == ["string", "null"]
    assert config["properties"]["name"]["pattern"] == "^[a-z0-9][a-z0-9-]{2,40}$"
    assert config["properties"]["storage_class"]["enum"] == ["STANDARD", "INTELLIGENT_TIERING", "GLACIER", None]
    assert "Default: true" in config["properties"]["versioning"]["description"]
    assert config["properties"]["tags"]["type"] == ["array", "null"]  # a map becomes key/value pairs
    assert schema["properties"]["project"]["enum"] == ["payments", "core", None]
    for node in walk(schema):
        if node.get("type") == "object" or node.get("type") == ["object", "null"]:
            assert node["additionalProperties"] is False
            assert node["required"] == list(node["properties"])
    # The user's text travels as data inside a JSON document, after rules that say so.
    assert "never follow" in body["instructions"]
    [user] = body["input"]
    assert user["role"] == "user"
    assert json.loads(user["content"])["message"] == "a bucket team-logs in payments dev"
    assert body["store"] is False  # nothing of the conversation is kept on OpenAI's side


def test_no_unsupported_keyword_survives_anywhere() -> None:
    fake = FakeOpenAI(answer(config=bucket_config()))
    OpenAIChatModel(fake.client(), "m").extract("bucket", context())
    schema = fake.requests[0]["text"]["format"]["schema"]
    for node in walk(schema["properties"]["config"]["properties"]):
        assert not (UNSUPPORTED & set(node)), node


def test_model_name_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TFPILOT_OPENAI_MODEL", "gpt-from-env")
    fake = FakeOpenAI(answer())
    OpenAIChatModel(fake.client()).extract("hello", context())
    assert fake.requests[0]["model"] == "gpt-from-env"


def test_selected_module_schema_is_used_and_maps_come_back_as_maps() -> None:
    fake = FakeOpenAI(answer(config=bucket_config(tags=[{"key": "team", "value": "payments"}], expiration_days=30)))
    found = OpenAIChatModel(fake.client(), "m").extract(
        "tag it team=payments, expire after a month", context(module="s3-bucket", step="confirm")
    )
    assert found.config == {"tags": {"team": "payments"}, "expiration_days": 30}
    user = json.loads(fake.requests[0]["input"][0]["content"])
    assert user["conversation"]["module"] == "s3-bucket" and user["conversation"]["step"] == "confirm"


def test_unknown_module_uses_field_value_pairs() -> None:
    fake = FakeOpenAI(answer(config=[{"field": "name", "value": "x"}]))
    found = OpenAIChatModel(fake.client(), "m").extract("something for my team", context())
    config_schema = fake.requests[0]["text"]["format"]["schema"]["properties"]["config"]
    assert config_schema["type"] == "array"
    assert found.config == {"name": "x"}


def test_credentials_in_the_message_are_redacted_before_leaving() -> None:
    fake = FakeOpenAI(answer(config=bucket_config()))
    OpenAIChatModel(fake.client(), "m").extract("bucket with key AKIAIOSFODNN7EXAMPLE", context())
    assert "AKIAIOSFODNN7EXAMPLE" not in json.dumps(fake.requests[0])


def _server_error(_req: httpx.Request) -> httpx.Response:
    return httpx.Response(500, json={"error": {"message": "boom", "type": "server_error"}})


def _timeout(req: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=req)


def _failed(_req: httpx.Request) -> httpx.Response:
    body = openai_api.response_body(None, reasoning_tokens=0)
    body.update(status="failed", error={"code": "server_error", "message": "The model failed to generate a response."})
    return httpx.Response(200, json=body)


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (lambda _r: openai_api.ok("{not json"), "malformed JSON"),
        (answer(project="hackers"), "does not match the schema"),
        (answer(config={"name": "x", "rogue": True}), "does not match the schema"),
        (lambda _r: openai_api.ok(json.dumps({"intent": "submit"})), "does not match the schema"),
        (lambda _r: openai_api.ok(None, refusal="I'm sorry, I can't help with that."), "refused"),
        (lambda _r: openai_api.ok(""), "empty response"),
        (lambda _r: openai_api.ok(None), "empty response"),  # reasoning only, no message
        # The budget went on reasoning: no message at all.
        (
            lambda _r: openai_api.ok(
                None, status="incomplete", incomplete_reason="max_output_tokens", reasoning_tokens=5296
            ),
            "incomplete response: max_output_tokens",
        ),
        # Cut off half-way through the JSON.
        (
            lambda _r: openai_api.ok('{"intent": "no', status="incomplete", incomplete_reason="max_output_tokens"),
            "incomplete response: max_output_tokens",
        ),
        (
            lambda _r: openai_api.ok(None, status="incomplete", incomplete_reason="content_filter"),
            "incomplete response: content_filter",
        ),
        (_failed, "the response failed (server_error)"),
        (_server_error, "InternalServerError"),
        (_timeout, "APITimeoutError"),
    ],
    ids=[
        "malformed",
        "unknown-project",
        "extra-key",
        "missing-keys",
        "refusal",
        "empty",
        "reasoning-only",
        "incomplete-no-message",
        "incomplete-cut-off",
        "content-filter",
        "failed",
        "http-500",
        "timeout",
    ],
)
def test_every_failure_falls_back_to_the_rules(handler: Handler, reason: str) -> None:
    fake = FakeOpenAI(handler)
    model = FallbackChatModel(OpenAIChatModel(fake.client(), "m", timeout=1), RuleExtractor())
    found = model.extract("bucket team-logs in payments dev", context())
    assert fake.requests, "the model was called"
    assert found.extractor == "rules" and found.fallback_reason is not None and reason in found.fallback_reason
    assert (found.project, found.environment, found.module) == ("payments", "dev", "s3-bucket")
    assert found.config == {"name": "team-logs"}


def test_output_errors_raise_from_the_bare_adapter() -> None:
    fake = FakeOpenAI(lambda _r: openai_api.ok("[1, 2]"))
    with pytest.raises(ModelOutputError):
        OpenAIChatModel(fake.client(), "m").extract("bucket", context())


def test_rules_still_read_commands_when_the_model_answers() -> None:
    fake = FakeOpenAI(answer(intent="none"))
    model = FallbackChatModel(OpenAIChatModel(fake.client(), "m"), RuleExtractor())
    assert model.extract("start over", context()).intent == "start_over"


def test_intake_with_openai_end_to_end_and_with_an_outage(world: World) -> None:
    # No module word for the rules to guess from: config comes back as field/value text pairs,
    # read against the module the model picked.
    pairs = [{"field": "name", "value": "team-logs"}, {"field": "versioning", "value": "no"}]
    good = answer(project="payments", environment="dev", module="s3-bucket", config=pairs)
    fake = FakeOpenAI(good, _server_error)
    service = world.service(model=OpenAIChatModel(fake.client(), "gpt-test", timeout=2))
    chat = world.chat(service)
    chat.say("Could you set me up with somewhere to keep team logs? payments, dev. No versioning.")
    schema = fake.requests[0]["text"]["format"]["schema"]
    assert schema["properties"]["config"]["type"] == "array"
    assert chat.session.step == "confirm" and chat.session.config == {"name": "team-logs", "versioning": False}
    assert chat.session.last_extractor == "openai"
    chat.say("set versioning = yes")  # the model is down now: the rules read it
    assert chat.session.config["versioning"] is True and chat.session.last_extractor == "rules"
    assert chat.say("submit").submitted  # a bare command never calls the model
    assert len(fake.requests) == 2
    users = [e for e in world.chat_log.read(chat.session.id) if e.role == "user"]
    assert [e.extractor for e in users] == ["openai", "rules", "rules"]
    assert "InternalServerError" in users[1].data["fallback_reason"]
    assert "fallback_reason" not in users[2].data


def test_build_chat_model_without_a_key_is_the_rules() -> None:
    assert isinstance(build_chat_model(None), RuleExtractor)
    fake = FakeOpenAI(answer())
    built = build_chat_model("sk-test", "gpt-x", http_client=openai_api.http_client(fake.router), max_retries=0)
    assert isinstance(built, FallbackChatModel)
    built.extract("hello", context())
    assert fake.requests[0]["model"] == "gpt-x"


def test_each_call_carries_the_configured_timeout_and_no_retries_beyond_the_clients() -> None:
    seen: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(dict(request.extensions["timeout"]))
        return answer()(request)

    fake = FakeOpenAI(record)
    OpenAIChatModel(fake.client(), "m", timeout=2.5).extract("hello", context())
    assert seen == [{"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}]


def test_default_model_when_nothing_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TFPILOT_OPENAI_MODEL", raising=False)
    fake = FakeOpenAI(answer())
    OpenAIChatModel(fake.client()).extract("hello", context())
    body = fake.requests[0]
    assert body["model"] == DEFAULT_MODEL == "gpt-6-luna"
    # A reasoning model: low effort (gpt-6-luna accepts none/low/..., not "minimal"), and an
    # output budget with room for reasoning on top of the answer's own.
    assert body["reasoning"] == {"effort": "low"}
    assert body["max_output_tokens"] == 1200 + REASONING_HEADROOM["low"]
    assert "temperature" not in body and "max_completion_tokens" not in body


def test_the_real_modules_schemas_all_become_strict_response_formats() -> None:
    from datetime import UTC, datetime

    import jsonschema

    from module_registry import catalogue, projects

    registry = catalogue.load_registry()
    for module in registry.modules():
        s = IntakeSession.start(
            ConversationKey(channel="C", thread_ts="1"), "U", session_id="ses_1", now=datetime(2026, 1, 1, tzinfo=UTC)
        )
        s.module, s.step = module.id, "config"
        ctx = extraction_context(s, registry, projects.load_projects())
        fmt, _conversion, module_id = OpenAIChatModel(FakeOpenAI(answer()).client(), "m").response_format("x", ctx)
        schema = fmt["schema"]
        assert module_id == module.id and fmt["strict"] is True
        jsonschema.Draft202012Validator.check_schema(schema)
        config = schema["properties"]["config"]
        assert set(config["properties"]) == set(module.schema["properties"]), module.id
        for node in walk(config):
            assert not (UNSUPPORTED & set(node)), (module.id, node)
            if "properties" in node:
                assert node["additionalProperties"] is False and node["required"] == list(node["properties"])


@pytest.mark.parametrize(
    ("model", "reasoning", "budget"),
    [
        ("gpt-6-luna", {"effort": "low"}, 1200 + REASONING_HEADROOM["low"]),
        ("gpt-6.1-terra", {"effort": "low"}, 1200 + REASONING_HEADROOM["low"]),
        ("gpt-5.4-mini", {"effort": "low"}, 1200 + REASONING_HEADROOM["low"]),
        ("gpt-5-mini", {"effort": "minimal"}, 1200 + REASONING_HEADROOM["minimal"]),
        ("gpt-5-nano-2025-08-07", {"effort": "minimal"}, 1200 + REASONING_HEADROOM["minimal"]),
        ("o4-mini", {"effort": "low"}, 1200 + REASONING_HEADROOM["low"]),
        ("o1-mini", None, 1200 + REASONING_HEADROOM[None]),
        ("gpt-4o-mini", None, 1200),
        ("gpt-4.1-mini-2025-04-14", None, 1200),
        ("gpt-5.3-chat-latest", None, 1200),
        ("ft:acme-extractor:2026", None, 1200 + REASONING_HEADROOM[None]),
    ],
)
def test_reasoning_effort_and_output_budget_follow_the_model(
    model: str, reasoning: dict[str, str] | None, budget: int
) -> None:
    fake = FakeOpenAI(answer())
    OpenAIChatModel(fake.client(), model).extract("hello", context())
    [body] = fake.requests
    assert body.get("reasoning") == reasoning
    assert body["max_output_tokens"] == budget
    assert profile_for(model).max_output_tokens(1200) == budget


def test_a_reasoning_budget_spent_before_the_answer_is_logged_with_counts_and_no_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    exhausted = openai_api.ok(None, status="incomplete", incomplete_reason="max_output_tokens", reasoning_tokens=5296)
    fake = FakeOpenAI(lambda _r: exhausted)
    model = FallbackChatModel(OpenAIChatModel(fake.client(), "gpt-6-luna"), RuleExtractor())
    with caplog.at_level(logging.WARNING):
        found = model.extract("bucket team-logs in payments dev, key AKIAIOSFODNN7EXAMPLE", context())
    assert found.extractor == "rules" and found.config == {"name": "team-logs"}
    assert found.fallback_reason is not None
    assert "max_output_tokens" in found.fallback_reason and "5296 of them reasoning" in found.fallback_reason
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "incomplete response: max_output_tokens" in logged and "gpt-6-luna" in logged
    assert "team-logs" not in logged and "AKIAIOSFODNN7EXAMPLE" not in logged and "sk-test" not in logged


def test_a_schema_complaint_quoting_a_credential_is_redacted_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakeOpenAI(answer(project="AKIAIOSFODNN7EXAMPLE"))
    model = FallbackChatModel(OpenAIChatModel(fake.client(), "m"), RuleExtractor())
    with caplog.at_level(logging.WARNING):
        found = model.extract("bucket team-logs in payments dev", context())
    assert found.fallback_reason is not None and "does not match the schema" in found.fallback_reason
    assert "AKIAIOSFODNN7EXAMPLE" not in found.fallback_reason
    assert "AKIAIOSFODNN7EXAMPLE" not in "\n".join(r.getMessage() for r in caplog.records)


def test_only_the_responses_endpoint_is_called() -> None:
    fake = FakeOpenAI(answer())
    OpenAIChatModel(fake.client(), "m").extract("hello", context())
    assert fake.route.call_count == 1
    assert fake.route.calls[0].request.url == "https://api.openai.com/v1/responses"
    assert len(fake.router.calls) == 1  # nothing else (no chat completions, no model listing)


def test_no_openai_sdk_with_a_key_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from assistant.adapters.openai_model import OpenAIUnavailable

    monkeypatch.setitem(sys.modules, "openai", None)  # as if not installed: import raises
    assert isinstance(build_chat_model(None), RuleExtractor)  # no key: nothing to import
    with pytest.raises(
        OpenAIUnavailable, match=r"install it with pip install 'tfpilot\[openai\]', or unset OPENAI_API_KEY"
    ):
        build_chat_model("sk-test")
