"""Settings from the environment (names fixed by DESIGN.md), validated once at start.

Everything is optional at parse time because ``tfpilot demo`` and ``tfpilot chat`` run on
embedded defaults; ``require(mode)`` then names, in one message, every setting a mode needs
and lacks. A malformed value (a non-numeric app id, a bad URL, a bucket given as a URL, a Slack
token of the wrong kind) is reported the same way, by its environment name and never with its
value; ``load_settings(mode=...)`` reports malformed and missing settings together. An empty
value counts as unset (``FOO=`` in an env file must not turn S3 on with an empty bucket name).

The process environment is read together with an env file: ``.env`` in the current directory
when there is one, or the file ``TFPILOT_ENV_FILE`` names (which must exist). Variables set in
the environment win over the file's. The file is parsed by pydantic-settings' dotenv source
and supplies TfPilot's settings only (boto3 still reads its ``AWS_*`` variables from the
environment). Neither its path's contents nor any value is ever logged or echoed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from core.domain.policy import Policy
from core.domain.workflows import WorkflowNames

Mode = Literal["socket", "http", "demo", "chat", "cli"]

CsvList = Annotated[list[str], NoDecode]


class SettingsError(Exception):
    """Start-up refused: the message names every missing or malformed setting.

    ``missing`` holds the names of absent settings, ``malformed`` ``NAME (why)`` entries."""

    def __init__(self, message: str, *, missing: list[str] | None = None, malformed: list[str] | None = None) -> None:
        super().__init__(message)
        self.missing = list(missing or [])
        self.malformed = list(malformed or [])

    @classmethod
    def of(cls, mode: str | None, missing: list[str], malformed: list[str]) -> SettingsError:
        where = f"tfpilot cannot start in {mode} mode" if mode else "tfpilot cannot start"
        parts = []
        if missing:
            parts.append(f"missing setting(s): {', '.join(missing)}")
        if malformed:
            parts.append(f"malformed setting(s): {'; '.join(malformed)}")
        return cls(f"{where}: {'; '.join(parts)}", missing=missing, malformed=malformed)


# S3's naming rules for general purpose buckets: a name, never a URL or an ARN.
_BUCKET_RE = re.compile(r"^(?!xn--)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_REGION_RE = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$")


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
    # Local mode's Terraform: which AWS API it runs against (moto's server started by TfPilot,
    # real AWS with the environment's credentials, or none: preview only), and where the AWS
    # provider comes from (a -plugin-dir / filesystem mirror; unset: terraform's own config).
    local_cloud: Literal["moto", "aws", "none"] = Field("moto", alias="TFPILOT_LOCAL_CLOUD")
    terraform_plugin_dir: Path | None = Field(None, alias="TFPILOT_TERRAFORM_PLUGIN_DIR")
    terraform_bin: str | None = Field(None, alias="TFPILOT_TERRAFORM")
    # Assistant
    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    # None: the adapter's current default (assistant.adapters.openai_model.DEFAULT_MODEL).
    openai_model: str | None = Field(None, alias="TFPILOT_OPENAI_MODEL")
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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # ``load_settings`` reads the environment and env file (or the mapping it is given) itself: no other
        # source may add values behind its back, or a test or the demo would pick up the shell's.
        return (init_settings,)

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

    @field_validator("requests_bucket", "chat_logs_bucket")
    @classmethod
    def _bucket_name(cls, value: str | None) -> str | None:
        if value is not None and not _BUCKET_RE.match(value):
            raise ValueError("must be an S3 bucket name (3-63 lowercase letters, digits, '.' or '-'), not a URL or ARN")
        return value

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION_RE.match(value):
            raise ValueError("must be an AWS region such as us-east-1")
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        # A user token (xoxp-), an app token (xapp-) or the signing secret pasted here fails
        # later and obscurely; say so now. Rotated bot tokens start with xoxe.xoxb-.
        if value is not None and not value.get_secret_value().startswith(("xoxb-", "xoxe.xoxb-")):
            raise ValueError("must be the app's bot token (it starts with xoxb-)")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token with connections:write (it starts with xapp-)")
        return value

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

        # Half of a pair is a mistake in any mode: say which half is missing.
        if self.slack_client_id is not None or self.slack_client_secret is not None:
            need("SLACK_CLIENT_ID", self.slack_client_id)
            need("SLACK_CLIENT_SECRET", self.slack_client_secret)
        if self.github_app_private_key is not None or self.github_app_installation_id is not None:
            need("GITHUB_APP_ID", self.github_app_id)
        if self.github_client_secret is not None:
            need("GITHUB_CLIENT_ID", self.github_client_id)
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
        return list(dict.fromkeys(missing))

    def malformed_for(self, mode: Mode) -> list[str]:
        """``NAME (why)`` for values ``mode`` would use and cannot: checks that parse a value
        (the GitHub App's PEM key) run here, when a mode that signs with it starts."""
        malformed: list[str] = []
        if mode in ("socket", "http", "cli") and self.github_app_id is not None and self.github_app_private_key:
            why = _pem_problem(self.github_app_private_key.get_secret_value())
            if why is not None:
                malformed.append(f"GITHUB_APP_PRIVATE_KEY ({why})")
        return malformed

    def require(self, mode: Mode) -> Settings:
        missing, malformed = self.missing_for(mode), self.malformed_for(mode)
        if missing or malformed:
            raise SettingsError.of(mode, missing, malformed)
        return self


def _pem_problem(text: str) -> str | None:
    """Why the GitHub App key cannot sign a JWT, or None. (The GitHub adapter reads it the same
    way; settings may not import adapters, which the listeners' layer forbids.)"""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

    text = text.strip()
    if "\\n" in text and "\n" not in text:
        text = text.replace("\\n", "\n")  # newlines escaped in an env file
    try:
        key = serialization.load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        return "GITHUB_APP_PRIVATE_KEY is not a readable PEM private key"
    if not isinstance(key, RSAPrivateKey):
        return "GITHUB_APP_PRIVATE_KEY must be an RSA key (GitHub signs App JWTs with RS256)"
    return None


ENV_FILE_VARIABLE = "TFPILOT_ENV_FILE"
DEFAULT_ENV_FILE = ".env"


def env_file_path(environ: Mapping[str, str] | None = None, *, cwd: Path | None = None) -> Path | None:
    """The env file to read: ``TFPILOT_ENV_FILE`` (which must exist), else ``.env`` in ``cwd``
    when present, else None."""
    environ = os.environ if environ is None else environ
    named = next((v for k, v in environ.items() if k.upper() == ENV_FILE_VARIABLE and v.strip()), None)
    if named is not None:
        path = Path(named.strip()).expanduser()
        if not path.is_file():
            raise SettingsError(f"{ENV_FILE_VARIABLE} names {path}, which is not a readable file")
        return path
    default = (cwd or Path.cwd()) / DEFAULT_ENV_FILE
    return default if default.is_file() else None


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME -> value`` from a dotenv file, as pydantic-settings reads one (names upper-cased;
    a name without a value is left out)."""
    from pydantic_settings import DotEnvSettingsSource

    try:
        source = DotEnvSettingsSource(Settings, env_file=path, case_sensitive=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"cannot read the env file {path}: {type(exc).__name__}") from None
    return {name.upper(): value for name, value in source.env_vars.items() if value is not None}


def process_environment(*, cwd: Path | None = None) -> dict[str, str]:
    """The process environment over the env file's values (the environment wins)."""
    path = env_file_path(cwd=cwd)
    merged = read_env_file(path) if path is not None else {}
    merged.update(os.environ)
    return merged


_ALIASES: dict[str, str] = {
    (info.alias or name).upper(): info.alias or name for name, info in Settings.model_fields.items()
}


def _known_values(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings named in ``environ`` (names case-insensitive, as the environment source
    reads them), keyed by their canonical name; empty values are left out (unset)."""
    values: dict[str, str] = {}
    for name, value in environ.items():
        alias = _ALIASES.get(name.upper())
        if alias is not None and value.strip():
            values[alias] = value
    return values


def _setting_name(loc: tuple[int | str, ...]) -> str:
    field = str(loc[0]) if loc else "?"
    info = Settings.model_fields.get(field)
    return (info.alias or field) if info is not None else field


def load_settings(environ: Mapping[str, str] | None = None, *, mode: Mode | None = None) -> Settings:
    """Parse settings from ``environ`` (default: the process environment over the env file,
    ``process_environment()``). With ``mode``, also check what that mode needs
    (``Settings.require``).

    Raises one ``SettingsError`` naming every malformed setting by its environment name and,
    with ``mode``, every missing one too."""
    # Only the given mapping: tests and the demo must not pick up the caller's shell.
    values = _known_values(process_environment() if environ is None else environ)
    malformed: dict[str, str] = {}
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        for err in exc.errors():
            malformed.setdefault(_setting_name(err["loc"]), err["msg"].removeprefix("Value error, "))
        # The well-formed rest still tells which required settings are missing.
        settings = Settings.model_validate({k: v for k, v in values.items() if k not in malformed})
    problems = [f"{name} ({why})" for name, why in malformed.items()]
    missing: list[str] = []
    if mode is not None:
        missing = [name for name in settings.missing_for(mode) if name not in malformed]
        problems += settings.malformed_for(mode)
    if problems or missing:
        raise SettingsError.of(mode, missing, problems)
    return settings


# Prefixes of the names TfPilot reads; an unknown name under them close to a known one is
# most likely a typo that would silently fall back to a default (local disk instead of S3).
_OWN_PREFIXES = ("TFPILOT_", "SLACK_", "GITHUB_", "OPENAI_")


def misspelt_settings(environ: Mapping[str, str]) -> list[str]:
    """``NAME (did you mean KNOWN?)`` for each set name that is not a setting but nearly is."""
    import difflib

    known = sorted(_ALIASES)
    found: list[str] = []
    for name in sorted(environ):
        upper = name.upper()
        if upper in _ALIASES or upper == ENV_FILE_VARIABLE or not upper.startswith(_OWN_PREFIXES):
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.88)
        if close:
            found.append(f"{name} is not a setting (did you mean {close[0]}?)")
    return found
