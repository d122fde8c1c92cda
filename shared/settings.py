"""Settings: one class per service, all read from `ITS_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from yarl import URL

Environment = Literal["development", "test", "production"]


def _zone_exists(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}, e.g. 'Europe/Moscow'") from None
    return value


# An IANA time zone name, checked when the settings are read.
TimeZoneName = Annotated[str, AfterValidator(_zone_exists)]


def amqp_urls(value: str) -> list[str]:
    """The broker URLs of `ITS_AMQP_URL`: one, or the nodes of a cluster separated by commas.

    A comma inside a password is written `%2C`, as any reserved character of a URL.
    """
    urls = [part.strip() for part in value.split(",")]
    for url in urls:
        try:
            parsed = URL(url)
        except ValueError as exc:
            raise ValueError(f"not a URL: {url!r} ({exc})") from None
        if parsed.scheme not in ("amqp", "amqps") or not parsed.host:
            raise ValueError(
                f"not an AMQP URL: {url!r}; expected amqp[s]://user:password@host:port/vhost, "
                "several separated by commas"
            )
    return urls


def _amqp_urls_valid(value: str) -> str:
    amqp_urls(value)
    return value


# One AMQP URL or several (a cluster's nodes) separated by commas, checked when the settings are read.
AmqpUrls = Annotated[str, AfterValidator(_amqp_urls_valid)]

# The system's address as people reach it (`ITS_PUBLIC_URL`): the gateway, which serves the portal's pages at `/`,
# the APIs under `/api/<service>/` and downloads under `/dl/`. Every link the services give out (e-mails, download
# redirects, update plans) starts with it. Without a gateway (plain local development): the portal's address.
DEFAULT_PUBLIC_URL = "http://127.0.0.1:8080"


def _public_url(value: str) -> str:
    parsed = URL(value) if value.lower().startswith(("https://", "http://")) else None
    if parsed is None or not parsed.host or parsed.query_string or parsed.fragment:
        raise ValueError(f"must be a web address, e.g. 'https://its.example.com', not {value!r}")
    return value.rstrip("/")


# ITS_PUBLIC_URL, checked when the settings are read; kept without a trailing '/' (links append '/<path>').
PublicUrl = Annotated[str, AfterValidator(_public_url)]


def public_link(public_url: str, path: str) -> str:
    """`path` (starting with '/') at the system's public address."""
    if not path.startswith("/"):
        raise ValueError(f"a path starts with '/': {path!r}")
    return public_url.rstrip("/") + path


class BaseServiceSettings(BaseSettings):
    """What every service needs; a service's own settings class extends this."""

    model_config = SettingsConfigDict(env_prefix="ITS_", extra="ignore")

    env: Environment = "development"
    log_level: str = "INFO"
    # Runtime state of the local stack: test clock file, mail sink, logs, pids.
    var_dir: Path = Path("var")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/its"
    db_pool_min: int = 2
    db_pool_max: int = 10

    # Several URLs, comma-separated, are a cluster's nodes: the first that answers is used, and the next ones
    # when it fails (shared.bus.ClusterConnection).
    amqp_url: AmqpUrls = "amqp://guest:guest@127.0.0.1:5672/"
    amqp_prefetch: int = 64
    # Back-off before each retry of a failing message, then it is parked in `<queue>.dlq`.
    consumer_retry_delays_ms: list[int] = [1_000, 5_000, 30_000, 120_000, 600_000]
    # Redeliveries (e.g. the consumer process dying mid-message) before the broker parks it.
    consumer_delivery_limit: int = 20

    outbox_batch_size: int = 500
    outbox_poll_seconds: float = 1.0
    jobs_poll_seconds: float = 0.5

    host: str = "127.0.0.1"
    port: int = 8000
    client_max_size: int = 64 * 1024
    # The longest request line (method, path and query) read; a longer one is answered 400 before any handler.
    max_request_line: int = Field(default=8190, ge=1024, le=1024 * 1024)

    # Where services fetch identity's public keys to verify access tokens.
    jwks_url: str = "http://127.0.0.1:8101/.well-known/jwks.json"
    jwt_issuer: str = "its-identity"
    jwt_audience: str = "its-portal"

    # The vendor's time zone: "today", business days and working hours are the vendor's (ITS-2, REG-3, UPD-4; the
    # portal shows every time in it).
    vendor_timezone: TimeZoneName = "Europe/Moscow"
    # The production calendar (shared/calendar.py): a country code ("ru": generated from the holidays package,
    # with its shipped overrides file on top) or the path of a calendar file.
    calendar: str = "ru"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def vendor_zone(self) -> ZoneInfo:
        return ZoneInfo(self.vendor_timezone)
