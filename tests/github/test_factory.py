"""Building the client and code host from settings: which credentials win, which base URL."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.settings import load_settings
from core.adapters.github.app_auth import GitHubAppAuth
from core.adapters.github.auth import StaticToken
from core.adapters.github.factory import github_client, github_code_host, token_provider


@pytest.fixture(scope="module")
def pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()


def test_token_settings_give_a_static_token_on_the_enterprise_url() -> None:
    settings = load_settings(
        {
            "GITHUB_TOKEN": "ghp_x",
            "TFPILOT_GITHUB_API_URL": "https://ghe.example.test/api/v3/",
            "TFPILOT_GITHUB_WEB_URL": "https://ghe.example.test",
        }
    )
    host = github_code_host(settings)
    assert isinstance(host.client.auth, StaticToken)
    assert host.client.base_url == "https://ghe.example.test/api/v3"
    assert host.web_url == "https://ghe.example.test"
    host.client.close()


def test_app_settings_win_over_a_token(pem: str) -> None:
    settings = load_settings(
        {
            "GITHUB_TOKEN": "ghp_x",
            "GITHUB_APP_ID": "123",
            "GITHUB_APP_PRIVATE_KEY": pem,
            "GITHUB_APP_INSTALLATION_ID": "9",
        }
    )
    auth = token_provider(settings)
    assert isinstance(auth, GitHubAppAuth)
    assert (auth.app_id, auth.installation_id) == ("123", 9)
    client = github_client(settings)
    assert client.base_url == "https://api.github.com"
    client.close()


def test_missing_credentials_are_named() -> None:
    with pytest.raises(ValueError, match="GITHUB_TOKEN, or GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY"):
        token_provider(load_settings({}))
    with pytest.raises(ValueError, match="GITHUB_APP_PRIVATE_KEY is missing"):
        token_provider(load_settings({"GITHUB_APP_ID": "1"}))
