"""Run ``tfpilot serve`` as a real OS process for tests: start it on port 0, read the bound URL
from its first stdout line, stop it with SIGTERM (as a container runtime would)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT = 60.0


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str
    log: Path


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any TfPilot, Slack, GitHub or OpenAI setting, plus ``extra``."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("TFPILOT_", "SLACK_", "GITHUB_", "OPENAI_"))}
    return {**keep, "PYTHONUNBUFFERED": "1", **extra}


def start_serve(env: dict[str, str], log: Path, *args: str) -> Served:
    """``python -m bot.cli.main serve --port 0 ARGS`` with stderr (the JSON logs) going to ``log``."""
    with log.open("w") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli.main", "serve", "--port", "0", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            cwd=log.parent,
        )
    assert process.stdout is not None
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(START_TIMEOUT)
    if not line or "listening on" not in line[0]:
        process.kill()
        process.wait(5)
        raise AssertionError(f"tfpilot serve did not start: {line!r}\n{log.read_text()[-3000:]}")
    return Served(process, line[0].strip().rsplit(" ", 1)[-1], log)


def stop_serve(served: Served, timeout: float = 15.0) -> int:
    """SIGTERM, then the exit status (killed after ``timeout`` seconds)."""
    served.process.terminate()
    try:
        return served.process.wait(timeout)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait(5)
        raise AssertionError(f"tfpilot serve did not stop within {timeout}s") from None
    finally:
        if served.process.stdout is not None:
            served.process.stdout.close()
