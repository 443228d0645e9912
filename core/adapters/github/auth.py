"""Where the GitHub client gets its bearer token: the ``TokenProvider`` protocol and the static
``GITHUB_TOKEN`` provider. The GitHub App provider lives in ``app_auth``. Tokens are never
logged and never appear in a provider's ``repr``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pydantic import SecretStr

if TYPE_CHECKING:
    from core.adapters.github.client import GitHubClient


class TokenProvider(Protocol):
    def token(self, client: GitHubClient, *, owner: str | None, repo: str | None) -> str:
        """A bearer token valid for calls on ``owner/repo`` (None when the call names no repo)."""
        ...

    def invalidate(self) -> bool:
        """Forget cached tokens (GitHub answered 401); True when the next ``token`` call can
        fetch a fresh one, so the request is worth one more try."""
        ...


class StaticToken:
    """A fixed token (``GITHUB_TOKEN``, a fine-grained PAT, or a linked user's OAuth token)."""

    def __init__(self, token: str | SecretStr) -> None:
        secret = token if isinstance(token, SecretStr) else SecretStr(token)
        if not secret.get_secret_value().strip():
            raise ValueError("the GitHub token is empty")
        self._token = secret

    def token(self, client: GitHubClient, *, owner: str | None, repo: str | None) -> str:
        return self._token.get_secret_value().strip()

    def invalidate(self) -> bool:
        """A static token cannot be refreshed: a 401 surfaces as an error at once."""
        return False

    def __repr__(self) -> str:
        return "StaticToken(**********)"
