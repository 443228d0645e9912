"""``tfpilot chat``: talk to TfPilot in a terminal, over the same backends as the Slack bot.

On embedded defaults (no bucket, no GitHub settings) it uses the local store and the local git
forge under ``TFPILOT_DATA_DIR`` with a background runner; with ``TFPILOT_REQUESTS_BUCKET`` or
GitHub settings the composition root wires S3 and GitHub instead. You type as a user; the
assistant's replies, request cards and thread messages are printed; a button is clicked by
typing its number or its name (``approve``, ``2``); ``/as <user>`` changes who is acting (the
role comes from the TFPILOT_* lists; with none configured the console defaults make alice a
developer, bob an approver and carol an admin); ``/users``, ``/list``, ``/status [id]``,
``/new``, ``help``, ``quit``. At a terminal, runs finish in the background: their cards print
below the prompt, which is then shown again. Input is read line by line, so a script can be
piped in: then each line waits for the runs it started before the next one is read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from bot.console.notifier import ConsoleNotifier
from bot.console.presenter import Presenter, colour_for
from bot.console.session import DEFAULT_USERS, ConsoleSession
from bot.settings import Settings, SettingsError, load_settings

HELP = """\
Type a message to the assistant, e.g. "I need an S3 bucket in dev for payments".
Click a button by its number or name: 2, approve, merge, apply, destroy, re-plan, edit.
  /as <user>   act as another user (alice: developer, bob: approver, carol: admin by default)
  /users       who is who, with the role the policy gives them
  /list        the newest requests (active and archived)
  /status [id] the current request's card, or open request <id> to click its buttons
  /new [text]  start a new conversation (a new thread)
  help         this text
  quit         leave (also Ctrl-D)"""

CONSOLE_ROLES = {"developers": ["alice"], "approvers": ["bob"], "admins": ["carol"]}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chat", help="talk to TfPilot in the terminal (embedded defaults or configured backends)"
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="local data directory (default: TFPILOT_DATA_DIR)")
    parser.add_argument("--as", dest="acting", default=None, help="the user to start as (default: alice)")
    parser.set_defaults(func=run)


def chat_settings(data_dir: Path | None) -> tuple[Settings, bool]:
    """Settings from the environment; console roles when none are configured (and whether so)."""
    settings = load_settings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": data_dir})
    defaulted = not (settings.admins or settings.approvers or settings.developers)
    if defaulted:
        settings = settings.model_copy(update=CONSOLE_ROLES)
    settings.require("chat")
    return settings, defaulted


def run(
    args: argparse.Namespace, *, stdin: TextIO | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    from bot.cli.demo_cmd import console_deps, data_dir_problem

    stdin = stdin or sys.stdin
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        settings, defaulted = chat_settings(args.data_dir)
    except SettingsError as exc:
        err.write(f"tfpilot chat cannot start: {exc}\n")
        return 1
    # Whatever is not configured (requests bucket, chat bucket, GitHub) lives in the data directory.
    if not (settings.requests_bucket and settings.chat_logs_bucket and settings.uses_github):
        problem = data_dir_problem(Path(settings.data_dir))
        if problem is not None:
            err.write(f"tfpilot chat cannot start: {problem} (set TFPILOT_DATA_DIR or --data-dir)\n")
            return 1
    interactive = bool(getattr(stdin, "isatty", lambda: False)())
    presenter = Presenter(colour=colour_for(out), users={u.id: u.name for u in DEFAULT_USERS})
    notifier = ConsoleNotifier(out, presenter=presenter, approvers=list(settings.approvers))
    try:
        deps, host = console_deps(settings, notifier=notifier, runner_mode="thread")
    except Exception as exc:
        err.write(f"tfpilot chat cannot start: {type(exc).__name__}: {exc}\n")
        return 1

    def settle() -> None:
        # Piped input waits for the runs each line started; at a terminal they finish in the
        # background and their cards appear when they do.
        if host is not None and not interactive:
            host.wait_idle(timeout=300)

    def ask(prompt: str) -> str:
        out.write(prompt)
        out.flush()
        answer = stdin.readline()
        if not interactive:
            out.write(answer if answer.endswith("\n") else answer + "\n")
        return answer.strip()

    def confirm(prompt: str) -> bool:
        word = ask(prompt).lower()
        return word in ("yes", "y") or (session.request_id is not None and word == session.request_id)

    session = ConsoleSession(
        deps,
        out,
        notifier,
        presenter,
        users=list(DEFAULT_USERS),
        settle=settle,
        confirm=confirm,
        ask=ask,
        echo_input=not interactive,
        refresh=host is None,
    )
    where = (
        f"local forge and store in {Path(settings.data_dir).resolve()}" if host is not None else "configured backends"
    )
    session.write(presenter.bold("TfPilot chat") + presenter.dim(f" ({where})"))
    if host is None:
        session.write(
            presenter.dim(
                "Runs report to the service's webhook endpoint, not to this terminal: /status <id> refreshes "
                "a request from the code host."
            )
        )
    if defaulted:
        session.write(
            presenter.dim("No TFPILOT_* roles configured: alice is a developer, bob an approver, carol an admin.")
        )
    session.write(HELP)
    if args.acting:
        session.switch(args.acting)
    try:
        return _loop(session, stdin, out, interactive)
    except KeyboardInterrupt:  # Ctrl-C leaves like quit, without a traceback
        session.write("\n(interrupted)")
        return 130
    finally:
        if host is not None:
            host.close()


def _loop(session: ConsoleSession, stdin: TextIO, out: TextIO, interactive: bool) -> int:
    waiting: list[str] = []  # the prompt on screen while input is awaited

    def prompt() -> str | None:
        return waiting[0] if waiting else None

    session.notifier.prompt = prompt
    while True:
        if interactive:
            with session.notifier.lock:
                waiting[:] = [f"{session.acting.id}> "]
                out.write(waiting[0])
                out.flush()
        try:
            line = stdin.readline()
        finally:
            with session.notifier.lock:
                waiting.clear()
        if not line:  # end of input
            if interactive:
                out.write("\n")
            return 0
        text = line.strip()
        if text.lower() in ("quit", "exit", "/quit", "/exit", "q"):
            return 0
        if text.lower() in ("help", "/help", "?"):
            session.write(HELP)
            continue
        try:
            session.handle_line(text)
        except Exception as exc:  # one bad line never ends the session
            session.write(f"✖ {type(exc).__name__}: {exc}")
        if not interactive:
            session.settle()
