"""Run settings of a site, read from the environment and the command line.

`load_settings` checks everything at once and raises `ConfigError` listing
every problem (missing env vars and secrets, a bad broker URL, a bad QoS), so
an operator fixes them in one go.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .mqtt import BrokerAddress, ConnectionSettings
from .site import Site

__all__ = ["ConfigError", "RunSettings", "load_settings", "parse_broker_url"]

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
DEFAULT_SECRETS_DIR = "/run/secrets"
_PORTS = {"mqtt": 1883, "mqtts": 8883}
_YES = {"1", "true", "yes", "on"}


class ConfigError(Exception):
    """The site cannot start; `problems` says every reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class RunSettings:
    connection: ConnectionSettings
    env: dict[str, str]
    secrets: dict[str, str]
    state_dir: Path | None
    log_level: int


def parse_broker_url(url: str) -> BrokerAddress:
    parts = urlsplit(url.strip())
    if parts.scheme not in _PORTS:
        raise ValueError("the broker URL must start with mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError("the broker URL names no host")
    try:
        port = parts.port or _PORTS[parts.scheme]
    except ValueError:
        raise ValueError("the broker URL has an invalid port") from None
    return BrokerAddress(
        host=parts.hostname,
        port=port,
        tls=parts.scheme == "mqtts",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def _read_secret(name: str, folder: Path, environ: Mapping[str, str]) -> str | None:
    try:
        return (folder / name).read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError):
        return environ.get(f"LOT_SECRET_{name}")


def load_settings(
    site: Site,
    *,
    broker: str | None = None,
    only: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> RunSettings:
    """Everything a run needs, or ConfigError naming every problem."""
    environ = os.environ if environ is None else environ
    problems: list[str] = []

    address = None
    try:
        address = parse_broker_url(
            broker or environ.get("LOT_BROKER_URL") or DEFAULT_BROKER
        )
    except ValueError as exc:
        problems.append(str(exc))

    qos_text = environ.get("LOT_MQTT_QOS", str(site.qos)).strip()
    if qos_text not in ("0", "1"):
        problems.append(f"LOT_MQTT_QOS must be 0 or 1, not {qos_text!r}")

    level_name = environ.get("LOT_LOG_LEVEL", "INFO").strip().upper()
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        problems.append(f"LOT_LOG_LEVEL {level_name!r} is no log level")
        level = logging.INFO

    env = {name: environ[name] for name in site.env if name in environ}
    missing_env = [name for name in site.env if name not in env]
    if missing_env:
        problems.append("missing environment variables: " + ", ".join(missing_env))

    folder = Path(environ.get("LOT_SECRETS_DIR") or DEFAULT_SECRETS_DIR)
    secrets: dict[str, str] = {}
    for name in site.secrets:
        value = _read_secret(name, folder, environ)
        if value is not None:
            secrets[name] = value
    missing_secrets = [name for name in site.secrets if name not in secrets]
    if missing_secrets:
        problems.append(
            f"missing secrets (files in {folder} or LOT_SECRET_<NAME> variables): "
            + ", ".join(missing_secrets)
        )

    if problems or address is None:
        raise ConfigError(problems)

    suffix = "".join(f"-{name}" for name in sorted(only))
    connection = ConnectionSettings(
        broker=address,
        client_id=environ.get("LOT_CLIENT_ID") or f"lot-{site.name}{suffix}",
        status_topic=site.status_topic,
        qos=int(qos_text),
        clean_start=environ.get("LOT_CLEAN_START", "").strip().lower() in _YES,
    )
    state_dir = environ.get("LOT_STATE_DIR")
    return RunSettings(
        connection=connection,
        env=env,
        secrets=secrets,
        state_dir=Path(state_dir) if state_dir else None,
        log_level=level,
    )
