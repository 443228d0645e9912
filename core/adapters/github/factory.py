"""Build a ``GitHubClient`` / ``GitHubCodeHost`` from settings. Core cannot import
``bot.settings`` (layers point down), so this reads any object with the GitHub fields of
``bot.settings.Settings``; the composition root passes its ``Settings``."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import SecretStr

from core.adapters.github.auth import StaticToken, TokenProvider
from core.adapters.github.client import GitHubClient
from core.adapters.github.code_host import GitHubCodeHost


class GitHubSettings(Protocol):
    @property
    def github_api_url(self) -> str: ...
    @property
    def github_web_url(self) -> str: ...
    @property
    def github_token(self) -> SecretStr | None: ...
    @property
    def github_app_id(self) -> int | None: ...
    @property
    def github_app_private_key(self) -> SecretStr | None: ...
    @property
    def github_app_installation_id(self) -> int | None: ...


def token_provider(settings: GitHubSettings, **app_options: Any) -> TokenProvider:
    """The GitHub App when ``GITHUB_APP_ID`` is set (it needs ``GITHUB_APP_PRIVATE_KEY``),
    else ``GITHUB_TOKEN``."""
    if settings.github_app_id is not None:
        if settings.github_app_private_key is None:
            raise ValueError("GITHUB_APP_ID is set but GITHUB_APP_PRIVATE_KEY is missing")
        # PyJWT and cryptography load only for a GitHub App (start-up time and memory).
        from core.adapters.github.app_auth import GitHubAppAuth

        return GitHubAppAuth(
            settings.github_app_id,
            settings.github_app_private_key,
            installation_id=settings.github_app_installation_id,
            **app_options,
        )
    if settings.github_token is not None:
        return StaticToken(settings.github_token)
    raise ValueError("no GitHub credentials: set GITHUB_TOKEN, or GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY")


def github_client(settings: GitHubSettings, **client_options: Any) -> GitHubClient:
    """A client on ``TFPILOT_GITHUB_API_URL`` (``https://host/api/v3`` for Enterprise Server)."""
    return GitHubClient(auth=token_provider(settings), base_url=settings.github_api_url, **client_options)


def github_code_host(settings: GitHubSettings, **client_options: Any) -> GitHubCodeHost:
    return GitHubCodeHost(github_client(settings, **client_options), web_url=settings.github_web_url)
