"""Multi-workspace OAuth for the Bolt app: slack_sdk's installation and state stores.

With ``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET`` set, installations and OAuth states go to the
requests bucket (``AmazonS3InstallationStore`` / ``AmazonS3OAuthStateStore``, under
``slack/installations/`` and ``slack/states/``) when S3 is configured, else to files under the
data dir (``FileInstallationStore`` / ``FileOAuthStateStore``). Without them the app runs on
the single ``SLACK_BOT_TOKEN`` and ``oauth_settings`` returns None.

``CachedAuthorize`` resolves each request's workspace token. Bolt's default authorization runs
before the ack on every request: two installation-store reads (the workspace, then the
clicking user's own installation) and an ``auth.test`` call. TfPilot uses bot tokens only, so
it reads the workspace's bot once and remembers the result for a few minutes.

Only OAuth mode imports this module (``bot.app.create_app``, the notifier, linking): a
single-workspace service never loads the S3 installation and state stores.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from slack_bolt.authorization.authorize import Authorize, InstallationStoreAuthorize
from slack_bolt.authorization.authorize_result import AuthorizeResult
from slack_bolt.context.context import BoltContext
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk.oauth.installation_store import FileInstallationStore, InstallationStore
from slack_sdk.oauth.installation_store.amazon_s3 import AmazonS3InstallationStore
from slack_sdk.oauth.state_store import FileOAuthStateStore, OAuthStateStore
from slack_sdk.oauth.state_store.amazon_s3 import AmazonS3OAuthStateStore

from bot import slack_manifest as manifest

if TYPE_CHECKING:
    from bot.settings import Settings

# The bot scopes (with the reason for each) live with the manifest that declares them.
BOT_SCOPES = manifest.BOT_SCOPES
INSTALLATIONS_PREFIX = "slack/installations"
STATES_PREFIX = "slack/states"
STATE_EXPIRATION_SECONDS = 600
INSTALL_PATH = manifest.OAUTH_INSTALL_PATH
REDIRECT_PATH = manifest.OAUTH_REDIRECT_PATH
AUTHORIZE_TTL_SECONDS = 300.0

log = logging.getLogger(__name__)


class PrefixedS3OAuthStateStore(AmazonS3OAuthStateStore):
    """slack_sdk's S3 state store, keeping states under ``slack/states/`` rather than at the
    bucket root (the requests bucket holds everything else too)."""

    def __init__(self, *, prefix: str = STATES_PREFIX, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prefix = prefix.rstrip("/") + "/"

    def issue(self, *args: Any, **kwargs: Any) -> str:
        state = str(uuid4())
        s3: Any = self.s3_client
        s3.put_object(Bucket=self.bucket_name, Body=str(time.time()), Key=self.prefix + state)
        return state

    def consume(self, state: str) -> bool:
        if not state or "/" in state or len(state) > 100:
            return False
        key = self.prefix + state
        s3: Any = self.s3_client
        try:
            body = s3.get_object(Bucket=self.bucket_name, Key=key)["Body"].read().decode("utf-8")
            s3.delete_object(Bucket=self.bucket_name, Key=key)
            return time.time() < float(body) + self.expiration_seconds
        except Exception as exc:
            self.logger.warning("OAuth state %s not found or unreadable: %s", state, type(exc).__name__)
            return False


class CachedAuthorize(Authorize):
    """The workspace's bot token and identity (``auth.test``), from the installation store,
    remembered per workspace for ``ttl_seconds``. Only found workspaces are remembered, so a
    fresh install is seen at once; an uninstalled one keeps its stale token at most ``ttl``."""

    def __init__(
        self,
        installation_store: InstallationStore,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        ttl_seconds: float = AUTHORIZE_TTL_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = InstallationStoreAuthorize(
            logger=log,
            installation_store=installation_store,
            client_id=client_id,
            client_secret=client_secret,
            bot_only=True,
            cache_enabled=True,
        )
        self._ttl = ttl_seconds
        self._now = monotonic
        self._cache: dict[tuple[str | None, str | None, bool], tuple[float, AuthorizeResult]] = {}
        self._lock = threading.Lock()
        # Bolt sets this on whatever authorize it is given (token rotation).
        self.token_rotation_expiration_minutes = 120

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        key = (enterprise_id, team_id, bool(context.is_enterprise_install))
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and hit[0] > self._now():
            return hit[1]
        self._inner.token_rotation_expiration_minutes = self.token_rotation_expiration_minutes
        result = self._inner(context=context, enterprise_id=enterprise_id, team_id=team_id, user_id=user_id)
        if result is not None:
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[key] = (self._now() + self._ttl, result)
        return result

    def forget(self, enterprise_id: str | None, team_id: str | None) -> None:
        with self._lock:
            for key in [k for k in self._cache if k[:2] == (enterprise_id, team_id)]:
                self._cache.pop(key, None)


def cached_authorize(oauth: OAuthSettings) -> CachedAuthorize:
    """The authorize function for an app built with ``oauth`` (same store, same client)."""
    return CachedAuthorize(oauth.installation_store, client_id=oauth.client_id, client_secret=oauth.client_secret)


def _s3_client(settings: Settings) -> Any:
    import boto3

    # boto3 honours AWS_ENDPOINT_URL_S3 itself.
    return boto3.client("s3", region_name=settings.default_region)


def installation_store(settings: Settings, *, s3_client: Any = None) -> InstallationStore:
    client_id = settings.slack_client_id or "default"
    if settings.requests_bucket:
        # The store prefixes every key with its client_id: nesting it keeps our layout.
        return AmazonS3InstallationStore(
            s3_client=s3_client or _s3_client(settings),
            bucket_name=settings.requests_bucket,
            client_id=f"{INSTALLATIONS_PREFIX}/{client_id}",
        )
    return FileInstallationStore(base_dir=str(Path(settings.data_dir) / INSTALLATIONS_PREFIX), client_id=client_id)


def state_store(settings: Settings, *, s3_client: Any = None) -> OAuthStateStore:
    if settings.requests_bucket:
        return PrefixedS3OAuthStateStore(
            s3_client=s3_client or _s3_client(settings),
            bucket_name=settings.requests_bucket,
            expiration_seconds=STATE_EXPIRATION_SECONDS,
        )
    return FileOAuthStateStore(
        expiration_seconds=STATE_EXPIRATION_SECONDS, base_dir=str(Path(settings.data_dir) / STATES_PREFIX)
    )


def oauth_settings(settings: Settings, *, s3_client: Any = None) -> OAuthSettings | None:
    """Bolt OAuth settings, or None when the app is a single-workspace install."""
    if not settings.slack_oauth_enabled or settings.slack_client_secret is None:
        return None
    redirect_uri = f"{settings.public_url}{REDIRECT_PATH}" if settings.public_url else None
    return OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        scopes=list(BOT_SCOPES),
        redirect_uri=redirect_uri,
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=installation_store(settings, s3_client=s3_client),
        state_store=state_store(settings, s3_client=s3_client),
        state_expiration_seconds=STATE_EXPIRATION_SECONDS,
    )
