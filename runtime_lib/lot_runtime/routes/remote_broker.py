"""The other broker of an MQTT_BRIDGE: its settings and its connection.

`RemoteBroker` holds a side's SOURCE_CONFIG / DESTINATION_CONFIG values as
generated (literals, or `Env` / `Secret` resolved at start);
`connect_remote` turns them into a `Connection` of the bridge's own, with a
TLS context when a CA, a client certificate or the untrusted switch asks
for one.  Passwords go into the connection settings only, whose address
never prints them.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..mqtt import BrokerAddress, Connection, ConnectionSettings
from . import RouteContext, Setting

__all__ = ["RemoteBroker", "connect_remote", "tls_context"]

_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class RemoteBroker:
    """Another broker; values may be `Env` / `Secret`, resolved at start."""

    address: Setting
    port: Setting = 1883
    client_id: Setting = None
    username: Setting = None
    password: Setting = None
    tls: Setting = False
    allow_untrusted: Setting = False
    ca_cert: Setting = None
    client_cert: Setting = None
    client_cert_password: Setting = None


def connect_remote(
    broker: RemoteBroker,
    context: RouteContext,
    *,
    label: str,
    default_client_id: str,
    filters: Sequence[str],
    on_message: Callable[[str, bytes, bool], None],
    before_acknowledging: Callable[[], None] | None = None,
) -> Connection:
    """The connection (not started yet) to `broker`, subscribing `filters`;
    `before_acknowledging` runs before it acknowledges what it read."""
    value = context.resolve
    host = str(value(broker.address) or "")
    port = int(str(value(broker.port) or 1883))
    client_id = str(value(broker.client_id) or default_client_id)
    tls = _flag(value(broker.tls))
    ca = str(value(broker.ca_cert) or "")
    certificate = str(value(broker.client_cert) or "")
    untrusted = _flag(value(broker.allow_untrusted))
    if not host:
        raise ValueError(f"the {label} broker has no BROKER_ADDRESS")
    options = None
    if tls and (ca or certificate or untrusted):
        options = tls_context(
            ca=ca,
            certificate=certificate,
            password=str(value(broker.client_cert_password) or ""),
            untrusted=untrusted,
        )
    settings = ConnectionSettings(
        broker=BrokerAddress(
            host=host,
            port=port,
            tls=tls,
            username=_text(value(broker.username)),
            password=_text(value(broker.password)),
        ),
        client_id=client_id,
        status_topic=f"lot/bridges/{client_id}/status",
        qos=1,
        tls_context=options,
    )
    return Connection(
        settings,
        filters=filters,
        on_message=on_message,
        before_acknowledging=before_acknowledging,
    )


def tls_context(
    *, ca: str, certificate: str, password: str, untrusted: bool
) -> ssl.SSLContext:
    """A client context: `ca` (PEM file) trusted besides the system's, a PEM
    client certificate with its key (the key may be encrypted with
    `password`), and with `untrusted` no server check at all."""
    context = ssl.create_default_context(cafile=ca or None)
    if untrusted:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if certificate:
        context.load_cert_chain(certificate, password=password or None)
    return context


def _flag(value: Setting) -> bool:
    return str(value).strip().lower() in _TRUE


def _text(value: Setting) -> str | None:
    return None if value is None or value == "" else str(value)
