"""A real BACnet/IP device (a bacpypes3 application) for integration tests,
on a free loopback UDP port.

The device (instance 1234) runs on its own event loop in a thread and holds
analog input 0, analog value 0, binary value 1, binary input 2 and
multi-state value 3; the test sets and reads their present values::

    device = BacnetSimulator()
    device.start()
    device.set("analog-input", 0, 21.5)
    device.get("analog-value", 0)
    device.stop(); device.start()        # same port, values kept
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from typing import Any

from bacpypes3.app import Application
from bacpypes3.argparse import SimpleArgumentParser
from bacpypes3.local.analog import AnalogInputObject, AnalogValueObject
from bacpypes3.local.binary import BinaryInputObject, BinaryValueObject
from bacpypes3.local.multistate import MultiStateValueObject

__all__ = ["BacnetSimulator", "free_udp_port"]

DEVICE_ID = 1234


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _common(kind: str, instance: int) -> dict[str, Any]:
    return {
        "objectIdentifier": (kind, instance),
        "objectName": f"{kind}-{instance}",
        "statusFlags": [0, 0, 0, 0],
        "eventState": "normal",
        "outOfService": False,
    }


class BacnetSimulator:
    """One BACnet/IP device that can be stopped and started on its port."""

    host = "127.0.0.1"
    device_id = DEVICE_ID

    def __init__(self, port: int | None = None, *, read_multiple: bool = True) -> None:
        self.port = port or free_udp_port()
        # False: reject ReadPropertyMultiple as unrecognized, as small devices do.
        self.read_multiple = read_multiple
        self.values: dict[tuple[str, int], Any] = {
            ("analog-input", 0): 0.0,
            ("analog-value", 0): 0.0,
            ("binary-value", 1): "inactive",
            ("binary-input", 2): "inactive",
            ("multi-state-value", 3): 1,
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._app: Any = None
        self._objects: dict[tuple[str, int], Any] = {}
        # Requests answered since the last start, by service.
        self.requests = {"ReadProperty": 0, "ReadPropertyMultiple": 0}

    def _build(self) -> None:
        arguments = SimpleArgumentParser().parse_args(
            [
                "--address",
                f"{self.host}:{self.port}",
                "--instance",
                str(self.device_id),
                "--name",
                "simulator",
            ]
        )
        self._app = Application.from_args(arguments)
        for service in self.requests:
            self._count(service)
        if not self.read_multiple:
            self._app.do_ReadPropertyMultipleRequest = None
        kinds: dict[str, Callable[..., Any]] = {
            "analog-input": lambda **k: AnalogInputObject(units="degreesCelsius", **k),
            "analog-value": lambda **k: AnalogValueObject(units="degreesCelsius", **k),
            "binary-value": BinaryValueObject,
            "binary-input": BinaryInputObject,
            "multi-state-value": lambda **k: MultiStateValueObject(
                numberOfStates=4, **k
            ),
        }
        for (kind, instance), value in self.values.items():
            made = kinds[kind](presentValue=value, **_common(kind, instance))
            self._app.add_object(made)
            self._objects[(kind, instance)] = made

    def _count(self, service: str) -> None:
        """Count each request of ``service`` the device answers."""
        name = f"do_{service}Request"
        answer = getattr(self._app, name)

        async def counted(apdu: Any) -> None:
            self.requests[service] += 1
            await answer(apdu)

        setattr(self._app, name, counted)

    def start(self) -> None:
        if self._thread is not None:
            return
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self.requests = dict.fromkeys(self.requests, 0)

        def main() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.call_soon(self._build)
            self._loop.call_soon(ready.set)
            self._loop.run_forever()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        if not ready.wait(5):
            raise RuntimeError(f"the BACnet simulator did not start on {self.port}")

    def stop(self) -> None:
        """Close the device's port, as a power cut would; values are kept."""
        if self._thread is None or self._loop is None:
            return
        for key in self.values:
            self.values[key] = self.get(*key)
        self._run(lambda: self._app.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
        self._thread = self._loop = self._app = None
        self._objects = {}

    def _run(self, work: Callable[[], Any]) -> Any:
        assert self._loop is not None, "the simulator is not running"
        return asyncio.run_coroutine_threadsafe(_call(work), self._loop).result(5)

    def set(self, kind: str, instance: int, value: Any) -> None:
        """Set a present value, as the device's own program would."""
        self.values[(kind, instance)] = value
        obj = self._objects[(kind, instance)]
        self._run(lambda: setattr(obj, "presentValue", value))

    def get(self, kind: str, instance: int) -> Any:
        obj = self._objects[(kind, instance)]
        return self._run(lambda: obj.presentValue)

    def __enter__(self) -> BacnetSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _call(work: Callable[[], Any]) -> Any:
    return work()
