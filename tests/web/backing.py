"""The services a real ``tfpilot serve`` process talks to in the multi-process tests: moto's S3
over HTTP with the requests bucket, a fake GitHub and a fake Slack (with a developer and an
approver), and the environment that points serve at them."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

from tests.slack.fake_slack import FakeSlack
from tests.slack.harness import SIGNING_SECRET
from tests.store.moto_server import AtomicMotoServer
from tests.web.conftest import API_TOKEN, WEBHOOK_SECRET
from tests.web.fake_github import FakeGitHub
from tests.web.served import clean_env

DEV, APPROVER = "U0DEV0001", "U0APP0001"


@dataclass
class Backing:
    s3: Any
    github: FakeGitHub
    slack: FakeSlack
    env: dict[str, str]


@contextmanager
def backing_services(bucket: str, **extra_env: str) -> Iterator[Backing]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = AtomicMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    github: FakeGitHub | None = None
    slack: FakeSlack | None = None
    try:
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        github = FakeGitHub().start()
        slack = FakeSlack().start()
        slack.add_user(APPROVER, email="approver@example.com", name="Abe Approver")
        slack.add_user(DEV, email="dev@example.com", name="Dana Dev")
        env = clean_env(
            AWS_ENDPOINT_URL_S3=endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            TFPILOT_REQUESTS_BUCKET=bucket,
            GITHUB_TOKEN="test-github-token",
            TFPILOT_GITHUB_API_URL=github.api_url,
            TFPILOT_GITHUB_WEB_URL="https://github.test",
            GITHUB_WEBHOOK_SECRET=WEBHOOK_SECRET,
            TFPILOT_API_TOKEN=API_TOKEN,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.api_url.rstrip("/"),
            TFPILOT_DEVELOPERS=DEV,
            TFPILOT_APPROVERS=APPROVER,
            **extra_env,
        )
        yield Backing(s3=s3, github=github, slack=slack, env=env)
    finally:
        if slack is not None:
            slack.stop()
        if github is not None:
            github.stop()
        moto.stop()
