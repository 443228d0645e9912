"""GitHub App authentication: an RS256 JWT signed with the App's private key buys installation
access tokens (``POST /app/installations/{id}/access_tokens``), each cached until shortly before
its ``expires_at``. The installation id comes from settings or is discovered once per account
with ``GET /repos/{owner}/{repo}/installation``. The key, the JWT and the tokens never reach a
log line or a ``repr``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from pydantic import SecretStr

from core.adapters.github.client import GitHubApiError
from core.ports.code_host import CodeHostError

if TYPE_CHECKING:
    from core.adapters.github.client import GitHubClient

# GitHub rejects a JWT whose exp is more than 10 minutes ahead; iat is backdated for clock drift.
JWT_BACKDATE = 60
JWT_LIFETIME = 540
DEFAULT_TOKEN_LIFETIME = 3600.0


def load_private_key(pem: str | SecretStr) -> RSAPrivateKey:
    """Parse the App's PEM key; accepts keys whose newlines were escaped as ``\\n`` in an env var."""
    text = pem.get_secret_value() if isinstance(pem, SecretStr) else pem
    text = text.strip()
    if "\\n" in text and "\n" not in text:
        text = text.replace("\\n", "\n")
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("GITHUB_APP_PRIVATE_KEY is not a readable PEM private key") from None
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("GITHUB_APP_PRIVATE_KEY must be an RSA key (GitHub signs App JWTs with RS256)")
    return key


class GitHubAppAuth:
    """``TokenProvider`` for a GitHub App: installation tokens per installation, refreshed
    ``refresh_margin`` seconds before they expire."""

    def __init__(
        self,
        app_id: int | str,
        private_key: str | SecretStr | RSAPrivateKey,
        *,
        installation_id: int | None = None,
        now: Callable[[], float] = time.time,
        refresh_margin: float = 300.0,
    ) -> None:
        if not str(app_id).strip():
            raise ValueError("GITHUB_APP_ID is empty")
        self.app_id = str(app_id).strip()
        self._key = private_key if isinstance(private_key, RSAPrivateKey) else load_private_key(private_key)
        self.installation_id = installation_id
        self._now = now
        self.refresh_margin = refresh_margin
        self._lock = threading.RLock()
        self._tokens: dict[int, tuple[str, float]] = {}
        self._installations: dict[str, int] = {}
        self.tokens_minted = 0

    def __repr__(self) -> str:
        return f"GitHubAppAuth(app_id={self.app_id!r}, installation_id={self.installation_id!r})"

    def app_jwt(self) -> str:
        now = int(self._now())
        payload = {"iat": now - JWT_BACKDATE, "exp": now + JWT_LIFETIME, "iss": self.app_id}
        return jwt.encode(payload, self._key, algorithm="RS256")

    def token(self, client: GitHubClient, *, owner: str | None, repo: str | None) -> str:
        with self._lock:
            installation = self._installation_for(client, owner, repo)
            cached = self._tokens.get(installation)
            if cached is not None and self._now() < cached[1] - self.refresh_margin:
                return cached[0]
            response = client.post(
                "/app/installations/{installation_id}/access_tokens",
                path={"installation_id": installation},
                token=self.app_jwt(),
            )
            data = response.data if isinstance(response.data, dict) else {}
            token = data.get("token")
            if not isinstance(token, str) or not token:
                raise CodeHostError("GitHub returned no installation token", status=response.status)
            self._tokens[installation] = (token, self._expiry(data.get("expires_at")))
            self.tokens_minted += 1
            return token

    def invalidate(self) -> bool:
        with self._lock:
            self._tokens.clear()
        return True

    def _installation_for(self, client: GitHubClient, owner: str | None, repo: str | None) -> int:
        if self.installation_id is not None:
            return self.installation_id
        if not owner or not repo:
            raise CodeHostError(
                "GitHub App call names no repository and GITHUB_APP_INSTALLATION_ID is not set: "
                "cannot tell which installation to use"
            )
        account = owner.lower()
        if account not in self._installations:
            try:
                response = client.get(
                    "/repos/{owner}/{repo}/installation",
                    path={"owner": owner, "repo": repo},
                    token=self.app_jwt(),
                )
            except GitHubApiError as exc:
                if exc.status == 404:
                    raise CodeHostError(
                        f"the GitHub App (id {self.app_id}) is not installed on {owner}/{repo}", status=404
                    ) from exc
                raise
            data = response.data if isinstance(response.data, dict) else {}
            installation = data.get("id")
            if not isinstance(installation, int):
                raise CodeHostError(f"GitHub App is not installed on {owner}/{repo}", status=response.status)
            self._installations[account] = installation
        return self._installations[account]

    def _expiry(self, expires_at: object) -> float:
        if isinstance(expires_at, str):
            try:
                return datetime.fromisoformat(expires_at.replace("Z", "+00:00")).timestamp()
            except ValueError:
                pass
        return self._now() + DEFAULT_TOKEN_LIFETIME
