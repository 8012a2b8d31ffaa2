"""A route asking to publish on something that is no topic: the message is
dropped with one warning, and the site's connection stays up (a broker drops
a client that publishes on a wildcard)."""

from __future__ import annotations

import asyncio
import logging

from lot_runtime import Site
from lot_runtime.routes import RouteContext

from .sites import RunningSite


class _Publisher:
    """Publishes what it is told, on the topic the payload names."""

    name = "Echo"
    filters = ("say",)

    def __init__(self) -> None:
        self.context: RouteContext | None = None

    def deliver(self, topic: str, payload: bytes) -> None:
        assert self.context is not None
        self.context.publish(f"said/{payload.decode()}", b"x")

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
