"""The OPC UA route over asyncua.

``OpcuaRoute`` connects to ``endpoint``, finds each tag's node (a NodeId such
as ``ns=2;s=Boiler.Flow``, or a browse path from the Objects folder such as
``Boiler/Flow`` or ``2:Boiler/2:Flow``) and monitors it with a subscription:
a change is published within the 100 ms publishing interval, and the tag's
``every`` is the sampling interval asked of the server.  A ``poll`` tag is
read every ``every`` seconds instead.  Every connection creates its
subscriptions anew, so nothing is lost to a server restart.  A writable tag
reads commands on its ``command_topic``, writes them in the node's own type
and publishes the value read back.

Security: ``security_policy`` 0-5 (None, Basic128Rsa15, Basic256,
Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss) and
``security_mode`` None / Sign / SignAndEncrypt; ``auth_mode`` 0 anonymous, 1
user name and password, 2 certificate.  The client certificate and key are
``certificate.der`` and ``private-key.pem`` in the route's state folder,
created self-signed on first use when absent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.node import Node
from asyncua.crypto import security_policies
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from lot_runtime import values

from . import Setting
from .devices import DeviceRoute, repeat, tag_number

__all__ = ["OpcuaRoute", "OpcuaTag"]

log = logging.getLogger("lot")

PUBLISHING_INTERVAL_MS = 100
_POLICIES: dict[int, type[security_policies.SecurityPolicy]] = {
    1: security_policies.SecurityPolicyBasic128Rsa15,
    2: security_policies.SecurityPolicyBasic256,
    3: security_policies.SecurityPolicyBasic256Sha256,
    4: security_policies.SecurityPolicyAes128Sha256RsaOaep,
    5: security_policies.SecurityPolicyAes256Sha256RsaPss,
}
_MODES = {
    "none": ua.MessageSecurityMode.None_,
    "0": ua.MessageSecurityMode.None_,
    "sign": ua.MessageSecurityMode.Sign,
    "1": ua.MessageSecurityMode.Sign,
    "signandencrypt": ua.MessageSecurityMode.SignAndEncrypt,
    "2": ua.MessageSecurityMode.SignAndEncrypt,
}


@dataclass(frozen=True, slots=True)
class OpcuaTag:
    """One node of the server and where its value goes."""

    name: str
    address: str
    topic: str
    browse_path: bool = False
    every: float = 1.0
    poll: bool = False
    scaling: float = 1.0
    offset: float = 0.0
    deadband: float | None = None
    on_change: bool = False
    decimals: int | None = None
    source_timestamp: bool = False
    writable: bool = False
    command_topic: str | None = None


class OpcuaRoute(DeviceRoute[OpcuaTag]):
    """An OPC UA server and the tags read from it."""

    device = "server"
    driver_loggers = ("asyncua",)
    failures = (OSError, TimeoutError, ConnectionError, UaError)

    def __init__(
        self,
        *,
        name: str,
        endpoint: Setting,
        tags: Sequence[OpcuaTag],
        auth_mode: Setting = 0,
        username: Setting = None,
        password: Setting = None,
        security_policy: Setting = None,
        security_mode: Setting = "None",
        timeout: float = 4.0,
    ) -> None:
        settings: dict[str, Setting] = {
            "endpoint": endpoint,
            "auth_mode": auth_mode,
            "username": username,
            "password": password,
            "security_policy": security_policy,
            "security_mode": security_mode,
        }
        super().__init__(name, tags, settings)
        self.timeout = timeout

    def describe(self, resolved: Mapping[str, Setting]) -> str:
        return f"OPC UA server {resolved['endpoint']}"

    async def connection(self, resolved: Mapping[str, Setting]) -> None:
        """Connect, find the nodes, subscribe or poll, write; raise
        ConnectionError when the link is lost."""
        client = Client(
            str(resolved["endpoint"]), timeout=self.timeout, watchdog_intervall=1.0
        )
        lost = asyncio.Event()

        async def on_lost(exc: Exception) -> None:
            lost.set()

        client.connection_lost_callback = on_lost
        try:
            await self._configure(client, resolved)
            await asyncio.wait_for(client.connect(), self.timeout + 1)
            await self._session(client, lost)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.disconnect(), 2)

    # -- one connection

    async def _configure(self, client: Client, resolved: Mapping[str, Setting]) -> None:
        auth = str(resolved["auth_mode"] or 0)
        if auth == "1":
            client.set_user(str(resolved["username"] or ""))
            client.set_password(str(resolved["password"] or ""))
        policy = _POLICIES.get(int(str(resolved["security_policy"] or 0)))
        if policy is None and auth != "2":
            return
        certificate, key = await _client_keys(self.context.state_dir())
        mode = _MODES.get(str(resolved["security_mode"]).lower().replace("_", ""))
        if policy is not None and mode is not None and mode != mode.None_:
            await client.set_security(policy, str(certificate), str(key), mode=mode)
        if auth == "2":
            await client.load_client_certificate(str(certificate))
            await client.load_private_key(key)

    async def _session(self, client: Client, lost: asyncio.Event) -> None:
        nodes = {tag: await self._node(client, tag) for tag in self.tags}
        self.online()

        handler = _Changes(self, nodes)
        subscribed = [t for t in self.tags if not t.poll]
        for every, tags in self.by_period(subscribed):
            group = [nodes[t] for t in tags]
            subscription = await client.create_subscription(
                PUBLISHING_INTERVAL_MS, handler
            )
            await subscription.subscribe_data_change(
                group, sampling_interval=ua.Double(every * 1000)
            )
        polled = [t for t in self.tags if t.poll]
        await self.serve(
            *(self._poll(every, tags, nodes) for every, tags in self.by_period(polled)),
            self._write_loop(nodes),
            _wait(lost),
        )
        raise ConnectionError("connection lost")

    async def _node(self, client: Client, tag: OpcuaTag) -> Node:
        if not tag.browse_path:
            node = client.get_node(tag.address)
            await node.read_browse_name()  # fails now if the node is not there
            return node
        node = client.nodes.objects
        for part in tag.address.strip("/").split("/"):
            namespace, _, name = part.rpartition(":")
            for child in await node.get_children():
                browse_name = await child.read_browse_name()
                if browse_name.Name == name and (
                    not namespace or str(browse_name.NamespaceIndex) == namespace
                ):
                    node = child
                    break
            else:
                raise ConnectionError(f"tag {tag.name}: no node at {tag.address}")
        return node

    async def _poll(
        self, every: float, tags: list[OpcuaTag], nodes: dict[OpcuaTag, Node]
    ) -> None:
        async def step() -> None:
            for tag in tags:
                self.publish(tag, await nodes[tag].read_data_value())

        await repeat(every, step)

    def publish(self, tag: OpcuaTag, data: ua.DataValue, force: bool = False) -> None:
        """Publish one DataValue of ``tag`` (after scaling and the change
        filter; with the source timestamp when the tag asks for it)."""
        variant = data.Value
        if variant is None or self._context is None:
            return
        value = _plain(variant.Value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            float32 = variant.VariantType == ua.VariantType.Float
            value = tag_number(tag, value, float32=float32)
        if not self.changed(tag, value, force):
            return
        if tag.source_timestamp:
            stamp = data.SourceTimestamp or data.ServerTimestamp
            value = {"value": value, "timestamp": _iso(stamp)}
        self._context.publish(tag.topic, values.payload(value))

    # -- writes

    async def _write_loop(self, nodes: dict[OpcuaTag, Node]) -> None:
        while True:
            tag, payload = await self._commands.queue.get()
            node = nodes[tag]
            kind = await node.read_data_type_as_variant_type()
            try:
                value = command_value(tag, payload, kind)
            except ValueError as exc:
                self._warn(tag, "bad", f"command ignored: {exc}")
                continue
            try:
                await node.write_value(ua.DataValue(ua.Variant(value, kind)))
            except UaStatusCodeError as exc:
                self._warn(tag, "write", f"the server refused the write: {exc}")
                continue
            back = await node.read_data_value()
            if back.Value is None or back.Value.Value != value:
                self._warn(tag, "confirm", "the write was not confirmed by a read")
            self.publish(tag, back, force=True)


class _Changes:
    """The subscription handler: data changes to publishes."""

    def __init__(self, route: OpcuaRoute, nodes: dict[OpcuaTag, Node]) -> None:
        self.route = route
        self.tags: dict[Any, list[OpcuaTag]] = {}
        for tag, node in nodes.items():
            self.tags.setdefault(node.nodeid, []).append(tag)

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        value = data.monitored_item.Value
        for tag in self.tags.get(node.nodeid, ()):
            self.route.publish(tag, value)

    def status_change_notification(self, status: Any) -> None:
        log.debug("route %s: subscription status %s", self.route.name, status)


_INTEGERS = {
    ua.VariantType.SByte: (-(2**7), 2**7 - 1),
    ua.VariantType.Byte: (0, 2**8 - 1),
    ua.VariantType.Int16: (-(2**15), 2**15 - 1),
    ua.VariantType.UInt16: (0, 2**16 - 1),
    ua.VariantType.Int32: (-(2**31), 2**31 - 1),
    ua.VariantType.UInt32: (0, 2**32 - 1),
    ua.VariantType.Int64: (-(2**63), 2**63 - 1),
    ua.VariantType.UInt64: (0, 2**64 - 1),
}


def command_value(tag: OpcuaTag, payload: bytes, kind: ua.VariantType) -> object:
    """A command payload as a value of the node's type (scaling undone)."""
    text = payload.decode("utf-8", errors="replace").strip()
    if kind == ua.VariantType.Boolean:
        lowered = text.lower()
        if lowered not in ("true", "false", "1", "0", "on", "off"):
            raise ValueError("not a Boolean")
        return lowered in ("true", "1", "on")
    if kind in (ua.VariantType.String, ua.VariantType.LocalizedText):
        return text
    number = values.number(text)
    if number is None or tag.scaling == 0:
        raise ValueError(f"not a number for {kind.name}")
    raw: int | float = number
    if tag.scaling != 1 or tag.offset != 0:
        raw = (number - tag.offset) / tag.scaling
    if kind in (ua.VariantType.Float, ua.VariantType.Double):
        return float(raw)
    bounds = _INTEGERS.get(kind)
    if bounds is None:
        raise ValueError(f"nodes of type {kind.name} are not written")
    whole = round(raw)
    if not bounds[0] <= whole <= bounds[1]:
        raise ValueError(f"out of range for {kind.name}")
    return whole


async def _wait(lost: asyncio.Event) -> None:
    await lost.wait()


def _plain(value: object) -> object:
    """An OPC UA value as a LoT value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return _iso(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, ua.LocalizedText):
        return value.Text or ""
    return str(value)


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")


async def _client_keys(folder: Path) -> tuple[Path, Path]:
    """The route's client certificate and key, created self-signed if absent."""
    certificate = folder / "certificate.der"
    key = folder / "private-key.pem"
    if not (certificate.exists() and key.exists()):
        from asyncua.crypto.cert_gen import setup_self_signed_certificate
        from cryptography.x509.oid import ExtendedKeyUsageOID

        await setup_self_signed_certificate(
            key,
            certificate,
            "urn:lot:client",
            "localhost",
            [ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": "lot"},
        )
        log.info("created an OPC UA client certificate in %s", folder)
    return certificate, key
