"""Settings from the environment (names fixed by DESIGN.md), validated once at start.

Everything is optional at parse time because ``tfpilot demo`` and ``tfpilot chat`` run on
embedded defaults; ``require(mode)`` then names, in one message, every setting a mode needs
and lacks. A malformed value (a non-numeric app id, a bad URL) is reported the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.domain.policy import Policy
from core.domain.workflows import WorkflowNames

Mode = Literal["socket", "http", "demo", "chat", "cli"]

CsvList = Annotated[list[str], NoDecode]


class SettingsError(Exception):
    """Start-up refused: the message names every missing or malformed setting."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    # Slack
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, alias="SLACK_APP_TOKEN")
    slack_client_id: str | None = Field(None, alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(None, alias="SLACK_CLIENT_SECRET")
    slack_api_url: str | None = Field(None, alias="SLACK_API_URL")
    # GitHub
    github_token: SecretStr | None = Field(None, alias="GITHUB_TOKEN")
    github_app_id: int | None = Field(None, alias="GITHUB_APP_ID")
    github_app_private_key: SecretStr | None = Field(None, alias="GITHUB_APP_PRIVATE_KEY")
    github_app_installation_id: int | None = Field(None, alias="GITHUB_APP_INSTALLATION_ID")
    github_client_id: str | None = Field(None, alias="GITHUB_CLIENT_ID")
    github_client_secret: SecretStr | None = Field(None, alias="GITHUB_CLIENT_SECRET")
    github_webhook_secret: SecretStr | None = Field(None, alias="GITHUB_WEBHOOK_SECRET")
    github_api_url: str = Field("https://api.github.com", alias="TFPILOT_GITHUB_API_URL")
    github_web_url: str = Field("https://github.com", alias="TFPILOT_GITHUB_WEB_URL")
    # Workflows
    plan_workflow: str = Field("plan.yml", alias="TFPILOT_PLAN_WORKFLOW")
    apply_workflow: str = Field("apply.yml", alias="TFPILOT_APPLY_WORKFLOW")
    destroy_workflow: str = Field("destroy.yml", alias="TFPILOT_DESTROY_WORKFLOW")
    cleanup_workflow: str = Field("cleanup.yml", alias="TFPILOT_CLEANUP_WORKFLOW")
    drift_workflow: str = Field("drift.yml", alias="TFPILOT_DRIFT_WORKFLOW")
    # Storage
    requests_bucket: str | None = Field(None, alias="TFPILOT_REQUESTS_BUCKET")
    chat_logs_bucket: str | None = Field(None, alias="TFPILOT_CHAT_LOGS_BUCKET")
    default_region: str = Field("us-east-1", alias="TFPILOT_DEFAULT_REGION")
    data_dir: Path = Field(Path(".tfpilot"), alias="TFPILOT_DATA_DIR")
    # Assistant
    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    openai_model: str = Field("gpt-4o-mini", alias="TFPILOT_OPENAI_MODEL")
    # Roles
    admins: CsvList = Field(default_factory=list, alias="TFPILOT_ADMINS")
    approvers: CsvList = Field(default_factory=list, alias="TFPILOT_APPROVERS")
    developers: CsvList = Field(default_factory=list, alias="TFPILOT_DEVELOPERS")
    prod_allowed_users: CsvList = Field(default_factory=list, alias="TFPILOT_PROD_ALLOWED_USERS")
    destroy_prod_allowed_users: CsvList = Field(default_factory=list, alias="TFPILOT_DESTROY_PROD_ALLOWED_USERS")
    # Side service
    webhook_secret: SecretStr | None = Field(None, alias="TFPILOT_WEBHOOK_SECRET")
    encryption_key: SecretStr | None = Field(None, alias="TFPILOT_ENCRYPTION_KEY")
    api_token: SecretStr | None = Field(None, alias="TFPILOT_API_TOKEN")
    public_url: str | None = Field(None, alias="TFPILOT_PUBLIC_URL")
    reconcile_minutes: int = Field(10, alias="TFPILOT_RECONCILE_MINUTES", ge=1)
    # Registry
    projects_file: Path | None = Field(None, alias="TFPILOT_PROJECTS_FILE")
    modules_dir: Path | None = Field(None, alias="TFPILOT_MODULES_DIR")

    @field_validator(
        "admins", "approvers", "developers", "prod_allowed_users", "destroy_prod_allowed_users", mode="before"
    )
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("github_api_url", "github_web_url", "slack_api_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value else value

    # --- derived views -------------------------------------------------------------------
    @property
    def uses_s3(self) -> bool:
        return self.requests_bucket is not None

    @property
    def uses_github(self) -> bool:
        return self.github_token is not None or self.github_app_id is not None

    @property
    def slack_oauth_enabled(self) -> bool:
        return self.slack_client_id is not None and self.slack_client_secret is not None

    def policy(self) -> Policy:
        return Policy.of(
            admins=self.admins,
            approvers=self.approvers,
            developers=self.developers,
            prod_allowed=self.prod_allowed_users,
            destroy_prod_allowed=self.destroy_prod_allowed_users,
        )

    def workflows(self) -> WorkflowNames:
        return WorkflowNames(
            plan=self.plan_workflow,
            apply=self.apply_workflow,
            destroy=self.destroy_workflow,
            cleanup=self.cleanup_workflow,
            drift=self.drift_workflow,
        )

    def missing_for(self, mode: Mode) -> list[str]:
        """Names of the settings ``mode`` needs and lacks."""
        missing: list[str] = []

        def need(name: str, value: object) -> None:
            if value is None:
                missing.append(name)

        if mode in ("socket", "http"):
            if not self.slack_oauth_enabled:
                need("SLACK_BOT_TOKEN", self.slack_bot_token)
            need("SLACK_SIGNING_SECRET", self.slack_signing_secret)
            if mode == "socket":
                need("SLACK_APP_TOKEN", self.slack_app_token)
            if self.github_app_id is not None:
                need("GITHUB_APP_PRIVATE_KEY", self.github_app_private_key)
            if mode == "http":
                if self.uses_github:
                    need("GITHUB_WEBHOOK_SECRET", self.github_webhook_secret)
                need("TFPILOT_API_TOKEN", self.api_token)
            if self.github_client_id is not None:
                need("GITHUB_CLIENT_SECRET", self.github_client_secret)
                need("TFPILOT_ENCRYPTION_KEY", self.encryption_key)
                need("TFPILOT_PUBLIC_URL", self.public_url)
        if self.chat_logs_bucket is not None:
            need("TFPILOT_REQUESTS_BUCKET", self.requests_bucket)
        return missing

    def require(self, mode: Mode) -> Settings:
        missing = self.missing_for(mode)
        if missing:
            raise SettingsError(f"tfpilot cannot start in {mode} mode: missing setting(s): {', '.join(missing)}")
        return self


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Parse settings from ``environ`` (default: the process environment).

    Raises ``SettingsError`` naming every malformed setting by its environment name."""
    try:
        if environ is None:
            return Settings()
        # Only the given mapping: tests and the demo must not pick up the caller's shell.
        return Settings.model_validate(dict(environ.items()))
    except ValidationError as exc:
        names = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            alias = Settings.model_fields[field].alias if field in Settings.model_fields else field
            names.append(f"{alias or field} ({err['msg']})")
        raise SettingsError("tfpilot cannot start: malformed setting(s): " + "; ".join(names)) from exc
