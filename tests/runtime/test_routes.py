"""The route framework on a real mosquitto: delivery, status, supervision."""

from __future__ import annotations

import asyncio
import time

from lot_runtime import Env, Secret, Site
from lot_runtime.routes import Route, RouteContext

from .sites import RunningSite


class Upper:
    """A small route of the test's own: it answers each message it reads with
    the payload in upper case, after a first run() that fails once."""

    def __init__(self, name: str, fails: int = 0) -> None:
        self.name = name
        self.filters = ("upper/in/+",)
        self.fails = fails
        self.runs = 0
        self.inbox: asyncio.Queue[tuple[str, bytes]] | None = None
        self.early: list[tuple[str, bytes]] = []
        self.settings: dict[str, object] = {}

    def deliver(self, topic: str, payload: bytes) -> None:
        if self.inbox is None:
            self.early.append((topic, payload))
        else:
            self.inbox.put_nowait((topic, payload))

    async def run(self, context: RouteContext) -> None:
        self.runs += 1
        if self.fails:
            self.fails -= 1
            raise ConnectionError("device not there yet")
        self.settings = {
            "host": context.resolve(Env("UPPER_HOST")),
            "token": context.resolve(Secret("UPPER_TOKEN")),
            "plain": context.resolve("as written"),
        }
        self.inbox = asyncio.Queue()
        for item in self.early:
            self.inbox.put_nowait(item)
        context.status("connected")
        while True:
            topic, payload = await self.inbox.get()
            leaf = topic.rsplit("/", 1)[-1]
            context.publish(f"upper/out/{leaf}", payload.upper())


def test_a_route_reads_its_filters_and_publishes_on_the_site_broker(mosquitto):
    route = Upper("Shout")
    assert isinstance(route, Route)
    site = Site(
        name="routed", routes=(route,), env=("UPPER_HOST",), secrets=("UPPER_TOKEN",)
    )
    environ = {"UPPER_HOST": "plc-7", "LOT_SECRET_UPPER_TOKEN": "s3cret"}
    with mosquitto.collect("upper/out/#") as seen:
        with RunningSite(site, mosquitto.url, environ=environ):
            mosquitto.publish("upper/in/a", b"hello")
            [answer] = seen.wait_for(1)
    assert (answer.topic, answer.payload) == ("upper/out/a", b"HELLO")
    assert route.settings == {"host": "plc-7", "token": "s3cret", "plain": "as written"}
    assert mosquitto.retained("lot/routed/routes/Shout/status") == b"connected"


def test_a_failing_route_is_restarted_and_reports_the_error(mosquitto):
    route = Upper("Flaky", fails=1)
    site = Site(name="flaky", routes=(route,))
    with mosquitto.collect("lot/flaky/routes/Flaky/status", "upper/out/#") as seen:
        with RunningSite(site, mosquitto.url):
            seen.wait_until(
                lambda ms: any(m.payload == b"connected" for m in ms), timeout=10
            )
            mosquitto.publish("upper/in/b", b"again")
            seen.wait_until(
                lambda ms: any(m.topic == "upper/out/b" for m in ms), timeout=10
            )
    statuses = seen.payloads("lot/flaky/routes/Flaky/status")
    assert statuses[0].startswith(b"error: ConnectionError")
    assert statuses[-1] == b"connected"
    assert route.runs == 2


class Keeper:
    """A route that wants the retain flag: it declares the keyword."""

    filters = ("keep/+",)

    def __init__(self) -> None:
        self.name = "Keeper"
        self.seen: list[tuple[str, bool]] = []

    def deliver(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.seen.append((topic, retain))

    async def run(self, context: RouteContext) -> None:
        await asyncio.Event().wait()


class Plain:
    """A route written before the flag existed: topic and payload only."""

    filters = ("keep/+",)

    def __init__(self) -> None:
        self.name = "Plain"
        self.seen: list[str] = []

    def deliver(self, topic: str, payload: bytes) -> None:
        self.seen.append(topic)

    async def run(self, context: RouteContext) -> None:
        await asyncio.Event().wait()


def test_deliver_gets_the_retain_flag_only_when_it_asks_for_it(mosquitto):
    keeper, plain = Keeper(), Plain()
    site = Site(name="keeping", routes=(keeper, plain))
    mosquitto.publish("keep/old", b"1", retain=True)  # before the subscription
    with RunningSite(site, mosquitto.url):
        mosquitto.publish("keep/live", b"2", retain=True)
        mosquitto.publish("keep/plain", b"3")
        deadline = time.monotonic() + 5
        while len(keeper.seen) < 3 or len(plain.seen) < 3:
            assert time.monotonic() < deadline, (keeper.seen, plain.seen)
            time.sleep(0.01)
    # The live retained message keeps its flag (Retain As Published).
    assert keeper.seen == [
        ("keep/old", True),
        ("keep/live", True),
        ("keep/plain", False),
    ]
    assert plain.seen == ["keep/old", "keep/live", "keep/plain"]
