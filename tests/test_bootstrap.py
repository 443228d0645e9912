"""The composition root builds the whole graph from settings alone."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from bot.bootstrap import LoggingNotifier, build
from bot.settings import load_settings
from core.adapters.chat_log import LocalChatLog, S3ChatLog
from core.adapters.local_code_host import LocalCodeHost
from core.adapters.local_objects import LocalObjectStore
from core.adapters.s3_objects import S3ObjectStore
from core.domain.request import Request
from tests.fakes import ManualClock, RecordingNotifier


def test_embedded_defaults_need_no_credentials(tmp_path: Path) -> None:
    deps = build(load_settings({"TFPILOT_DATA_DIR": str(tmp_path)}))
    assert isinstance(deps.objects, LocalObjectStore)
    assert isinstance(deps.code_host, LocalCodeHost)
    assert isinstance(deps.chat_log, LocalChatLog)
    assert isinstance(deps.notifier, LoggingNotifier)
    # The local forge reports run facts into the graph's SyncService.
    assert deps.code_host.on_fact is not None
    assert deps.registry.get("s3-bucket").id == "s3-bucket"
    assert deps.projects.names()


def test_requests_written_through_the_graph_land_under_the_data_dir(tmp_path: Path) -> None:
    clock = ManualClock()
    deps = build(load_settings({"TFPILOT_DATA_DIR": str(tmp_path)}), clock=clock)
    now = clock.now()
    deps.store.create(
        Request(
            id="req_boot12345678",
            project="core",
            environment="dev",
            module="s3-bucket",
            received_at=now,
            updated_at=now,
        )
    )
    assert (tmp_path / "requests" / "req_boot12345678.json").is_file()
    assert deps.queries.list().rows[0].id == "req_boot12345678"


@mock_aws
def test_s3_when_buckets_are_configured(tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="tfpilot-requests")
    s3.create_bucket(Bucket="tfpilot-chats")
    settings = load_settings(
        {
            "TFPILOT_REQUESTS_BUCKET": "tfpilot-requests",
            "TFPILOT_CHAT_LOGS_BUCKET": "tfpilot-chats",
            "TFPILOT_DATA_DIR": str(tmp_path),
        }
    )
    deps = build(settings, notifier=RecordingNotifier())
    assert isinstance(deps.objects, S3ObjectStore)
    assert isinstance(deps.chat_log, S3ChatLog)
    now = ManualClock().now()
    deps.store.create(
        Request(
            id="req_s3boot123456",
            project="core",
            environment="dev",
            module="s3-bucket",
            received_at=now,
            updated_at=now,
        )
    )
    head = s3.head_object(Bucket="tfpilot-requests", Key="requests/req_s3boot123456.json")
    assert head["ServerSideEncryption"] == "AES256"


def test_unknown_overrides_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="nonsense"):
        build(load_settings({"TFPILOT_DATA_DIR": str(tmp_path)}), nonsense=1)


def test_slack_settings_give_the_slack_notifier(tmp_path: Path) -> None:
    from bot.slack_notifier import SlackNotifier
    from core.adapters.request_store import ObjectRequestStore

    settings = load_settings(
        {"TFPILOT_DATA_DIR": str(tmp_path), "SLACK_BOT_TOKEN": "xoxb-test", "TFPILOT_APPROVERS": "U_APP,a@b.c"}
    )
    deps = build(settings)
    assert isinstance(deps.notifier, SlackNotifier)
    # Connected to the engine's card commands and the core's query: it holds no store.
    assert deps.notifier._engine is deps.requests and deps.notifier._read == deps.queries.get
    assert not any(isinstance(v, ObjectRequestStore) for v in vars(deps.notifier).values())


def test_the_local_forge_scaffolds_the_environments_the_projects_map_names(tmp_path: Path) -> None:
    projects_file = tmp_path / "projects.yaml"
    projects_file.write_text(
        "version: 1\nprojects:\n  web:\n    environments:\n"
        "      qa: {owner: acme, repo: web-infra, base_branch: main, env_path: envs/qa, prod: false}\n"
        "      live: {owner: acme, repo: web-infra, base_branch: main, env_path: envs/live, prod: true}\n"
    )
    deps = build(load_settings({"TFPILOT_DATA_DIR": str(tmp_path / "d"), "TFPILOT_PROJECTS_FILE": str(projects_file)}))
    from core.ports.code_host import RepoRef

    repo = RepoRef(owner="acme", name="web-infra")
    head = deps.code_host.branch_head(repo, "main")
    assert head is not None
    envs = {p.split("/")[1] for p in deps.code_host.list_files(repo, "main") if p.startswith("envs/")}
    assert envs == {"qa", "live"}


def test_without_an_openai_key_start_up_imports_no_openai(tmp_path: Path) -> None:
    # A fresh interpreter: this one has long imported the SDK for other tests.
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from bot.bootstrap import build\n"
        "from bot.settings import load_settings\n"
        f"deps = build(load_settings({{'TFPILOT_DATA_DIR': {str(tmp_path)!r}}}))\n"
        "from assistant.domain.rules import RuleExtractor\n"
        "assert isinstance(deps.intake.model, RuleExtractor), deps.intake.model\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('openai', 'httpx2')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_an_openai_key_without_the_sdk_stops_start_up_naming_both_fixes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from bot.settings import SettingsError

    monkeypatch.setitem(sys.modules, "openai", None)  # as if not installed
    settings = load_settings({"TFPILOT_DATA_DIR": str(tmp_path), "OPENAI_API_KEY": "sk-test-not-logged"})
    with pytest.raises(SettingsError) as refused:
        build(settings)
    message = str(refused.value)
    assert "OPENAI_API_KEY is set but the openai package is not installed" in message
    assert "tfpilot[openai]" in message and "unset OPENAI_API_KEY" in message
    assert "sk-test-not-logged" not in message
    assert refused.value.malformed == ["OPENAI_API_KEY (the openai package is not installed)"]


def test_an_openai_key_gives_the_model_with_the_rules_as_fallback(tmp_path: Path) -> None:
    from assistant.adapters.openai_model import DEFAULT_MODEL, OpenAIChatModel
    from assistant.domain.chat_model import FallbackChatModel

    deps = build(load_settings({"TFPILOT_DATA_DIR": str(tmp_path), "OPENAI_API_KEY": "sk-test"}))
    model = deps.intake.model
    assert isinstance(model, FallbackChatModel) and isinstance(model.primary, OpenAIChatModel)
    assert model.primary.model == DEFAULT_MODEL
