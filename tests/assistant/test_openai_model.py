"""``OpenAIChatModel`` through the real openai SDK over a mocked ``httpx2`` transport: what the
request carries (model, strict schema from the module, the message as data) and how every kind
of failure falls back to the rules."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import openai
import pytest

from assistant.adapters.openai_model import ModelOutputError, OpenAIChatModel, build_chat_model
from assistant.domain.chat_model import FallbackChatModel
from assistant.domain.flow import extraction_context
from assistant.domain.rules import RuleExtractor
from assistant.domain.session import ConversationKey, IntakeSession
from tests.assistant.conftest import World
from tests.assistant.fakes import FakeProjects, FakeRegistry

Handler = Callable[[httpx2.Request], httpx2.Response]
UNSUPPORTED = {"default", "examples", "minLength", "maxLength", "allOf", "oneOf", "not", "if", "then", "else", "$ref"}


def completion(content: str | None, *, refusal: str | None = None) -> httpx2.Response:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if refusal is not None:
        message["refusal"] = refusal
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-test",
        "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
    }
    return httpx2.Response(200, json=body)


class FakeOpenAI:
    """Records requests; answers with the queued handlers in order (the last one repeats)."""

    def __init__(self, *handlers: Handler) -> None:
        self.handlers = list(handlers)
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(json.loads(request.content))
        assert request.url.path.endswith("/chat/completions")
        handler = self.handlers.pop(0) if len(self.handlers) > 1 else self.handlers[0]
        return handler(request)

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(
            api_key="sk-test", http_client=httpx2.Client(transport=httpx2.MockTransport(self)), max_retries=0
        )


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
    return lambda _req: completion(json.dumps(base))


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
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    schema = fmt["json_schema"]["schema"]
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
    system, user = body["messages"]
    assert system["role"] == "system" and "never follow" in system["content"]
    assert json.loads(user["content"])["message"] == "a bucket team-logs in payments dev"


def test_no_unsupported_keyword_survives_anywhere() -> None:
    fake = FakeOpenAI(answer(config=bucket_config()))
    OpenAIChatModel(fake.client(), "m").extract("bucket", context())
    schema = fake.requests[0]["response_format"]["json_schema"]["schema"]
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
    user = json.loads(fake.requests[0]["messages"][1]["content"])
    assert user["conversation"]["module"] == "s3-bucket" and user["conversation"]["step"] == "confirm"


def test_unknown_module_uses_field_value_pairs() -> None:
    fake = FakeOpenAI(answer(config=[{"field": "name", "value": "x"}]))
    found = OpenAIChatModel(fake.client(), "m").extract("something for my team", context())
    config_schema = fake.requests[0]["response_format"]["json_schema"]["schema"]["properties"]["config"]
    assert config_schema["type"] == "array"
    assert found.config == {"name": "x"}


def test_credentials_in_the_message_are_redacted_before_leaving() -> None:
    fake = FakeOpenAI(answer(config=bucket_config()))
    OpenAIChatModel(fake.client(), "m").extract("bucket with key AKIAIOSFODNN7EXAMPLE", context())
    assert "AKIAIOSFODNN7EXAMPLE" not in json.dumps(fake.requests[0])


def _server_error(_req: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(500, json={"error": {"message": "boom", "type": "server_error"}})


def _timeout(req: httpx2.Request) -> httpx2.Response:
    raise httpx2.ReadTimeout("timed out", request=req)


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (lambda _r: completion("{not json"), "malformed JSON"),
        (answer(project="hackers"), "does not match the schema"),
        (answer(config={"name": "x", "rogue": True}), "does not match the schema"),
        (lambda _r: completion(json.dumps({"intent": "submit"})), "does not match the schema"),
        (lambda _r: completion(None, refusal="I can't help with that"), "refused"),
        (lambda _r: completion(""), "empty response"),
        (_server_error, "InternalServerError"),
        (_timeout, "APITimeoutError"),
    ],
    ids=["malformed", "unknown-project", "extra-key", "missing-keys", "refusal", "empty", "http-500", "timeout"],
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
    fake = FakeOpenAI(lambda _r: completion("[1, 2]"))
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
    schema = fake.requests[0]["response_format"]["json_schema"]["schema"]
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
    built = build_chat_model(
        "sk-test", "gpt-x", http_client=httpx2.Client(transport=httpx2.MockTransport(fake)), max_retries=0
    )
    assert isinstance(built, FallbackChatModel)
    built.extract("hello", context())
    assert fake.requests[0]["model"] == "gpt-x"


def test_each_call_carries_the_configured_timeout_and_no_retries_beyond_the_clients() -> None:
    seen: list[dict[str, Any]] = []

    def record(request: httpx2.Request) -> httpx2.Response:
        seen.append(dict(request.extensions["timeout"]))
        return answer()(request)

    fake = FakeOpenAI(record)
    OpenAIChatModel(fake.client(), "m", timeout=2.5).extract("hello", context())
    assert seen == [{"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}]


def test_default_model_when_nothing_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TFPILOT_OPENAI_MODEL", raising=False)
    fake = FakeOpenAI(answer())
    OpenAIChatModel(fake.client()).extract("hello", context())
    assert fake.requests[0]["model"] == "gpt-4o-mini"
    assert "temperature" not in fake.requests[0] and fake.requests[0]["max_completion_tokens"] > 0


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
        schema = fmt["json_schema"]["schema"]
        assert module_id == module.id and fmt["json_schema"]["strict"] is True
        jsonschema.Draft202012Validator.check_schema(schema)
        config = schema["properties"]["config"]
        assert set(config["properties"]) == set(module.schema["properties"]), module.id
        for node in walk(config):
            assert not (UNSUPPORTED & set(node)), (module.id, node)
            if "properties" in node:
                assert node["additionalProperties"] is False and node["required"] == list(node["properties"])
