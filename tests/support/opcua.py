"""A real asyncua OPC UA server for integration tests, on a free loopback port.

The server runs on its own event loop in a thread.  Its Objects folder holds
``Boiler`` with the variables below (namespace 2, NodeIds ``ns=2;s=Boiler.<Name>``);
the test sets and reads them directly::

    server = OpcuaSimulator()
    server.start()
    server.set("Flow", 21.7)      # written in the variable's own type
    server.get("Setpoint")        # what a client wrote
    server.stop(); server.start()  # same port, values back to their start

Anonymous clients are allowed; with ``users={"name": "password"}`` only
those users may open a session.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager

from .mosquitto import free_port

__all__ = ["OpcuaSimulator"]

VARIABLES = {
    "Flow": (0.0, ua.VariantType.Float),
    "Pressure": (0.0, ua.VariantType.Double),
    "Count": (0, ua.VariantType.Int32),
    "Running": (False, ua.VariantType.Boolean),
    "Label": ("", ua.VariantType.String),
    "Setpoint": (0.0, ua.VariantType.Double),
}


class _Passwords(UserManager):
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def get_user(self, iserver, username=None, password=None, certificate=None):
        if username in self.users and self.users[username] == password:
            return User(role=UserRole.Admin)
        return None


class OpcuaSimulator:
    """One asyncua server that can be stopped and started on its port."""

    host = "127.0.0.1"

    def __init__(self, port: int | None = None, users: dict[str, str] | None = None):
        self.port = port or free_port()
        self.users = users
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: Server | None = None
        self._nodes: dict[str, Any] = {}

    @property
    def url(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/lot/"

    async def _serve(self) -> None:
        if self.users:
            server = Server(user_manager=_Passwords(self.users))
        else:
            server = Server()
        await server.init()
        server.set_endpoint(self.url)
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        if self.users:
            server.set_security_IDs(["Username"])
        namespace = await server.register_namespace("urn:lot:test")
        boiler = await server.nodes.objects.add_object(
            ua.NodeId("Boiler", namespace), ua.QualifiedName("Boiler", namespace)
        )
        for name, (value, kind) in VARIABLES.items():
            node = await boiler.add_variable(
                ua.NodeId(f"Boiler.{name}", namespace),
                ua.QualifiedName(name, namespace),
                ua.Variant(value, kind),
            )
            await node.set_writable()
            self._nodes[name] = node
        await server.start()
        self._server = server

    def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._serve())
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        if not ready.wait(15) or failure:
            raise RuntimeError(f"the OPC UA simulator did not start: {failure}")

    def stop(self) -> None:
        if self._thread is None or self._loop is None:
            return
        if self._server is not None:
            self._call(self._server.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
        self._thread = self._loop = self._server = None

    def _call(self, work: Coroutine[Any, Any, Any]) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(5)

    def set(self, name: str, value: object) -> None:
        kind = VARIABLES[name][1]
        self._call(self._nodes[name].write_value(ua.Variant(value, kind)))

    def get(self, name: str) -> object:
        return self._call(self._nodes[name].read_value())

    def __enter__(self) -> OpcuaSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
