"""The Dockerfile (no Docker engine runs here: ``make deploy-lint`` runs hadolint on it and these
tests check what it must say): the runtime lock only, installed with hashes, a non-root user,
``tfpilot serve`` on the exposed port, and a health check on a route the service really has, whose
command works against a running ``tfpilot serve``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT
from tests.deploy.conftest import HTTP_ENV
from tests.deploy.files import dockerfile_stages, exec_form, shell_words
from tests.web.served import clean_env, start_serve, stop_serve

STAGES = dockerfile_stages()
BUILDER, FINAL = STAGES
INSTALL_SCRIPT = REPO_ROOT / "deploy" / "install-runtime.sh"


def _env(stage_env: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in stage_env:
        for word in shell_words(line):
            name, _, value = word.partition("=")
            env[name] = value
    return env


FINAL_ENV = _env(FINAL.all("ENV"))
ENTRYPOINT = exec_form(FINAL.last("ENTRYPOINT"))
PORT = int(ENTRYPOINT[ENTRYPOINT.index("--port") + 1])
HEALTHCHECK = FINAL.last("HEALTHCHECK")


def test_two_stages_on_one_base_pinned_by_digest() -> None:
    assert BUILDER.name == "builder" and FINAL.name is None
    assert BUILDER.base == FINAL.base
    assert re.fullmatch(r"python:3\.11\.\d+-slim@sha256:[0-9a-f]{64}", FINAL.base), FINAL.base


def test_the_runtime_lock_and_the_openai_extra_only_with_hashes() -> None:
    runs = [shell_words(run) for run in BUILDER.all("RUN")]
    assert runs == [
        ["sh", "deploy/install-runtime.sh", "deps", "/opt/tfpilot", "--with-openai"],
        ["sh", "deploy/install-runtime.sh", "project", "/opt/tfpilot"],
    ]
    assert "requirements.lock" not in (REPO_ROOT / "Dockerfile").read_text()  # the dev lock
    script = INSTALL_SCRIPT.read_text()
    assert "--require-hashes $locks" in script
    assert 'locks="-r $src/requirements/runtime.lock"' in script
    assert 'locks="$locks -r $src/requirements/openai.lock"' in script
    # The final stage takes the virtualenv and nothing else from the builder.
    assert FINAL.all("COPY") == ["--from=builder /opt/tfpilot /opt/tfpilot"]
    assert FINAL_ENV["PATH"].startswith("/opt/tfpilot/bin:")


def test_runs_as_a_non_root_user_owning_the_data_volume() -> None:
    user = FINAL.last("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0, user
    (setup,) = FINAL.all("RUN")
    assert f"--uid {uid}" in setup and f"--gid {gid}" in setup
    data_dir = FINAL_ENV["TFPILOT_DATA_DIR"]
    assert f"chown tfpilot:tfpilot {data_dir}" in setup
    assert exec_form(FINAL.last("VOLUME")) == [data_dir]
    assert FINAL.last("WORKDIR") == data_dir


def test_serves_on_the_exposed_port() -> None:
    assert ENTRYPOINT[:2] == ["tfpilot", "serve"]
    assert ENTRYPOINT[ENTRYPOINT.index("--host") + 1] == "0.0.0.0"
    assert FINAL.all("EXPOSE") == [str(PORT)]


def _healthcheck_code() -> str:
    options, _, command = HEALTHCHECK.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    argv = exec_form(command)
    assert argv[:2] == ["python", "-c"], argv  # the slim image has no curl
    return argv[2]


def test_healthcheck_asks_a_route_the_service_has(get_routes: frozenset[str]) -> None:
    match = re.search(r"http://127\.0\.0\.1:(\d+)(/[^'\"]*)", _healthcheck_code())
    assert match is not None
    assert int(match.group(1)) == PORT
    assert match.group(2) == "/api/ready"
    assert match.group(2) in get_routes


def test_healthcheck_command_passes_on_a_ready_service_and_fails_on_a_stopped_one(
    tmp_path: Path, slack_api: str
) -> None:
    served = start_serve(
        clean_env(**HTTP_ENV, SLACK_API_URL=slack_api, TFPILOT_DATA_DIR=str(tmp_path / "data")),
        tmp_path / "serve.log",
        "--no-reconciler",
    )
    code = _healthcheck_code().replace(f"http://127.0.0.1:{PORT}", served.url)
    try:
        ready = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    finally:
        stop_serve(served)
    assert ready.returncode == 0, ready.stderr
    down = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert down.returncode != 0


def test_dockerignore_lets_in_exactly_what_the_builder_copies() -> None:
    lines = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"  # everything else (virtualenvs, tests, .git, local data) stays out
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied: set[str] = set()
    for copy in BUILDER.all("COPY"):
        *sources, _ = shell_words(copy)
        copied |= {source.rstrip("/") for source in sources}
    assert copied == allowed
    for source in copied:
        assert (REPO_ROOT / source).exists(), source
