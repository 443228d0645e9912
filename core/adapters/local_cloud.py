"""The local cloud: which AWS API the local runner's Terraform talks to, and the provider wiring for it.

``TFPILOT_LOCAL_CLOUD`` chooses: ``moto`` (default in local mode) runs moto's server, started
lazily by ``MotoServer`` on 127.0.0.1 with a free port, one per TfPilot process and data
directory, stopped at exit; ``aws`` uses real AWS with the credentials of the environment;
``none`` runs no Terraform against any cloud (the runner previews). The wiring (endpoints,
``skip_*`` flags, dummy keys) goes only into an override file the runner writes into its per-run
working directory: nothing of it is ever committed to an infra repository.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Protocol

log = logging.getLogger(__name__)

CloudMode = Literal["moto", "aws", "none"]

# Every service the in-repo modules and the provider's own start-up calls reach.
MOTO_SERVICES: tuple[str, ...] = (
    "dynamodb",
    "ec2",
    "ecr",
    "iam",
    "kms",
    "rds",
    "s3",
    "sns",
    "sqs",
    "ssm",  # the EC2 module reads its AMI id from a public SSM parameter
    "sts",
)
_START_TIMEOUT_SECONDS = 60.0
# Environment passed to Terraform in ``aws`` mode: the provider's own credential chain.
_AWS_ENV_PREFIXES = ("AWS_",)


class CloudUnavailable(Exception):
    """The chosen cloud cannot be used here; the message says why (shown on the card)."""


class Cloud(Protocol):
    """Where a local Terraform run's AWS provider points."""

    mode: CloudMode

    def provider_override(self) -> str:
        """HCL for a ``*_override.tf`` file that points ``provider "aws"`` here ('' for none)."""
        ...

    def terraform_env(self) -> dict[str, str]:
        """Environment variables the provider needs (credentials in ``aws`` mode)."""
        ...


class MotoServer:
    """moto's server in a child process (``core.adapters.moto_launcher``), started on first use."""

    mode: CloudMode = "moto"

    def __init__(self, data_dir: Path, *, python: str | None = None) -> None:
        self._dir = Path(data_dir) / "local-cloud"
        self._python = python or sys.executable
        self._proc: subprocess.Popen[str] | None = None
        self._endpoint: str | None = None
        self._lock = threading.Lock()

    @staticmethod
    def available() -> str | None:
        """Why moto's server cannot run here, or None."""
        if importlib.util.find_spec("moto") is None or importlib.util.find_spec("werkzeug") is None:
            return "moto is not installed (pip install 'tfpilot[local-cloud]')"
        return None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def endpoint(self) -> str:
        """The server's base URL, starting the server when it is not running."""
        with self._lock:
            if self._endpoint is not None and self.running:
                return self._endpoint
            why = self.available()
            if why is not None:
                raise CloudUnavailable(why)
            self._endpoint = self._start()
            return self._endpoint

    def _start(self) -> str:
        self._dir.mkdir(parents=True, exist_ok=True)
        stderr = (self._dir / "moto.log").open("a", encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR", "LANG", "PYTHONPATH")}
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [self._python, "-m", "core.adapters.moto_launcher", "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=str(Path(__file__).resolve().parents[2]),
        )
        stderr.close()
        port = self._read_port(proc)
        if port is None:
            proc.kill()
            proc.wait(timeout=10)
            raise CloudUnavailable(f"moto's server did not start (see {self._dir / 'moto.log'})")
        self._proc = proc
        (self._dir / "moto.port").write_text(f"{port}\n", encoding="utf-8")
        atexit.register(self.stop)
        log.info("local cloud: moto's server on 127.0.0.1:%s (pid %s)", port, proc.pid)
        return f"http://127.0.0.1:{port}"

    @staticmethod
    def _read_port(proc: subprocess.Popen[str]) -> int | None:
        found: list[int] = []

        def read() -> None:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.startswith("port "):
                with contextlib.suppress(ValueError):
                    found.append(int(line.split()[1]))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(_START_TIMEOUT_SECONDS)
        return found[0] if found else None

    def stop(self) -> None:
        with self._lock:
            proc, self._proc, self._endpoint = self._proc, None, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def provider_override(self) -> str:
        return moto_provider_override(self.endpoint())

    def terraform_env(self) -> dict[str, str]:
        return {}


def moto_provider_override(endpoint: str) -> str:
    """``provider "aws"`` settings for an emulator at ``endpoint`` (merged into the repo's block)."""
    width = max(len(s) for s in MOTO_SERVICES)
    endpoints = "\n".join(f'    {s.ljust(width)} = "{endpoint}"' for s in MOTO_SERVICES)
    return (
        "# Written by the TfPilot local runner into its working directory; never committed.\n"
        'provider "aws" {\n'
        '  access_key                  = "test"\n'
        '  secret_key                  = "test"\n'
        "  skip_credentials_validation = true\n"
        "  skip_requesting_account_id  = true\n"
        "  skip_metadata_api_check     = true\n"
        "  s3_use_path_style           = true\n"
        "\n"
        "  endpoints {\n"
        f"{endpoints}\n"
        "  }\n"
        "}\n"
    )


class RealAws:
    """Real AWS: the provider block as committed, credentials from the environment."""

    mode: CloudMode = "aws"

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = dict(os.environ if environ is None else environ)

    def provider_override(self) -> str:
        return ""

    def terraform_env(self) -> dict[str, str]:
        return {k: v for k, v in self._environ.items() if k.startswith(_AWS_ENV_PREFIXES)}
