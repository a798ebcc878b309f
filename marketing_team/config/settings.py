"""Settings from the environment and `.env`: frozen, validated at start, secrets masked."""

from __future__ import annotations

import ipaddress
import os
from decimal import Decimal
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from marketing_team.domain.errors import ConfigurationError

ProviderName = Literal["anthropic", "openai", "offline"]
_REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+socket")
MIN_CONSOLE_PASSWORD = 12


class Settings(BaseSettings):
    """Every knob of the product; each field reads the environment variable named by its alias."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", frozen=True, populate_by_name=True, case_sensitive=False
    )

    # LLM
    anthropic_api_key: SecretStr | None = Field(None, alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(None, alias="ANTHROPIC_BASE_URL")
    llm_provider_choice: ProviderName | None = Field(None, alias="MT_LLM_PROVIDER")
    model_opus: str | None = Field(None, alias="MT_MODEL_OPUS")
    model_sonnet: str | None = Field(None, alias="MT_MODEL_SONNET")
    model_haiku: str | None = Field(None, alias="MT_MODEL_HAIKU")
    prices_json: str | None = Field(None, alias="MT_PRICES")
    openai_base_url: str = Field("http://127.0.0.1:11434/v1", alias="MT_OPENAI_BASE_URL")
    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    openai_model: str = Field("llama3.1", alias="MT_OPENAI_MODEL")
    openai_price_in: Decimal = Field(Decimal("0"), alias="MT_OPENAI_PRICE_INPUT", ge=0)
    openai_price_out: Decimal = Field(Decimal("0"), alias="MT_OPENAI_PRICE_OUTPUT", ge=0)
    llm_timeout_s: float = Field(180.0, alias="MT_LLM_TIMEOUT", gt=0)
    llm_max_retries: int = Field(4, alias="MT_LLM_MAX_RETRIES", ge=0, le=10)
    max_output_tokens: int = Field(8192, alias="MT_MAX_OUTPUT_TOKENS", ge=256)
    context_tokens: int = Field(200_000, alias="MT_CONTEXT_TOKENS", ge=8000)

    # Broker and storage
    redis_url: SecretStr | None = Field(None, alias="REDIS_URL")
    redis_host: str | None = Field(None, alias="REDIS_HOST")
    redis_port: int = Field(6379, alias="REDIS_PORT", ge=1, le=65535)
    redis_password: SecretStr | None = Field(None, alias="REDIS_PASSWORD")
    workspace_dir: Path = Field(Path("workspace"), alias="WORKSPACE_DIR")
    catalog_dir: Path | None = Field(None, alias="MT_CATALOG_DIR")
    retention_days: int = Field(90, alias="MT_RETENTION_DAYS", ge=1, le=3650)

    # Budget
    budget_monthly: Decimal = Field(Decimal("1000"), alias="BUDGET_MONTHLY", ge=0)
    goal_budget_share: float = Field(0.10, alias="MT_GOAL_BUDGET_SHARE", gt=0, le=1)
    call_cost_cap: Decimal = Field(Decimal("5"), alias="MT_CALL_COST_CAP", gt=0)

    # Runtime
    max_parallel_agents: int = Field(8, alias="MAX_PARALLEL_AGENTS", ge=1, le=256)
    soft_time_limit_s: int = Field(600, alias="MT_SOFT_TIME_LIMIT", ge=5)
    hard_time_limit_s: int = Field(660, alias="MT_HARD_TIME_LIMIT", ge=35)
    heartbeat_timeout_s: int = Field(30, alias="MT_HEARTBEAT_TIMEOUT", ge=2, le=3600)
    allow_volatile_ledger: bool = Field(False, alias="MT_ALLOW_VOLATILE_LEDGER")
    timezone: str = Field("UTC", alias="MT_TIMEZONE")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", alias="LOG_LEVEL")
    log_format: Literal["json", "pretty"] = Field("json", alias="LOG_FORMAT")

    # Web and monitoring
    webhook_token: SecretStr | None = Field(None, alias="MT_WEBHOOK_TOKEN")
    webhook_hmac_secret: SecretStr | None = Field(None, alias="MT_WEBHOOK_HMAC_SECRET")
    webhook_tolerance_s: int = Field(300, alias="MT_WEBHOOK_TOLERANCE", ge=1, le=86400)
    web_threads: int = Field(64, alias="MT_WEB_THREADS", ge=1, le=1024)
    web_read_timeout_s: int = Field(10, alias="MT_WEB_READ_TIMEOUT", ge=1, le=600)
    # Direct peers whose X-Forwarded-For names the real client (the README's nginx on this host).
    web_trusted_proxies: str = Field("127.0.0.1,::1", alias="MT_WEB_TRUSTED_PROXIES")
    flower_user: str = Field("admin", alias="MT_FLOWER_USER")
    flower_password: SecretStr | None = Field(None, alias="MT_FLOWER_PASSWORD")
    # The review desk (/desk) is served only when a password is set.
    console_user: str = Field("admin", alias="MT_CONSOLE_USER", min_length=1, max_length=64)
    console_password: SecretStr | None = Field(None, alias="MT_CONSOLE_PASSWORD")

    @field_validator("console_password", mode="before")
    @classmethod
    def _console_password(cls, value: object) -> object:
        # An empty variable means "no desk", as unset does; a short one is refused at start.
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if text is None or text == "":
            return None
        if isinstance(text, str) and len(text) < MIN_CONSOLE_PASSWORD:
            raise ValueError(f"must be at least {MIN_CONSOLE_PASSWORD} characters")
        return value

    @field_validator("web_trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)  # ValueError names the bad one
        return value

    @property
    def trusted_proxies(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """MT_WEB_TRUSTED_PROXIES as networks (addresses or CIDR ranges; empty: trust no proxy)."""
        return tuple(ipaddress.ip_network(p.strip(), strict=False)
                     for p in self.web_trusted_proxies.split(",") if p.strip())

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parts = urlsplit(value.get_secret_value())
            if parts.scheme not in _REDIS_SCHEMES:
                raise ValueError(f"URL scheme must be one of {', '.join(_REDIS_SCHEMES)}")
            # On a socket, redis-py reads `?db=` and kombu (which carries the queues) ignores it:
            # the queues would sit in database 0 apart from the state, out of the sweeper's sight.
            databases = parse_qs(parts.query).get("db", ["0"])
            if parts.scheme in ("unix", "redis+socket") and databases[-1].strip() not in ("", "0"):
                raise ValueError("a unix-socket URL must use database 0 (?db= is read by redis-py "
                                 "but not by Celery's broker); use database 0 or a redis:// URL")
        return value

    @field_validator("anthropic_base_url", "openai_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _limits_ordered(self) -> Settings:
        if self.hard_time_limit_s < self.soft_time_limit_s + 30:
            raise ValueError("MT_HARD_TIME_LIMIT must exceed MT_SOFT_TIME_LIMIT by at least 30 s")
        if self.llm_provider_choice == "anthropic" and self.anthropic_api_key is None:
            raise ValueError("MT_LLM_PROVIDER=anthropic needs ANTHROPIC_API_KEY")
        return self

    @property
    def llm_provider(self) -> ProviderName:
        """The explicit choice, else anthropic when a key is set, else the offline provider."""
        if self.llm_provider_choice is not None:
            return self.llm_provider_choice
        return "anthropic" if self.anthropic_api_key is not None else "offline"

    @property
    def broker_url(self) -> str | None:
        """The Redis URL to use, or None for the embedded server."""
        if self.redis_url is not None:
            return self.redis_url.get_secret_value()
        if self.redis_host:
            auth = ""
            if self.redis_password is not None:
                auth = ":" + quote(self.redis_password.get_secret_value(), safe="") + "@"
            return f"redis://{auth}{self.redis_host}:{self.redis_port}/0"
        return None

    @property
    def workspace(self) -> Path:
        """The workspace directory as an absolute path."""
        return self.workspace_dir.expanduser().resolve()

    @property
    def retention_s(self) -> int:
        """How long a settled goal's records stay in Redis (its exported folder is the archive)."""
        return self.retention_days * 86400

    @property
    def goal_budget_cap(self) -> Decimal:
        """The most one goal may spend."""
        return self.budget_monthly * Decimal(str(self.goal_budget_share))


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    user = parts.username or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _alias_of(field: str) -> str:
    info = Settings.model_fields.get(field)
    return info.alias if info is not None and info.alias else field.upper()


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; an invalid value raises ConfigurationError naming it."""
    for field in Settings.model_fields.values():
        name = field.alias
        value = os.environ.get(name) if name else None
        if value is not None and not _is_text(value):
            # Bytes that are not UTF-8 arrive as surrogates and fail later, far from the cause.
            raise ConfigurationError(f"invalid setting {name}: not valid UTF-8 text "
                                     "(check the variable and LANG/LC_ALL)")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(part) for part in err.get("loc", ())]
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        if not loc:  # a cross-field rule; its message names the variables itself
            raise ConfigurationError(f"invalid settings: {message}") from None
        raise ConfigurationError(f"invalid setting {_alias_of(loc[0])}: {message}") from None
