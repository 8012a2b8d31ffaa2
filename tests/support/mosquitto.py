"""A real Mosquitto broker for integration tests, on a free loopback port.

Use the `mosquitto` fixture (tests/conftest.py), or the class directly::

    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    with broker.collect("out/#") as seen:       # subscribe before acting
        broker.publish("in/a", b"21.5")
        [message] = seen.wait_for(1)            # Message(topic, payload, retain)
    broker.retained("lot/site/status")          # b"online" or None
    broker.stop(); broker.start()               # same port, persistence kept
    broker.kill()                               # SIGKILL: clients see a crash

`extra_config` lines are appended to the broker's config, for example a TLS
listener on a second port (helpers keep using the plain one) or a larger
`max_queued_messages` for long outages.

`broker.url` is `mqtt://127.0.0.1:<port>`, `broker.port` the port. The broker
has its own config, persistence and log in the given folder, allows anonymous
clients and never touches the system broker on port 1883. Every helper
client speaks MQTT v5 through paho-mqtt's own network thread.
"""

from __future__ import annotations

import contextlib
import getpass
import itertools
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.subscribeoptions import SubscribeOptions

__all__ = ["Collector", "Message", "Mosquitto", "free_port"]

BINARY = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
_ids = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    retain: bool = False


class Mosquitto:
    """One mosquitto process that can be stopped and started on its port."""

    host = "127.0.0.1"

    def __init__(
        self, folder: Path, port: int | None = None, extra_config: str = ""
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.config = self.folder / "mosquitto.conf"
        self.log = self.folder / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.config.write_text(
            f"listener {self.port} {self.host}\n"
            # Run as whoever runs the tests: as root, mosquitto would switch
            # to the user "mosquitto", who cannot write the test's folder.
            f"user {getpass.getuser()}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.folder}/\n"
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            + extra_config
        )

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 5.0) -> None:
        """Start the broker and wait until it accepts connections."""
        if self.running:
            return
        if not os.access(BINARY, os.X_OK):
            raise RuntimeError(f"mosquitto is not installed ({BINARY})")
        self._process = subprocess.Popen(
            [BINARY, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: see {self.log}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.2),
            ):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on {self.port} in {timeout}s")

    def stop(self) -> None:
        """Stop cleanly (SIGTERM): the broker saves its persistence file."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crash or power loss would."""
        self._end(signal.SIGKILL)

    def pause(self) -> None:
        """Freeze the broker (SIGSTOP): its connections stay open, it reads
        and answers nothing, as a hung broker would."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def _end(self, signum: int) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signum)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    # -- helper clients

    def client(self, client_id: str | None = None) -> paho.Client:
        """A connected paho client running its network loop in a thread."""
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-{os.getpid()}-{next(_ids)}",
            protocol=paho.MQTTv5,
        )
        connected = threading.Event()
        client.on_connect = lambda *args: connected.set()
        client.connect(self.host, self.port)
        client.loop_start()
        if not connected.wait(5):
            client.loop_stop()
            raise TimeoutError("test client could not connect")
        return client

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish one message and wait until the broker has it."""
        client = self.client()
        try:
            client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)
        finally:
            client.disconnect()
            client.loop_stop()

    @contextlib.contextmanager
    def collect(self, *filters: str) -> Iterator[Collector]:
        """Subscribe to filters (SUBACK awaited) and gather what arrives."""
        collector = Collector()
        client = self.client()
        subscribed = threading.Event()
        client.on_subscribe = lambda *args: subscribed.set()
        client.on_message = lambda _c, _u, m: collector.add(
            Message(m.topic, bytes(m.payload), bool(m.retain))
        )
        client.subscribe([(f, SubscribeOptions(qos=1)) for f in filters])
        if not subscribed.wait(5):
            raise TimeoutError("test subscription was not acknowledged")
        try:
            yield collector
        finally:
            client.disconnect()
            client.loop_stop()

    def retained(self, topic: str, timeout: float = 2.0) -> bytes | None:
        """The retained payload of topic, or None when there is none."""
        with self.collect(topic) as seen:
            found = seen.wait_until(lambda ms: any(m.retain for m in ms), timeout)
        return next((m.payload for m in reversed(found) if m.retain), None)


class Collector:
    """Messages received by a `Mosquitto.collect` subscription, in order."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._changed = threading.Condition()

    def add(self, message: Message) -> None:
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()

    def wait_until(
        self, done: Callable[[list[Message]], bool], timeout: float = 5.0
    ) -> list[Message]:
        """Wait until done(messages) holds or timeout passes; return a copy."""
        with self._changed:
            self._changed.wait_for(lambda: done(self.messages), timeout)
            return list(self.messages)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Message]:
        """Wait for at least count messages; fail the test if they do not come."""
        found = self.wait_until(lambda ms: len(ms) >= count, timeout)
        if len(found) < count:
            raise AssertionError(f"expected {count} messages, got {found}")
        return found

    def payloads(self, topic: str | None = None) -> list[bytes]:
        with self._changed:
            return [m.payload for m in self.messages if topic in (None, m.topic)]
