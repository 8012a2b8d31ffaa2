"""Topics, executions, models and timers of lot_runtime, without a broker."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from lot_runtime import Daily, Field, Model, Once, Weekly
from lot_runtime.execution import SiteState
from lot_runtime.topics import Dispatcher, Plan, fill
from lot_runtime.triggers import _every, next_calendar_time


@pytest.mark.parametrize(
    ("topic_filter", "topic", "captures"),
    [
        ("a/b", "a/b", ()),
        ("a/+/c", "a/x/c", ("x",)),
        ("+/+", "a/b", ("a", "b")),
        ("a/#", "a", ()),
        ("a/#", "a/b/c", ()),
        ("#", "a/b", ()),
        ("+/b/#", "x/b/y", ("x",)),
        ("a/+/c", "a/x/d", None),
        ("a/b", "a/b/c", None),
        ("a/+", "a", None),
        ("#", "$SYS/x", None),
        ("+/x", "$SYS/x", None),
        ("$SYS/#", "$SYS/x", ()),
        ("a//b", "a//b", ()),
    ],
)
def test_filter_plans(topic_filter, topic, captures):
    assert Plan.of(topic_filter).match(topic) == captures


def test_fill_takes_the_nth_plus_from_the_nth_capture():
    assert fill("memo/+/+/max", ("p1", "s2")) == "memo/p1/s2/max"
    assert fill("plain/topic", ("x",)) == "plain/topic"
    assert fill("a/+", ()) == "a/+"


def test_dispatcher_finds_every_matching_handler():
    d: Dispatcher[str] = Dispatcher()
    d.add("a/+/c", "one")
    d.add("a/#", "two")
    d.add("b/c", "three")
    d.add("a/#", "four")
    assert d.lookup("a/x/c") == [("one", ("x",)), ("two", ()), ("four", ())]
    assert d.lookup("a/x/c") == d.lookup("a/x/c")  # remembered
    assert d.lookup("z") == []
    assert d.filters == ["a/+/c", "a/#", "b/c"]


def _state():
    sent = []
    state = SiteState(qos=1, env={"HOST": "h"}, secrets={"PW": "s"})
    state.sink = lambda *message: sent.append(message)
    return state, sent


def test_execution_reads_its_trigger():
    state, _ = _state()
    seen = {}

    def body(run):
        seen.update(
            text=run.text,
            levels=(run.level(1), run.level(3), run.level(4), run.level(0)),
            fill=run.fill("out/+/x"),
            self_topic=run.get_topic("in/p7/v"),
            env=(run.env("HOST"), run.secret("PW"), run.env("NOPE")),
        )

    assert state.execute("A", body, "in/p7/v", "21,5°".encode(), ("p7",))
    assert seen == {
        "text": "21,5°",
        "levels": ("in", "v", "", ""),
        "fill": "out/p7/x",
        "self_topic": "21,5°",
        "env": ("h", "s", ""),
    }


def test_writes_are_buffered_until_the_body_returns():
    state, sent = _state()

    def body(run):
        run.publish("out/a", 21.0)
        assert sent == [] and state.cache == {}
        assert run.get_topic("out/a") == "21"
        run.keep("memo/a", {"x": 1})
        run.publish("out/b", True, retain=True, qos=0)
        assert run.get_topic("memo/a") == '{"x":1}'

    assert state.execute("A", body)
    assert sent == [("out/a", b"21", 1, False), ("out/b", b"true", 0, True)]
    assert state.cache == {"out/a": "21", "memo/a": '{"x":1}', "out/b": "true"}

    # A later execution reads the cache; a topic never written is EMPTY.
    found = []
    state.execute(
        "B", lambda run: found.extend([run.get_topic("memo/a"), run.get_topic("z")])
    )
    assert found == ['{"x":1}', None]


def test_an_exception_abandons_the_execution_and_is_counted(caplog):
    state, sent = _state()

    def body(run):
        run.publish("out", 1)
        run.keep("memo", 2)
        raise ValueError("bad payload")

    with caplog.at_level("WARNING", logger="lot"):
        for _ in range(3):
            assert not state.execute("Broken", body, "in/x", b"oops")
    assert sent == [] and state.cache == {}
    assert state.stats["failures"] == 3 and state.stats["failures:Broken"] == 3
    warnings = [r for r in caplog.records if "abandoned" in r.getMessage()]
    assert len(warnings) == 1  # logged once per (action, topic, exception type)
    assert "in/x" in warnings[0].getMessage() and "oops" not in caplog.text


def test_conversion_failures_are_counted_and_logged_once_per_topic(caplog):
    from lot_runtime import values as lot

    state, _ = _state()
    with caplog.at_level("WARNING", logger="lot"):
        for payload in (b"abc", b"def"):
            state.execute("A", lambda run: lot.as_double(run.text), "in/1", payload)
        state.execute("A", lambda run: lot.as_double(run.text), "in/2", b"x")
    assert state.stats["conversion_failures"] == 3
    assert len([r for r in caplog.records if "did not convert" in r.getMessage()]) == 2
    assert "abc" not in caplog.text


def test_env_and_secrets_can_change():
    state, _ = _state()

    def body(run):
        run.keep_env("NEW", 5)
        run.delete_secret("PW")
        run.keep_secret("K", "v")

    state.execute("A", body)
    assert state.env["NEW"] == "5" and state.secrets == {"K": "v"}


BoilerSample = Model(
    name="BoilerSample",
    collapsed=True,
    fields=(
        Field("boiler", "STRING"),
        Field("flow_temp_c", "DOUBLE"),
        Field("count", "INT"),
        Field("ok", "BOOL"),
        Field("extra", "OBJECT"),
        Field("sampled_at", "STRING", default=lambda run: "at-" + run.level(1)),
    ),
)


def test_a_collapsed_model_is_one_flat_object_in_declaration_order():
    state, sent = _state()
    values = {"ok": "true", "count": "21.7", "flow_temp_c": "212", "boiler": 2}

    def body(run):
        run.publish_model(BoilerSample, "out", values)

    state.execute("A", body, "site/x", b"")
    assert sent[0][1] == (
        b'{"boiler":"2","flow_temp_c":212,"count":21,"ok":true,'
        b'"extra":null,"sampled_at":"at-site"}'
    )


def test_models_wrap_inherit_and_take_members():
    base = Model(name="Base", fields=(Field("a", "INT"), Field("b", "STRING")))
    child = Model(
        name="Child",
        base=base,
        retain=True,
        qos=0,
        fields=(Field("c", "DOUBLE"), Field("b", "INT"), Field("limits", "OBJECT")),
    )
    assert [f.name for f in child.all_fields] == ["a", "b", "c", "limits"]
    state, sent = _state()
    state.execute(
        "A",
        lambda run: run.publish_model(
            child, "t", {"a": 1, "b": "2", "c": 0.5, "limits.max": 5}
        ),
    )
    assert sent == [
        ("t", b'{"Child":{"a":1,"b":2,"c":0.5,"limits":{"max":5}}}', 0, True)
    ]


@pytest.mark.parametrize(
    "given",
    [
        {"boiler": 'é\u2028"x"', "flow_temp_c": 1e20, "count": True, "ok": 0},
        {"boiler": None, "flow_temp_c": float("nan"), "count": None},
        {"flow_temp_c": "-inf", "extra": {"a": [1.0, 2.5]}, "ok": "no"},
        {"flow_temp_c": 12.5, "extra": '{"b": 3.0}', "unknown": 1},
        {"boiler": b"bytes", "flow_temp_c": 1796321816.401408, "count": "1e3"},
    ],
)
def test_the_prepared_encoder_writes_what_json_text_writes(given):
    """Model.encode's per-field plan gives the bytes of the generic path."""
    from lot_runtime import values as lot

    for model in (BoilerSample, Model(name="Wrapped", fields=BoilerSample.fields)):
        state, sent = _state()
        records: list[dict] = []

        def body(run, model=model, records=records):
            run.publish_model(model, "t", given)
            records.append(model.record(run, given))

        state.execute("A", body, "site/x")
        expected = records[0] if model.collapsed else {model.name: records[0]}
        assert sent[0][1] == lot.json_text(expected).encode()


def test_defaults_are_evaluated_at_each_publish():
    counter = iter(range(10))
    model = Model(
        name="M",
        collapsed=True,
        fields=(Field("n", "INT", default=lambda run: next(counter)),),
    )
    state, sent = _state()
    for _ in range(2):
        state.execute("A", lambda run: run.publish_model(model, "t", {}))
    assert [p for _, p, _, _ in sent] == [b'{"n":0}', b'{"n":1}']


def test_calendar_triggers_use_local_time():
    now = datetime(2026, 4, 2, 10, 0).astimezone()  # a Thursday
    assert (
        next_calendar_time(Daily("09:30"), now)
        == datetime(2026, 4, 3, 9, 30).astimezone()
    )
    assert (
        next_calendar_time(Daily("10:00:01"), now)
        == datetime(2026, 4, 2, 10, 0, 1).astimezone()
    )
    assert (
        next_calendar_time(Weekly((0,), "08:00"), now)
        == datetime(2026, 4, 6, 8, 0).astimezone()
    )
    assert (
        next_calendar_time(Once(datetime(2026, 4, 2, 11, 0)), now)
        == datetime(2026, 4, 2, 11, 0).astimezone()
    )
    assert next_calendar_time(Once(now - timedelta(seconds=1)), now) is None


def test_every_keeps_its_grid_and_skips_missed_ticks():
    async def scenario():
        loop = asyncio.get_running_loop()
        ticks = []
        start = loop.time()

        def fire():
            ticks.append(loop.time() - start)
            if len(ticks) == 3:
                import time

                time.sleep(0.12)  # busy for more than two periods

        task = asyncio.create_task(_every(0.05, fire))
        await asyncio.sleep(0.525)
        task.cancel()
        return ticks

    ticks = asyncio.run(scenario())
    # Ticks 1, 2, 3 on the grid; 4 and 5 pass while busy and are skipped.
    slots = [round(t / 0.05) for t in ticks]
    assert slots[:3] == [1, 2, 3]
    assert 4 not in slots and 5 not in slots
    assert slots[3:] == list(range(6, 6 + len(slots) - 3))
    for t, slot in zip(ticks, slots, strict=True):
        assert 0 <= t - slot * 0.05 < 0.02  # no drift


def test_weekly_on_several_days_and_once_from_iso_text():
    now = datetime(2026, 4, 2, 10, 0).astimezone()  # a Thursday
    weekdays = Weekly((0, 1, 2, 3, 4), "08:00")
    assert next_calendar_time(weekdays, now) == datetime(2026, 4, 3, 8, 0).astimezone()
    saturday = datetime(2026, 4, 4, 9, 0).astimezone()
    assert (
        next_calendar_time(weekdays, saturday) == datetime(2026, 4, 6, 8).astimezone()
    )
    once = Once("2026-04-02T11:00:00")
    assert next_calendar_time(once, now) == datetime(2026, 4, 2, 11, 0).astimezone()
    with pytest.raises(ValueError):
        Once("02-04-2026")
    with pytest.raises(ValueError):
        Weekly((7,), "08:00")


class _FakeLink:
    """Stands in for lot_runtime.link.Link: records what would be written."""

    def __init__(self):
        self.frames: list[bytes] = []
        self.write_paused = self.read_paused = self.heard = False

    def write(self, frames):
        self.frames.extend(frames)

    def pause_reading(self):
        self.read_paused = True

    def resume_reading(self):
        self.read_paused = False

    def fail(self, reason):
        raise AssertionError(reason)


def test_the_outbox_bounds_handling_and_puts_unconfirmed_messages_back_in_order(
    monkeypatch,
):
    import mqtt5
    from lot_runtime import mqtt

    monkeypatch.setattr(mqtt, "OUTBOX_CAPACITY", 3)
    settings = mqtt.ConnectionSettings(
        broker=mqtt.BrokerAddress("127.0.0.1", 1), client_id="c", status_topic="s"
    )
    handled: list[str] = []

    def echo(topic, payload, retain):
        handled.append(topic)
        connection.send("out/" + topic, payload, 1, False)

    connection = mqtt.Connection(settings, filters=(), on_message=echo)
    link = _FakeLink()
    connection._link, connection._window = link, 2
    qos1 = mqtt5.QoS.AT_LEAST_ONCE
    batch = [
        mqtt5.PublishPacket(f"t{n}", b"x", qos=qos1, packet_id=n) for n in range(1, 9)
    ]
    connection.packets(link, batch)
    # Two results in flight (the window) and three queued (the outbox is
    # full): five inputs handled and acknowledged after their handler, three
    # wait unacknowledged.
    assert handled == ["t1", "t2", "t3", "t4", "t5"]
    sent = [mqtt5.read(memoryview(f))[0] for f in link.frames]
    kinds = [type(p).__name__.removesuffix("Packet") for p in sent]
    assert kinds == ["PubAck"] * 3 + ["Publish"] * 2 + ["PubAck"] * 2
    acked = [p.packet_id for p in sent if isinstance(p, mqtt5.PubAckPacket)]
    assert acked == [1, 2, 3, 4, 5]
    assert len(connection._held) == 3
    assert not link.read_paused  # confirmations are due on this socket

    connection.packets(link, [mqtt5.PubAckPacket(sent[3].packet_id)])
    assert handled[-1] == "t6" and connection.pending == 5

    connection._link_down(None)  # the link drops: unconfirmed go back first
    assert [m[0] for m in connection._outbox] == [f"out/t{n}" for n in range(2, 7)]
    assert not connection._inflight and not connection._held


def test_a_full_outbox_of_qos0_pauses_reading(monkeypatch):
    import mqtt5
    from lot_runtime import mqtt

    monkeypatch.setattr(mqtt, "OUTBOX_CAPACITY", 2)
    monkeypatch.setattr(mqtt, "HELD_CAPACITY", 2)
    settings = mqtt.ConnectionSettings(
        broker=mqtt.BrokerAddress("127.0.0.1", 1), client_id="c", status_topic="s"
    )
    connection = mqtt.Connection(
        settings,
        filters=(),
        on_message=lambda t, p, r: connection.send("o", p, 0, False),
    )
    link = _FakeLink()
    link.write_paused = True  # the socket is not draining
    connection._link = link
    connection.packets(link, [mqtt5.PublishPacket(f"t{n}", b"x") for n in range(5)])
    assert link.read_paused and connection.pending == 2
    link.write_paused = False
    connection.writable(link)
    assert not link.read_paused and not connection._held and not connection.pending


def test_the_link_rests_after_a_large_read_only_when_no_confirmation_is_due():
    import mqtt5
    from lot_runtime import mqtt

    settings = mqtt.ConnectionSettings(
        broker=mqtt.BrokerAddress("127.0.0.1", 1), client_id="c", status_topic="s"
    )
    qos = 0

    def echo(topic, payload, retain):
        connection.send("o", payload, qos, False)

    connection = mqtt.Connection(settings, filters=(), on_message=echo)
    link = _FakeLink()
    connection._link = link
    small = [mqtt5.PublishPacket("t", b"x")]
    large = small * mqtt.REST_AFTER
    assert not connection.packets(link, small)  # a paced stream never waits
    assert connection.packets(link, large)  # a backlog: gather more per read
    qos = 1
    assert not connection.packets(link, large)  # PUBACKs are due: keep reading


class _BatchSession:
    """A link's session that keeps every batch of packets it was given."""

    def __init__(self):
        self.batches: list[list[str]] = []

    def packets(self, link, batch):
        self.batches.append([p.payload.decode() for p in batch])
        return False

    def writable(self, link):
        pass


def _feed(link, data: bytes) -> None:
    """What asyncio does for a read of `data`: copy it into the link's buffer."""
    while data:
        buffer = link.get_buffer(-1)
        size = min(len(buffer), len(data))
        buffer[:size] = data[:size]
        link.buffer_updated(size)
        data = data[size:]


def test_the_link_decodes_frames_split_across_reads_and_larger_than_its_buffer():
    import mqtt5
    from lot_runtime import link as link_module

    async def scenario():
        session = _BatchSession()
        link = link_module.Link(session)
        frames = [mqtt5.PublishPacket("t", str(n).encode()).write() for n in range(3)]
        stream = b"".join(frames)
        _feed(link, stream[:5])  # half a frame: nothing yet
        _feed(link, stream[5 : len(frames[0]) + 2])  # the first and a bit
        _feed(link, stream[len(frames[0]) + 2 :])  # the other two at once
        assert session.batches == [["0"], ["1", "2"]]

        big = b"b" * (3 * link_module.READ_BUFFER)  # needs the buffer to grow
        _feed(link, mqtt5.PublishPacket("t", big).write() + frames[0])
        assert session.batches[-1] == [big.decode(), "0"]
        assert len(session.batches) == 3

    asyncio.run(scenario())


def test_the_handler_gets_each_message_s_retain_flag_also_after_it_waited():
    import mqtt5
    from lot_runtime import mqtt

    settings = mqtt.ConnectionSettings(
        broker=mqtt.BrokerAddress("127.0.0.1", 1), client_id="c", status_topic="s"
    )
    seen: list[tuple[str, bool]] = []
    connection = mqtt.Connection(
        settings, filters=(), on_message=lambda t, p, r: seen.append((t, r))
    )
    link = _FakeLink()
    connection._link = link
    qos1 = mqtt5.QoS.AT_LEAST_ONCE
    connection._handling = False  # as while stopping: input waits
    connection.packets(
        link,
        [
            mqtt5.PublishPacket("a", b"1", qos=qos1, retain=True, packet_id=1),
            mqtt5.PublishPacket("b", b"2"),
        ],
    )
    assert seen == []
    connection._handling = True
    connection.writable(link)
    connection.packets(link, [mqtt5.PublishPacket("c", b"3", retain=True)])
    assert seen == [("a", True), ("b", False), ("c", True)]


def test_a_tls_context_needs_a_tls_address():
    import ssl

    from lot_runtime import mqtt

    context = ssl.create_default_context()
    with pytest.raises(ValueError, match="TLS"):
        mqtt.ConnectionSettings(
            broker=mqtt.BrokerAddress("h", 1883),
            client_id="c",
            status_topic="s",
            tls_context=context,
        )
    settings = mqtt.ConnectionSettings(
        broker=mqtt.BrokerAddress("h", 8883, tls=True),
        client_id="c",
        status_topic="s",
        tls_context=context,
    )
    assert str(settings.broker) == "mqtts://h:8883"


def _connection_on_fake_link(on_message):
    import types

    from lot_runtime import mqtt

    settings = mqtt.ConnectionSettings(
        broker=mqtt.BrokerAddress("127.0.0.1", 1), client_id="c", status_topic="s"
    )
    connection = mqtt.Connection(settings, filters=(), on_message=on_message)
    link = _FakeLink()
    connection._link = link
    # Flush at once instead of on the next event-loop turn.
    connection._loop = types.SimpleNamespace(call_soon=lambda callback: callback())
    return connection, link


def _acked(link):
    import mqtt5

    packets = [mqtt5.read(memoryview(f))[0] for f in link.frames]
    link.frames.clear()
    return [p.packet_id for p in packets if isinstance(p, mqtt5.PubAckPacket)]


def test_deferred_acknowledgements_leave_in_the_order_their_messages_came():
    import mqtt5

    tickets = {}

    def handle(topic, payload, retain):
        if topic.startswith("held"):
            tickets[topic] = connection.defer()
            if topic == "held-twice":  # two routes hold the same message
                assert connection.defer() is tickets[topic]

    connection, link = _connection_on_fake_link(handle)
    qos1 = mqtt5.QoS.AT_LEAST_ONCE
    topics = ["free", "held-a", "free", "held-twice", "free"]
    batch = [
        mqtt5.PublishPacket(t, b"x", qos=qos1, packet_id=n)
        for n, t in enumerate(topics, start=1)
    ]
    connection.packets(link, [*batch, mqtt5.PublishPacket("held-q0", b"x")])
    assert _acked(link) == [1]  # 3 and 5 wait behind the held ones
    assert tickets["held-q0"] is None  # QoS 0: nothing to hold

    connection.release(tickets["held-twice"])
    assert _acked(link) == []
    connection.release(tickets["held-a"])
    assert _acked(link) == [2, 3]  # 4 is still held once
    connection.release(tickets["held-twice"])
    assert _acked(link) == [4, 5]
    assert connection.defer() is None  # outside a handler


def test_a_deferred_acknowledgement_dies_with_its_link():
    import mqtt5

    tickets = []
    connection, link = _connection_on_fake_link(
        lambda t, p, r: tickets.append(connection.defer())
    )
    qos1 = mqtt5.QoS.AT_LEAST_ONCE
    connection.packets(link, [mqtt5.PublishPacket("t", b"x", qos=qos1, packet_id=7)])
    connection._link_down(None)
    new_link = _FakeLink()
    connection._link = new_link
    connection.release(tickets[0])  # the broker sends it again on the new link
    assert _acked(new_link) == [] and _acked(link) == []


def test_a_sender_is_told_when_the_broker_answered_or_the_link_dropped():
    import mqtt5

    connection, link = _connection_on_fake_link(lambda t, p, r: None)
    told: list[tuple[str, bool]] = []
    for topic in ("a", "b", "c"):
        connection.send(
            topic, b"x", 1, False, lambda ok, topic=topic: told.append((topic, ok))
        )
    connection.send("status", b"x", 1, True)
    connection.send("q0", b"x", 0, False, lambda ok: told.append(("q0", ok)))
    sent = [mqtt5.read(memoryview(f))[0] for f in link.frames]
    ids = {p.topic: p.packet_id for p in sent}
    assert told == [("q0", True)]  # QoS 0: told once written

    connection.packets(link, [mqtt5.PubAckPacket(ids["a"])])
    assert told[-1] == ("a", True)
    connection._link_down(None)
    # b and c are the sender's again; the status is sent again by the
    # connection itself after the reconnect.
    assert told[-2:] == [("b", False), ("c", False)]
    assert [m[0] for m in connection._outbox] == ["status"]
