"""Slack user -> email (users.info, cached with a TTL) -> Actor and role; linked GitHub login."""

from __future__ import annotations

import json

from slack_sdk import WebClient

from bot.identity import SlackIdentity, identity_key
from core.domain.policy import Policy, Role
from tests.fakes import InMemoryObjectStore
from tests.slack.fake_slack import FakeSlack


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _client(fake: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=fake.api_url)


def test_role_from_email_and_cached_lookup(fake_slack: FakeSlack) -> None:
    fake_slack.add_user("U0AAA0001", email="Boss@Example.com", name="boss")
    clock = Clock()
    identity = SlackIdentity(Policy.of(approvers=["boss@example.com"]), ttl_seconds=60, monotonic=clock)
    client = _client(fake_slack)
    actor = identity.actor(client, "T1", "U0AAA0001")
    assert actor.email == "Boss@Example.com" and actor.name == "boss"
    assert identity.role(actor) is Role.APPROVER
    identity.actor(client, "T1", "U0AAA0001")
    assert len(fake_slack.of("users.info")) == 1  # cached
    clock.now = 61
    identity.actor(client, "T1", "U0AAA0001")
    assert len(fake_slack.of("users.info")) == 2  # expired


def test_role_from_user_id_when_users_info_fails(fake_slack: FakeSlack) -> None:
    identity = SlackIdentity(Policy.of(admins=["U0ADM0001"]))
    actor = identity.actor(_client(fake_slack), "T1", "U0ADM0001")  # unknown to users.info
    assert actor.email is None and identity.role(actor) is Role.ADMIN


def test_linked_github_login_is_read_and_validated(fake_slack: FakeSlack) -> None:
    objects = InMemoryObjectStore()
    objects.put(identity_key("T1", "U0DEV0001"), json.dumps({"github_login": "octo-cat", "token": "enc"}).encode())
    objects.put(identity_key("T1", "U0BAD0001"), json.dumps({"github_login": "bad login; rm -rf"}).encode())
    objects.put(identity_key("T1", "U0NOT0001"), b"not json")
    fake_slack.add_user("U0DEV0001", email="dev@example.com")
    identity = SlackIdentity(Policy.of(), objects)
    client = _client(fake_slack)
    profile = identity.profile(client, "T1", "U0DEV0001")
    assert profile.github_login == "octo-cat" and profile.requester().github_login == "octo-cat"
    assert profile.requester().team_id == "T1" and profile.requester().email == "dev@example.com"
    assert identity.profile(client, "T1", "U0BAD0001").github_login is None
    assert identity.profile(client, "T1", "U0NOT0001").github_login is None
    assert identity.profile(client, "T1", "../../etc").github_login is None
