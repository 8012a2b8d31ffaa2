"""The spooled sender's loop, with a route whose sending fails in a way no
route foresaw: the message is tried a few times, then dead-lettered, and
the messages behind it go on (a real Mosquitto and a real spool)."""

from __future__ import annotations

import json
import logging

from lot_runtime import Site
from lot_runtime.routes import RouteContext
from lot_runtime.routes.spooled import UNEXPECTED_TRIES, SpooledSender
from lot_runtime.routes.sql_values import Message

from .sites import RunningSite


class _Fragile(SpooledSender):
    """Sends by remembering; a payload ``boom`` breaks it unexpectedly."""

    def __init__(self) -> None:
        super().__init__(
            "Fragile",
            ["f/+"],
            parallel=1,
            batch_size=8,
            spool_limit=2**20,
            spool_memory=100,
        )
        self.tries: dict[bytes, int] = {}
        self.delivered: list[bytes] = []

    async def send(self, event: int, message: Message, context: RouteContext) -> None:
        self.tries[message.payload] = self.tries.get(message.payload, 0) + 1
        if message.payload == b"boom":
            raise RuntimeError("the driver fell over")
        self.delivered.append(message.payload)


def test_an_unexpected_failure_ends_in_a_dead_letter_and_the_rest_go_on(
    tmp_path, mosquitto, caplog
):
    route = _Fragile()
    site = Site(name="fragile", routes=(route,))
    environ = {"LOT_STATE_DIR": str(tmp_path)}
    with caplog.at_level(logging.ERROR, logger="lot"):
        with mosquitto.collect("lot/fragile/deadletter/#") as seen:
            with RunningSite(site, mosquitto.url, environ=environ):
                mosquitto.publish("f/1", b"boom")
                mosquitto.publish("f/2", b"fine")
                [letter] = seen.wait_for(1, timeout=20)
    reason = json.loads(letter.payload)["reason"]
    assert reason == "unexpected failure: RuntimeError: the driver fell over"
    assert route.tries[b"boom"] == UNEXPECTED_TRIES
    assert route.delivered == [b"fine"]
    assert any(r.exc_info for r in caplog.records), "no traceback was logged"
