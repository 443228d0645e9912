"""GitHub App auth: JWT claims, installation tokens cached until shortly before expiry,
installation discovery per account, refresh on 401, and no secret in logs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core.adapters.github.app_auth import GitHubAppAuth, load_private_key
from core.adapters.github.client import GitHubClient
from core.ports.code_host import CodeHostError
from tests.github import payloads
from tests.github.conftest import FakeTime
from tests.github.openapi_contract import OpenApiChecker

INSTALL_TOKEN_1 = "ghs_INSTALLATIONtoken1xxxxxxxxxxxxxxxxxxxx"
INSTALL_TOKEN_2 = "ghs_INSTALLATIONtoken2xxxxxxxxxxxxxxxxxxxx"
REF_PATH = "/repos/acme/infra/git/ref/heads/main"


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def pem(rsa_key: rsa.RSAPrivateKey) -> str:
    return rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def token_body(token: str, expires: float) -> dict[str, object]:
    return {"token": token, "expires_at": iso(expires), "permissions": {"contents": "write"}}


def read_ref(client: GitHubClient, owner: str = "acme") -> None:
    client.get("/repos/{owner}/{repo}/git/ref/{ref}", path={"owner": owner, "repo": "infra", "ref": "heads/main"})


def test_jwt_claims_are_rs256_backdated_and_short(pem: str, rsa_key: rsa.RSAPrivateKey, fake_time: FakeTime) -> None:
    auth = GitHubAppAuth(12345, pem, installation_id=1, now=fake_time)
    token = auth.app_jwt()
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    claims = jwt.decode(
        token, rsa_key.public_key(), algorithms=["RS256"], options={"verify_exp": False, "verify_iat": False}
    )
    now = int(fake_time.value)
    assert claims == {"iat": now - 60, "exp": now + 540, "iss": "12345"}
    assert claims["exp"] - claims["iat"] <= 600


def test_installation_token_is_cached_until_near_expiry(
    make_client: Callable[..., GitHubClient],
    github_api: respx.MockRouter,
    pem: str,
    fake_time: FakeTime,
    openapi_checker: OpenApiChecker,
) -> None:
    expires = fake_time.value + 3600
    tokens = github_api.post("/app/installations/77/access_tokens").mock(
        side_effect=[
            httpx.Response(201, json=token_body(INSTALL_TOKEN_1, expires)),
            httpx.Response(201, json=token_body(INSTALL_TOKEN_2, expires + 3600)),
        ]
    )
    refs = github_api.get(REF_PATH).respond(200, json=payloads.ref("main", payloads.sha("a")))
    auth = GitHubAppAuth(12345, pem, installation_id=77, now=fake_time)
    client = make_client(auth=auth)

    read_ref(client)
    fake_time.value += 3000  # 10 minutes left: still outside the 5-minute margin
    read_ref(client)
    assert tokens.call_count == 1
    assert [c.request.headers["authorization"] for c in refs.calls] == [f"Bearer {INSTALL_TOKEN_1}"] * 2

    fake_time.value += 400  # 200 s left: refresh
    read_ref(client)
    assert tokens.call_count == 2
    assert refs.calls.last.request.headers["authorization"] == f"Bearer {INSTALL_TOKEN_2}"
    assert auth.tokens_minted == 2
    # The token request itself is authenticated with the App JWT.
    jwt_header = tokens.calls.last.request.headers["authorization"]
    assert jwt_header.startswith("Bearer ") and jwt_header.count(".") == 2
    assert openapi_checker.operation_ids().count("apps/create-installation-access-token") == 2


def test_installation_is_discovered_once_per_account(
    make_client: Callable[..., GitHubClient], github_api: respx.MockRouter, pem: str, fake_time: FakeTime
) -> None:
    discover = github_api.get("/repos/acme/infra/installation").respond(
        200, json={"id": 42, "account": {"login": "acme"}}
    )
    discover_other = github_api.get("/repos/other/infra/installation").respond(200, json={"id": 43})
    github_api.post("/app/installations/42/access_tokens").respond(
        201, json=token_body(INSTALL_TOKEN_1, fake_time.value + 3600)
    )
    github_api.post("/app/installations/43/access_tokens").respond(
        201, json=token_body(INSTALL_TOKEN_2, fake_time.value + 3600)
    )
    github_api.get(REF_PATH).respond(200, json={})
    other = github_api.get("/repos/other/infra/git/ref/heads/main").respond(200, json={})
    client = make_client(auth=GitHubAppAuth("12345", pem, now=fake_time))
    read_ref(client)
    read_ref(client)
    read_ref(client, owner="other")
    assert discover.call_count == 1
    assert discover_other.call_count == 1
    assert other.calls.last.request.headers["authorization"] == f"Bearer {INSTALL_TOKEN_2}"


def test_app_not_installed_is_a_clear_error(
    make_client: Callable[..., GitHubClient], github_api: respx.MockRouter, pem: str, fake_time: FakeTime
) -> None:
    github_api.get("/repos/acme/infra/installation").respond(404, json={"message": "Not Found"})
    client = make_client(auth=GitHubAppAuth("12345", pem, now=fake_time))
    with pytest.raises(CodeHostError, match=r"GitHub App \(id 12345\) is not installed on acme/infra") as caught:
        read_ref(client)
    assert caught.value.status == 404


def test_a_call_without_repo_needs_a_configured_installation(
    make_client: Callable[..., GitHubClient], pem: str, fake_time: FakeTime
) -> None:
    client = make_client(auth=GitHubAppAuth("12345", pem, now=fake_time))
    with pytest.raises(CodeHostError, match="GITHUB_APP_INSTALLATION_ID"):
        client.get("/user")


def test_401_fetches_a_fresh_installation_token_once(
    make_client: Callable[..., GitHubClient], github_api: respx.MockRouter, pem: str, fake_time: FakeTime
) -> None:
    tokens = github_api.post("/app/installations/77/access_tokens").mock(
        side_effect=[
            httpx.Response(201, json=token_body(INSTALL_TOKEN_1, fake_time.value + 3600)),
            httpx.Response(201, json=token_body(INSTALL_TOKEN_2, fake_time.value + 3600)),
        ]
    )
    refs = github_api.get(REF_PATH).mock(
        side_effect=[httpx.Response(401, json={"message": "Bad credentials"}), httpx.Response(200, json={})]
    )
    client = make_client(auth=GitHubAppAuth(12345, pem, installation_id=77, now=fake_time))
    read_ref(client)
    assert tokens.call_count == 2
    assert [c.request.headers["authorization"] for c in refs.calls] == [
        f"Bearer {INSTALL_TOKEN_1}",
        f"Bearer {INSTALL_TOKEN_2}",
    ]


def test_no_key_jwt_or_token_reaches_the_logs(
    make_client: Callable[..., GitHubClient],
    github_api: respx.MockRouter,
    pem: str,
    fake_time: FakeTime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = github_api.post("/app/installations/77/access_tokens").respond(
        201, json=token_body(INSTALL_TOKEN_1, fake_time.value + 3600)
    )
    github_api.get(REF_PATH).respond(200, json={})
    auth = GitHubAppAuth(12345, pem, installation_id=77, now=fake_time)
    client = make_client(auth=auth)
    read_ref(client)
    app_jwt = tokens.calls.last.request.headers["authorization"].removeprefix("Bearer ")
    text = caplog.text + "".join(str(vars(r)) for r in caplog.records)
    for secret in (INSTALL_TOKEN_1, app_jwt, pem.splitlines()[1]):
        assert secret not in text
    assert "/app/installations/{installation_id}/access_tokens" in caplog.text
    assert INSTALL_TOKEN_1 not in repr(auth) and pem.splitlines()[1] not in repr(auth)


def test_private_key_with_escaped_newlines_is_accepted(pem: str) -> None:
    escaped = pem.strip().replace("\n", "\\n")
    assert load_private_key(escaped).key_size == 2048


def test_unreadable_private_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="not a readable PEM private key") as caught:
        load_private_key("-----BEGIN PRIVATE KEY-----\nnot-a-key-SECRETBYTES\n-----END PRIVATE KEY-----")
    assert "SECRETBYTES" not in str(caught.value)
