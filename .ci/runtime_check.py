"""The runtime lock alone gives a working product: run with the python of a virtualenv made by
``deploy/install-runtime.sh`` from requirements/runtime.lock (``make runtime-check`` does both).

Checks, with the standard library only and nothing beyond this machine's loopback:
1. no dev tool and no optional extra is installed (the runtime lock is not the dev lock in disguise);
2. ``tfpilot demo --json`` walks the whole lifecycle on the embedded defaults;
3. ``tfpilot serve`` (HTTP mode, local storage, placeholder Slack credentials verified by a
   loopback stand-in for Slack's ``auth.test``, any free loopback port) answers ``/api/health``
   and ``/api/ready`` as the image's HEALTHCHECK and the Kubernetes
   probes will, then stops on SIGTERM as a container runtime stops it.
Any failure prints what went wrong and exits 1.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# The dev extra's tools and the openai extra: none may be importable from the runtime lock.
NOT_IN_RUNTIME = ("pytest", "moto", "mypy", "ruff", "respx", "hypothesis", "schemathesis", "openai")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


class CheckFailed(Exception):
    pass


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any TfPilot, Slack, GitHub or OpenAI setting, plus ``extra``."""
    own = ("TFPILOT_", "SLACK_", "GITHUB_", "OPENAI_", "AWS_")
    keep = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    return {**keep, "PYTHONUNBUFFERED": "1", **extra}


def check_contents() -> None:
    present = [name for name in NOT_IN_RUNTIME if importlib.util.find_spec(name) is not None]
    if present:
        raise CheckFailed(f"the runtime virtualenv has packages that belong elsewhere: {', '.join(present)}")
    print(f"runtime-check: none of {', '.join(NOT_IN_RUNTIME)} is installed")


def check_demo(tfpilot: Path, work: Path) -> None:
    started = time.monotonic()
    done = subprocess.run(
        [str(tfpilot), "demo", "--json", "--data-dir", str(work / "demo")],
        env=clean_env(),
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise CheckFailed(f"tfpilot demo exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    # --json prints one JSON document after the transcript.
    result = json.loads(done.stdout[done.stdout.rindex("\n{\n") + 1 :])
    if not result["ok"] or result["statuses"][-1] != "destroyed":
        raise CheckFailed(f"tfpilot demo did not reach destroyed: {result['statuses']}")
    print(
        f"runtime-check: tfpilot demo: {' → '.join(result['statuses'])} "
        f"({time.monotonic() - started:.1f} s with start-up)"
    )


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


class _SlackAuthTest(BaseHTTPRequestHandler):
    """Slack's ``auth.test`` as serve's start-up token check calls it; every other method fails."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.rstrip("/").endswith("/auth.test"):
            body = {
                "ok": True,
                "url": "https://runtime-check.slack.com/",
                "team": "Runtime check",
                "user": "tfpilot",
                "team_id": "T0RUNTIME",
                "user_id": "U0RUNTIME",
                "bot_id": "B0RUNTIME",
            }
        else:
            body = {"ok": False, "error": "unknown_method"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


def start_slack_stand_in() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlackAuthTest)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_serve(tfpilot: Path, work: Path, slack_api_url: str) -> tuple[subprocess.Popen[str], str]:
    # HTTP mode's required settings, as placeholders: nothing here talks to the real Slack or GitHub.
    env = clean_env(
        SLACK_API_URL=slack_api_url,
        SLACK_BOT_TOKEN="xoxb-runtime-check",
        SLACK_SIGNING_SECRET=secrets.token_hex(16),
        TFPILOT_API_TOKEN=secrets.token_hex(16),
        TFPILOT_DATA_DIR=str(work / "data"),
    )
    log = (work / "serve.log").open("w")
    process = subprocess.Popen(
        [str(tfpilot), "serve", "--host", "127.0.0.1", "--port", "0", "--no-reconciler"],
        env=env,
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    log.close()
    assert process.stdout is not None
    first: list[str] = []
    reader = threading.Thread(target=lambda: first.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(START_TIMEOUT)
    if not first or "listening on http://" not in first[0]:
        process.kill()
        process.wait(5)
        raise CheckFailed(f"tfpilot serve did not start: {first!r}\n{(work / 'serve.log').read_text()[-3000:]}")
    return process, first[0].strip().rsplit(" ", 1)[-1]


def check_serve(tfpilot: Path, work: Path) -> None:
    slack = start_slack_stand_in()
    try:
        _check_serve(tfpilot, work, f"http://127.0.0.1:{slack.server_address[1]}/api/")
    finally:
        slack.shutdown()


def _check_serve(tfpilot: Path, work: Path, slack_api_url: str) -> None:
    process, url = start_serve(tfpilot, work, slack_api_url)
    try:
        status, body = get(f"{url}/api/health")
        if (status, body) != (200, {"status": "ok"}):
            raise CheckFailed(f"GET /api/health answered {status} {body}")
        status, body = get(f"{url}/api/ready")
        if status != 200 or body.get("ready") is not True:
            raise CheckFailed(f"GET /api/ready answered {status} {body}")
        print(f"runtime-check: tfpilot serve on {url}: /api/health 200, /api/ready 200 {body['checks']}")
    finally:
        process.terminate()
        try:
            code = process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
            raise CheckFailed(f"tfpilot serve did not stop within {STOP_TIMEOUT:.0f} s of SIGTERM") from None
        finally:
            if process.stdout is not None:
                process.stdout.close()
    log = (work / "serve.log").read_text()
    if code not in (0, -15) or "Traceback" in log:  # uvicorn re-raises SIGTERM after a graceful shutdown
        raise CheckFailed(f"tfpilot serve stopped with {code}:\n{log[-3000:]}")
    print("runtime-check: tfpilot serve stopped cleanly on SIGTERM")


def main() -> int:
    tfpilot = Path(sys.executable).parent / "tfpilot"
    if not tfpilot.exists():
        print(f"runtime-check: {tfpilot} not found: run with the runtime virtualenv's python", file=sys.stderr)
        return 2
    try:
        check_contents()
        with tempfile.TemporaryDirectory(prefix="tfpilot-runtime-check-") as tmp:
            check_demo(tfpilot, Path(tmp))
            check_serve(tfpilot, Path(tmp))
    except CheckFailed as exc:
        print(f"runtime-check FAILED: {exc}", file=sys.stderr)
        return 1
    print("runtime-check: the runtime lock alone gives a working product")
    return 0


if __name__ == "__main__":
    sys.exit(main())
