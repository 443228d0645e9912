"""``tfpilot chat`` driven by piped stdin through one request: typed messages to the assistant,
buttons clicked by name and number, ``/as`` switching between requester, approver and admin."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest

from bot.cli import chat_cmd

SCRIPT = """\
help
I need an S3 bucket in dev for the core project
demo-logs
submit
approve
/as bob
/users
approve
merge
yes
1
y
/status
/as carol
destroy
no
destroy
yes
quit
this line is never read
"""


@pytest.fixture(autouse=True)
def _no_configured_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TFPILOT_ADMINS", "TFPILOT_APPROVERS", "TFPILOT_DEVELOPERS", "GITHUB_TOKEN", "GITHUB_APP_ID"):
        monkeypatch.delenv(name, raising=False)


def _chat(script: str, data: Path, acting: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(data_dir=data, acting=acting)
    code = chat_cmd.run(args, stdin=io.StringIO(script), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_piped_chat_walks_one_request_through_its_lifecycle(tmp_path: Path) -> None:
    code, out, err = _chat(SCRIPT, tmp_path / "data")
    assert code == 0, err
    assert "alice is a developer, bob an approver, carol an admin" in out
    assert "What should Name be?" in out
    assert "⛔ Alice: approve refused" in out
    assert " * bob " in out  # /users marks who is acting
    assert "Bob clicks [1] Approve" in out and "Bob clicks [1] Merge" in out
    assert "Bob clicks [1] Apply" in out  # clicked by number
    assert "Destroy cancelled." in out
    rid = out.split("card ", 1)[1].split(" ", 1)[0]
    for event in ("plan_ready", "approved", "merged", "applied", "destroyed"):
        assert f"card {rid} · {event}" in out
    assert out.index(f"card {rid} · applied") < out.index("Destroy cancelled.") < out.index(f"card {rid} · destroying")
    assert "this line is never read" not in out
    history = [p for p in (tmp_path / "data").rglob(f"{rid}.json") if p.parent.name == "history"]
    assert len(history) == 1
    assert json.loads(history[0].read_text())["destroyRun"]["conclusion"] == "success"


def test_unknown_words_go_to_the_assistant_and_bad_users_are_refused(tmp_path: Path) -> None:
    code, out, _ = _chat("approve\n/as ../../etc\n/as dave\nmerge\n", tmp_path / "data", acting="bob")
    assert code == 0  # end of input ends the session
    assert "(now acting as Bob: approver)" in out
    assert "is not a user name" in out
    assert "(now acting as dave: viewer)" in out
    assert "Dave" not in out and "TfPilot > " in out  # no request yet: the words reach the assistant


def test_chat_refuses_to_start_with_broken_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_APP_ID", "not-a-number")
    code, _, err = _chat("quit\n", tmp_path / "data")
    assert code == 1 and "GITHUB_APP_ID" in err


def test_buttons_by_number_through_intake_and_card_and_a_second_session(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = """\
/status
/list
/frobnicate
I need a bucket
1
1
logs-7
submit
/as bob
1
merge
no
merge
yes
merge
destroy
1
yes
"""
    code, out, err = _chat(first, data)
    assert code == 0, err
    assert "No request in this conversation yet" in out and "No requests yet" in out
    assert "Unknown command '/frobnicate'" in out
    # Intake buttons by number: [1] is the first project, then the first environment.
    assert "Alice clicks [1] core" in out and "Alice clicks [1] dev" in out
    assert "Open form" not in out  # a Slack modal the console cannot open
    rid = out.split("card ", 1)[1].split(" ", 1)[0]
    # After submit "1" is the card's first button, not the stale Submit of the confirm step.
    assert "Bob clicks [1] Approve" in out and "Bob clicks [1] Apply" in out
    assert "Merge cancelled." in out  # Slack's confirmation dialog, answered no
    assert out.count("Merge the pull request? Squash-merge PR #1") == 2
    assert "Nothing new: merge was already done or is under way" in out
    # Bob may not destroy: refused with the reason, without being asked to confirm first.
    assert "⛔ Bob: destroy refused: destroy needs the admin role" in out
    assert "Destroy this infrastructure?" not in out
    for event in ("approved", "merged", "applied"):
        assert out.count(f"card {rid} · {event} ") == 1  # each transition printed once

    # A new session (as after a restart) finds the request and acts on it.
    second = f"/list\n/status {rid}\ndestroy\nyes\n/status req_nothere0000\n/status ../x\n"
    code, out2, err = _chat(second, data, acting="carol")
    assert code == 0, err
    assert f"{rid}  Applied" in out2
    assert f"card {rid} · applied " in out2
    assert "Carol clicks [1] Destroy" in out2 and f"card {rid} · destroyed " in out2
    assert "No request req_nothere0000" in out2 and "is not a request id" in out2


def test_a_background_card_is_printed_below_the_prompt_which_comes_back() -> None:
    from bot.console.notifier import ConsoleNotifier, ViewBuilders, fallback_card, fallback_reply
    from core.domain.request import Request
    from core.ports.notifier import Transition

    out = io.StringIO()
    showing: list[str] = ["bob> "]
    notifier = ConsoleNotifier(out, ViewBuilders(fallback_card, fallback_reply), prompt=lambda: showing[0] or None)
    request = Request.from_doc(
        {
            "id": "req_abc123def456",
            "project": "core",
            "environment": "dev",
            "module": "s3-bucket",
            "config": {},
            "receivedAt": "2025-01-01T00:00:00Z",
            "updatedAt": "2025-01-01T00:00:00Z",
        }
    )
    notifier.request_changed(request, Transition(event="applied", previous_status="applying", status="applied"))
    text = out.getvalue()
    assert text.startswith("\n┌ card req_abc123def456 · applied") and text.endswith("\nbob> ")
    showing[0] = ""
    notifier.request_changed(request, Transition(event="updated", previous_status="applied", status="applied"))
    assert not out.getvalue().endswith("bob> ")  # no prompt showing: none reprinted


def test_status_refreshes_from_the_code_host_when_runs_do_not_report_to_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.cli.chat_cmd import chat_settings
    from bot.cli.demo_cmd import console_deps
    from bot.console.notifier import ConsoleNotifier
    from bot.console.presenter import Presenter
    from bot.console.session import ConsoleSession

    settings, _ = chat_settings(tmp_path / "data")
    out = io.StringIO()
    notifier = ConsoleNotifier(out, presenter=Presenter())
    deps, host = console_deps(settings, notifier=notifier, runner_mode="manual")
    host.on_fact = None  # as with GitHub seen from a terminal: no fact ever reaches this process
    session = ConsoleSession(deps, out, notifier, Presenter(), refresh=True, settle=host.drain)
    session.handle_line("I need an S3 bucket in dev for the core project")
    session.handle_line("logs-9")
    session.handle_line("submit")
    rid = session.request_id
    assert rid is not None
    assert deps.store.get(rid).plan_run.status != "completed"  # the run finished; nobody was told
    synced: list[str] = []
    real_sync = deps.sync.sync
    monkeypatch.setattr(deps.sync, "sync", lambda request_id: synced.append(request_id) or real_sync(request_id))
    session.handle_line("/status")
    assert synced == [rid]
    assert deps.store.get(rid).plan_run.conclusion == "success"
    assert f"card {rid} · plan_ready" in out.getvalue()
    host.close()


def test_an_unusable_data_directory_is_refused_at_start(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for data in (a_file, a_file / "below"):
        code, out, err = _chat("I need an S3 bucket in dev for core\n", data)
        assert code == 1 and "tfpilot chat cannot start:" in err and str(data) in err
        assert "TfPilot >" not in out
    demo_err = io.StringIO()
    from bot.cli import demo_cmd

    args = argparse.Namespace(data_dir=a_file, keep=False, json=False)
    assert demo_cmd.run(args, out=io.StringIO(), err=demo_err) == 1
    assert "is a file, not a directory" in demo_err.getvalue()


def test_ctrl_c_leaves_without_a_traceback(tmp_path: Path) -> None:
    class Interrupted(io.StringIO):
        def readline(self, *_: object) -> str:  # type: ignore[override]
            raise KeyboardInterrupt

    out, err = io.StringIO(), io.StringIO()
    code = chat_cmd.run(argparse.Namespace(data_dir=tmp_path / "d", acting=None), stdin=Interrupted(), out=out, err=err)
    assert code == 130 and "(interrupted)" in out.getvalue() and "Traceback" not in err.getvalue()


def test_edit_at_the_console_commits_new_settings_and_plans_again(tmp_path: Path) -> None:
    data = tmp_path / "data"
    script = """\
I need an S3 bucket in dev for the core project
logs-edit
submit
edit
versioning=maybe
edit
versioning=false noncurrent_expiration_days=30
edit

/as dave
edit
"""
    code, out, err = _chat(script, data)
    assert code == 0, err
    rid = out.split("card ", 1)[1].split(" ", 1)[0]
    assert "versioning = true    [true / false]" in out  # the settings as they are, before the edit
    assert "• versioning: 'maybe' is not true or false" in out
    assert f"card {rid} · updated " in out and "Edit cancelled." in out
    assert out.index(f"card {rid} · updated ") < out.rindex(f"card {rid} · plan_ready ")
    assert "⛔ dave: update refused" in out
    assert out.count("New values as field=value") == 3  # dave is refused without being asked
    doc = json.loads(next(p for p in data.rglob(f"{rid}.json") if p.parent.name == "requests").read_text())
    assert doc["config"]["versioning"] is False and doc["config"]["noncurrent_expiration_days"] == 30
    assert doc["revision"] == 2
    from core.adapters.local_code_host import LocalCodeHost
    from core.ports.code_host import RepoRef
    from tests.fakes import ManualClock

    host = LocalCodeHost(data, ManualClock(), runner_mode="manual")
    text = host.read_file(RepoRef(owner="acme", name="core-infra"), f"request/{rid}", f"envs/dev/tfpilot_{rid}.tf")
    assert text is not None and "versioning = {\n    enabled = false\n  }" in text


def test_destroy_in_prod_needs_the_request_id_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from bot.console import session as session_mod
    from bot.console.notifier import ConsoleNotifier, ViewBuilders, fallback_card, fallback_reply
    from bot.console.presenter import Presenter
    from core.domain.policy import Action, Decision
    from core.domain.request import Request

    rid = "req_prod12345678"
    request = Request.from_doc(
        {
            "id": rid,
            "project": "core",
            "environment": "prod",
            "module": "s3-bucket",
            "config": {},
            "receivedAt": "2025-01-01T00:00:00Z",
            "updatedAt": "2025-01-01T00:00:00Z",
        }
    )
    destroyed: list[str] = []
    deps = SimpleNamespace(
        store=SimpleNamespace(get=lambda _id: request),
        policy=None,
        requests=SimpleNamespace(destroy=lambda request_id, actor, source: destroyed.append(request_id) or request),
    )
    monkeypatch.setattr(session_mod, "check", lambda *_: Decision.yes())
    answers = iter(["yes", rid])
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return next(answers)

    out = io.StringIO()
    notifier = ConsoleNotifier(out, ViewBuilders(fallback_card, fallback_reply))
    console = session_mod.ConsoleSession(
        deps, out, notifier, Presenter(), ask=ask, confirm=lambda _p: pytest.fail("prod needs the id, not yes")
    )
    console.request_id = rid
    assert console.act(Action.DESTROY).kind == "info" and destroyed == []  # "yes" is not the id
    assert "Destroy cancelled." in out.getvalue()
    assert console.act(Action.DESTROY).kind == "clicked" and destroyed == [rid]
    assert all("Type the request id to confirm" in p for p in asked)
