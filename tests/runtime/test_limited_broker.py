"""A broker that keeps no retained messages and takes QoS 0 only (as some
cloud brokers do): the site connects anyway, its will and messages made to
fit, and says once what it gave up.  Before, the broker refused the site's
CONNECT (its retained QoS 1 will) and the site never came online."""

from __future__ import annotations

import asyncio
import logging

from lot_runtime import Site
from lot_runtime.routes import RouteContext
from support.mosquitto import Mosquitto

from .sites import RunningSite


class _Echo:
    name = "Echo"
    filters = ("say",)

    def __init__(self) -> None:
        self.context: RouteContext | None = None

    def deliver(self, topic: str, payload: bytes) -> None:
        assert self.context is not None
        self.context.publish("said", payload, qos=1, retain=True)

    async def run(self, context: RouteContext) -> None:
        self.context = context
        await asyncio.Event().wait()


def test_a_site_runs_on_a_broker_without_retain_or_qos1(tmp_path, caplog):
    config = "retain_available false\nmax_qos 0\n"
    with Mosquitto(tmp_path / "broker", extra_config=config) as broker:
        with caplog.at_level(logging.INFO, logger="lot"):
            with broker.collect("said") as seen:
                site = Site(name="limited", routes=(_Echo(),))
                with RunningSite(site, broker.url) as running:
                    broker.publish("say", b"hello", qos=0)
                    [message] = seen.wait_for(1)
                    assert running.runner.connection.online
    assert (message.payload, message.retain) == (b"hello", False)
    said = [r.getMessage() for r in caplog.records]
    assert "the broker keeps no retained messages: the status is not retained" in said
    assert "the broker takes QoS 0 only: messages may be lost on the way" in said
    assert not any("lost the broker" in m for m in said)
