"""``LinkedAccounts``: Slack users' linked GitHub accounts, the token encrypted at rest.

One object per Slack user at ``identities/<team>/<user>.json`` (``bot.identity.identity_key``,
where the Slack side reads the login): ``github_login``, ``github_id``, ``scopes``,
``linked_at`` and ``token_encrypted``, a Fernet token of the user's GitHub OAuth token. The key
comes from ``TFPILOT_ENCRYPTION_KEY``: a Fernet key as is, or any other secret stretched with
HKDF-SHA256; several comma-separated keys rotate (the first encrypts, all decrypt). The token
is only ever decrypted by ``token()``, never logged, and kept out of ``repr``.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.identity import identity_key
from core.ports.object_store import ObjectStore

if TYPE_CHECKING:
    # cryptography is imported when a key is used: a service without TFPILOT_ENCRYPTION_KEY
    # never loads it (start-up time and memory).
    from cryptography.fernet import Fernet, MultiFernet

log = logging.getLogger(__name__)

_FERNET_INFO = b"tfpilot/identities/fernet/v1"


def derive_key(secret: str, info: bytes, *, length: int = 32) -> bytes:
    """A subkey of ``secret`` for one purpose (HKDF-SHA256, no salt: the secret is random)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(secret.encode("utf-8"))


def _fernet_key(secret: str) -> bytes:
    from cryptography.fernet import Fernet

    try:
        Fernet(secret.encode("ascii"))
        return secret.encode("ascii")
    except (ValueError, UnicodeEncodeError):
        return base64.urlsafe_b64encode(derive_key(secret, _FERNET_INFO))


def fernet_from_setting(value: str) -> MultiFernet:
    """The Fernet of ``TFPILOT_ENCRYPTION_KEY`` (comma-separated keys rotate; the first encrypts)."""
    from cryptography.fernet import Fernet, MultiFernet

    keys = [part.strip() for part in value.split(",") if part.strip()]
    if not keys:
        raise ValueError("TFPILOT_ENCRYPTION_KEY is empty")
    return MultiFernet([Fernet(_fernet_key(key)) for key in keys])


class LinkedAccount(BaseModel):
    """What is known of a link; the token is not part of it."""

    model_config = ConfigDict(frozen=True)

    team_id: str | None
    user_id: str
    github_login: str
    github_id: int | None = None
    scopes: list[str] = Field(default_factory=list)
    linked_at: datetime


class _Stored(LinkedAccount):
    model_config = ConfigDict(frozen=True, extra="ignore")

    token_encrypted: str = Field(repr=False)


class LinkedAccounts:
    def __init__(self, objects: ObjectStore, fernet: Fernet | MultiFernet) -> None:
        self._objects = objects
        self._fernet = fernet

    def __repr__(self) -> str:
        return "LinkedAccounts()"

    def _read(self, team_id: str | None, user_id: str) -> _Stored | None:
        stored = self._objects.get(identity_key(team_id, user_id))
        if stored is None:
            return None
        try:
            return _Stored.model_validate(json.loads(stored.body))
        except (ValueError, ValidationError):
            log.warning("the linked identity of %s is unreadable; treating it as absent", user_id)
            return None

    def get(self, team_id: str | None, user_id: str) -> LinkedAccount | None:
        found = self._read(team_id, user_id)
        return LinkedAccount.model_validate(found.model_dump(exclude={"token_encrypted"})) if found else None

    def token(self, team_id: str | None, user_id: str) -> str | None:
        """The user's GitHub token (for reviews posted as them), or None."""
        from cryptography.fernet import InvalidToken

        found = self._read(team_id, user_id)
        if found is None:
            return None
        try:
            return self._fernet.decrypt(found.token_encrypted.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            log.warning("the stored GitHub token of %s cannot be decrypted with the current keys", user_id)
            return None

    def put(
        self,
        team_id: str | None,
        user_id: str,
        *,
        github_login: str,
        token: str,
        linked_at: datetime,
        github_id: int | None = None,
        scopes: list[str] | None = None,
    ) -> LinkedAccount:
        doc = _Stored(
            team_id=team_id,
            user_id=user_id,
            github_login=github_login,
            github_id=github_id,
            scopes=scopes or [],
            linked_at=linked_at,
            token_encrypted=self._fernet.encrypt(token.encode("utf-8")).decode("ascii"),
        )
        self._objects.put(identity_key(team_id, user_id), doc.model_dump_json().encode("utf-8"))
        return LinkedAccount.model_validate(doc.model_dump(exclude={"token_encrypted"}))

    def delete(self, team_id: str | None, user_id: str) -> bool:
        """Forget the link; True when there was one."""
        key = identity_key(team_id, user_id)
        if self._objects.get(key) is None:
            return False
        self._objects.delete(key)
        return True
