"""Multi-workspace OAuth for the Bolt app: slack_sdk's installation and state stores.

With ``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET`` set, installations and OAuth states go to the
requests bucket (``AmazonS3InstallationStore`` / ``AmazonS3OAuthStateStore``, under
``slack/installations/`` and ``slack/states/``) when S3 is configured, else to files under the
data dir (``FileInstallationStore`` / ``FileOAuthStateStore``). Without them the app runs on
the single ``SLACK_BOT_TOKEN`` and ``oauth_settings`` returns None.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk.oauth.installation_store import FileInstallationStore, InstallationStore
from slack_sdk.oauth.installation_store.amazon_s3 import AmazonS3InstallationStore
from slack_sdk.oauth.state_store import FileOAuthStateStore, OAuthStateStore
from slack_sdk.oauth.state_store.amazon_s3 import AmazonS3OAuthStateStore

if TYPE_CHECKING:
    from bot.settings import Settings

# The bot scopes TfPilot uses; manifest.json declares the same list (a test keeps them equal).
BOT_SCOPES: tuple[str, ...] = (
    "app_mentions:read",
    "chat:write",
    "commands",
    "files:write",
    "im:history",
    "im:read",
    "im:write",
    "users:read",
    "users:read.email",
)
INSTALLATIONS_PREFIX = "slack/installations"
STATES_PREFIX = "slack/states"
STATE_EXPIRATION_SECONDS = 600
INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"


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
