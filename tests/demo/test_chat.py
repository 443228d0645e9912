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
1
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
