"""lot_runtime against a real mosquitto: actions, triggers, cache, failures."""

from __future__ import annotations

import json

from lot_runtime import Action, Every, Field, Model, OnChange, OnStart, OnTopic, Site
from lot_runtime import values as lot

from .sites import RunningSite

BoilerSample = Model(
    name="BoilerSample",
    collapsed=True,
    fields=(
        Field("boiler", "STRING"),
        Field("depot", "STRING"),
        Field("flow_temp_c", "DOUBLE"),
        Field("sampled_at", "STRING"),
    ),
)


def normalise(run):
    depot, room, boiler = run.level(2), run.level(3), run.level(5)
    celsius = lot.as_double(run.text)
    run.publish_model(
        BoilerSample,
        lot.join("northwind/", depot, "/", room, "/heating/", boiler, "/clean"),
        {"boiler": boiler, "depot": depot, "flow_temp_c": celsius, "sampled_at": "t0"},
    )


def test_an_action_publishes_the_exact_bytes(mosquitto):
    site = Site(
        name="boilers",
        actions=(
            Action(
                name="NormaliseBoilerSample",
                trigger=OnTopic("northwind/+/+/heating/+/metrics/flow_temp"),
                execute=normalise,
            ),
        ),
        models=(BoilerSample,),
    )
    with (
        RunningSite(site, mosquitto.url),
        mosquitto.collect("+/+/+/heating/+/clean") as seen,
    ):
        mosquitto.publish(
            "northwind/depot/basement/heating/boiler-2/metrics/flow_temp", "212.0"
        )
        mosquitto.publish(
            "northwind/depot/basement/heating/boiler-2/metrics/flow_temp", "12.5"
        )
        first, second = seen.wait_for(2)
    assert first.topic == "northwind/depot/basement/heating/boiler-2/clean"
    assert first.payload == (
        b'{"boiler":"boiler-2","depot":"depot","flow_temp_c":212,"sampled_at":"t0"}'
    )
    assert json.loads(second.payload)["flow_temp_c"] == 12.5


def test_on_change_fires_per_topic_only_for_new_bytes(mosquitto):
    def echo(run):
        run.publish("changed/" + run.level(2), run.payload)

    site = Site(
        name="changes",
        actions=(Action(name="Watch", trigger=OnChange("state/+"), execute=echo),),
    )
    with RunningSite(site, mosquitto.url), mosquitto.collect("changed/#") as seen:
        for topic, payload in [
            ("state/a", "1"),
            ("state/a", "1"),
            ("state/b", "1"),
            ("state/a", '{"a":1,"b":2}'),
            ("state/a", '{"b":2,"a":1}'),
            ("state/a", '{"b":2,"a":1}'),
            ("state/b", "2"),
        ]:
            mosquitto.publish(topic, payload)
        mosquitto.publish("state/end", "x")
        seen.wait_until(lambda ms: any(m.topic == "changed/end" for m in ms))
        got = [(m.topic, m.payload.decode()) for m in seen.messages]
    assert got == [
        ("changed/a", "1"),
        ("changed/b", "1"),
        ("changed/a", '{"a":1,"b":2}'),
        ("changed/a", '{"b":2,"a":1}'),
        ("changed/b", "2"),
        ("changed/end", "x"),
    ]


def test_every_ticks_one_period_after_start_then_on_its_grid(mosquitto):
    def tick(run):
        run.publish("ticks", lot.timestamp("UNIX-MS"))

    def started(run):
        run.publish("started", lot.timestamp("UNIX-MS"))

    site = Site(
        name="timers",
        actions=(
            Action(name="Tick", trigger=Every(0.2), execute=tick),
            Action(name="Start", trigger=OnStart(), execute=started),
        ),
    )
    with (
        mosquitto.collect("ticks", "started") as seen,
        RunningSite(site, mosquitto.url),
    ):
        messages = seen.wait_for(7, timeout=5)
    assert messages[0].topic == "started"
    start = int(messages[0].payload)
    ticks = [int(m.payload) - start for m in messages[1:]]
    for k, at in enumerate(ticks, start=1):
        assert abs(at - k * 200) < 60, ticks  # on the grid: no drift


def test_keep_and_get_topic_across_actions_and_the_cache_filters(mosquitto):
    mosquitto.publish("limits/p1", "30", retain=True)

    def remember(run):
        pump, flow = run.level(2), lot.as_double(run.text)
        run.keep(lot.join("memo/", pump, "/flow_mean"), flow)
        if lot.gt(flow, lot.as_double(run.get_topic(run.fill("memo/+/flow_max")))):
            run.keep(run.fill("memo/+/flow_max"), flow)

    def report(run):
        pump = run.level(2)
        run.publish(
            "report/" + pump,
            lot.join(
                run.get_topic("memo/" + pump + "/flow_mean"),
                " ",
                run.get_topic("memo/" + pump + "/flow_max"),
                " ",
                run.get_topic("limits/" + pump),
                " ",
                lot.as_double(run.get_topic("never/written")),
            ),
        )

    site = Site(
        name="memo",
        actions=(
            Action(name="Remember", trigger=OnTopic("pumps/+/flow"), execute=remember),
            Action(name="Report", trigger=OnTopic("ask/+"), execute=report),
        ),
        cache_filters=("limits/+",),
    )
    with (
        RunningSite(site, mosquitto.url),
        mosquitto.collect("report/#", "memo/#") as seen,
    ):
        for flow in ("3.5", "7", "5"):
            mosquitto.publish("pumps/p1/flow", flow)
        mosquitto.publish("ask/p1", "")
        [reply] = seen.wait_for(1)
    assert reply.payload == b"5 7 30 0"  # KEEP sends nothing: only the report came


def test_a_failing_action_is_counted_and_the_next_message_processed(mosquitto):
    def divide(run):
        run.publish("halved", lot.div(100, run.text))

    site = Site(
        name="fails",
        actions=(Action(name="Div", trigger=OnTopic("n"), execute=divide),),
    )
    with (
        RunningSite(site, mosquitto.url) as running,
        mosquitto.collect("halved") as seen,
    ):
        for n in ("0", "4", "0", "5"):
            mosquitto.publish("n", n)
        messages = seen.wait_for(2)
        assert [m.payload for m in messages] == [b"25", b"20"]
        assert running.stats["failures"] == 2


def test_status_is_retained_online_then_offline(mosquitto):
    site = Site(name="status-site")
    with RunningSite(site, mosquitto.url):
        assert mosquitto.retained("lot/status-site/status") == b"online"
    assert mosquitto.retained("lot/status-site/status") == b"offline"


def test_the_runner_survives_a_broker_restart_without_losing_messages(mosquitto):
    def echo(run):
        run.publish("echo/" + run.level(2), run.payload)

    site = Site(
        name="restart",
        actions=(Action(name="Echo", trigger=OnTopic("in/+"), execute=echo),),
    )
    with RunningSite(site, mosquitto.url) as running:
        with mosquitto.collect("echo/#") as seen:
            mosquitto.publish("in/1", "before")
            seen.wait_for(1)

        mosquitto.stop()
        running.wait_offline()
        mosquitto.start()
        with mosquitto.collect("echo/#") as seen:
            # The persistent session holds this for the site while it is away.
            mosquitto.publish("in/2", "while-away")
            running.wait_online(timeout=15)
            mosquitto.publish("in/3", "after")
            messages = seen.wait_for(2, timeout=10)
        assert [m.payload for m in messages] == [b"while-away", b"after"]
    assert mosquitto.retained("lot/restart/status") == b"offline"
