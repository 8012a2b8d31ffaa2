"""A route asking to publish on something that is no topic, or a message
larger than the broker takes: the message is dropped with one warning, and
the site's connection stays up (a broker drops a client that publishes
either)."""

from __future__ import annotations

import asyncio
import logging
import time

from lot_runtime import Site
from lot_runtime.routes import RouteContext
from support.mosquitto import Mosquitto

from .sites import RunningSite


class _Publisher:
    """Publishes what it is told, on the topic the payload names."""

    name = "Echo"
    filters = ("say",)

    def __init__(self, size: int = 1) -> None:
        self.context: RouteContext | None = None
        self.size = size  # of the payload published for "huge"

    def deliver(self, topic: str, payload: bytes) -> None:
        assert self.context is not None
        word = payload.decode()
        self.context.publish(
            f"said/{word}", b"x" * (self.size if word == "huge" else 1)
        )

    async def run(self, context: RouteContext) -> None:
        self.context = context
        await asyncio.Event().wait()


def test_a_route_publishing_on_no_topic_is_dropped_and_the_site_stays_up(
    mosquitto, caplog
):
    route = _Publisher()
    with caplog.at_level(logging.WARNING, logger="lot"):
        with mosquitto.collect("said/#") as seen:
            with RunningSite(Site(name="bad", routes=(route,)), mosquitto.url) as site:
                for word in ("+", "#", "ok", "+", "also"):
                    mosquitto.publish("say", word.encode())
                seen.wait_for(2)
                assert site.runner.connection.online
    assert [m.topic for m in seen.messages] == ["said/ok", "said/also"]
    dropped = [r for r in caplog.records if "not one topic" in r.getMessage()]
    assert len(dropped) == 2  # once per topic
    assert not any("lost the broker" in r.getMessage() for r in caplog.records)


def test_a_message_larger_than_the_broker_takes_is_dropped(tmp_path, caplog):
    route = _Publisher(size=5000)
    broker = Mosquitto(tmp_path / "broker", extra_config="max_packet_size 2000\n")
    with broker, caplog.at_level(logging.WARNING, logger="lot"):
        with broker.collect("said/#") as seen:
            with RunningSite(Site(name="big", routes=(route,)), broker.url) as site:
                for word in ("huge", "small"):
                    broker.publish("say", word.encode())
                seen.wait_for(1)
                time.sleep(0.3)
                assert site.runner.connection.online
    assert [(m.topic, len(m.payload)) for m in seen.messages] == [("said/small", 1)]
    assert any("larger than the 2000 bytes" in r.getMessage() for r in caplog.records)
    assert not any("lost the broker" in r.getMessage() for r in caplog.records)
