"""PostgresRoute in a running site, on a real PostgreSQL and Mosquitto:
binding by inferred type, CLEAN, SELECT to a topic, dead letters, status."""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from lot_runtime import Site
from lot_runtime.routes import Env, Secret
from lot_runtime.routes.postgres import (
    CleanEvent,
    PostgresRoute,
    SqlEvent,
    SqlParameter,
)

from .sites import RunningSite


def _route(postgres, *events, **settings) -> PostgresRoute:
    return PostgresRoute(
        name="Store",
        server=f"{postgres.host}:{postgres.port}",
        username=postgres.user,
        database=postgres.database,
        events=events,
        batch_window=0.01,
        **settings,
    )


def _wait(postgres, sql: str, count: int, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            rows = postgres.sql(sql)
        except subprocess.CalledProcessError:
            rows = []  # the table is not there yet
        if len(rows) >= count:
            return rows
        time.sleep(0.05)
    return postgres.sql(sql)


@pytest.fixture
def site(mosquitto, tmp_path):
    started = []

    def start(route, **environ):
        running = RunningSite(
            Site(name="pg", routes=(route,), env=("LINE",), secrets=("TOKEN",)),
            mosquitto.url,
            environ={
                "LOT_STATE_DIR": str(tmp_path / "state"),
                "LINE": "line-7",
                "LOT_SECRET_TOKEN": "s3cret",
                **environ,
            },
        )
        started.append(running)
        return running

    yield start
    for running in started:
        running.close()


def test_each_value_is_bound_with_the_type_the_server_infers(postgres, mosquitto, site):
    postgres.sql(
        "CREATE TABLE readings (id serial, at timestamptz, day date, n int,"
        " big bigint, v numeric, f real, ok boolean, doc jsonb, word jsonb,"
        " raw json, tag uuid, label text, line text, token text, ms bigint,"
        " span interval)"
    )
    insert = SqlEvent(
        name="Keep",
        source="plant/+/reading",
        sql="INSERT INTO readings (at, day, n, big, v, f, ok, doc, word, raw,"
        " tag, label, line, token, ms, span) VALUES ($1, $2, $3, $4, $5, $6,"
        " $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        parameters=tuple(
            SqlParameter(names, template)
            for names, template in (
                (("value.json.at",), None),
                (("value.json.at",), None),
                (("value.json.n",), None),
                (("value.json.big",), None),
                (("value.json.v",), None),
                (("value.json.f",), None),
                (("value.json.ok",), None),
                (("value.json.doc",), None),
                (("value.json.word",), None),
                (("payload",), None),
                (("value.json.tag",), None),
                (("topic.2", "value.json.word"), "{}:{}"),
                (("env.LINE",), None),
                (("secret.TOKEN",), None),
                (("timestamp.unix_ms",), None),
                (("value.json.span",), None),
            )
        ),
    )
    sample = {
        "at": "2026-04-02T07:45:12Z",
        "n": "42",
        "big": 9007199254740993,
        "v": 21.7,
        "f": "1.5",
        "ok": "on",
        "doc": {"a": [1, "x"]},
        "word": "it's",
        "tag": "6c9b8f1e-1f0a-4b7e-9a53-3c0d7f1b2a11",
        "span": "1 hour 30 minutes",
    }
    before = int(time.time() * 1000)
    site(_route(postgres, insert))
    mosquitto.publish("plant/p-1/reading", json.dumps(sample))
    [row] = _wait(
        postgres,
        "SELECT at, day, n, big, v, f, ok, doc, word, raw::jsonb = doc || '{}'"
        " OR true, tag, label, line, token, ms, span FROM readings",
        1,
    )
    assert row[:9] == [
        "2026-04-02 07:45:12+00",
        "2026-04-02",
        "42",
        "9007199254740993",
        "21.7",
        "1.5",
        "t",
        '{"a": [1, "x"]}',
        '"it\'s"',
    ]
    assert row[10:14] == [sample["tag"], "p-1:it's", "line-7", "s3cret"]
    assert before <= int(row[14]) <= time.time() * 1000
    assert row[15] == "01:30:00"


def test_a_bad_value_and_a_refused_row_are_dead_letters_and_the_rest_is_stored(
    postgres, mosquitto, site
):
    postgres.sql("CREATE TABLE counts (n int CHECK (n >= 0), at timestamptz)")
    insert = SqlEvent(
        name="Count",
        source="count",
        sql="INSERT INTO counts (n, at) VALUES ($1, $2)",
        parameters=(SqlParameter(("payload",)), SqlParameter(("timestamp",))),
    )
    site(_route(postgres, insert))
    with mosquitto.collect("lot/pg/deadletter/Store") as letters:
        for payload in (b"1", b"two", b"-3", b"4", b"5.5", b"6"):
            mosquitto.publish("count", payload)
        found = letters.wait_for(3)
    assert _wait(postgres, "SELECT n FROM counts", 3) == [["1"], ["4"], ["6"]]
    reasons = {
        json.loads(m.payload)["payload"]: json.loads(m.payload)["reason"] for m in found
    }
    assert reasons["two"].startswith("$1: not a valid int4")
    assert reasons["5.5"] == "$1: not a whole number for int4"
    assert reasons["-3"].startswith("CheckViolationError")


def test_clean_creates_the_table_and_new_columns(postgres, mosquitto, site):
    clean = CleanEvent(name="Clean", source="clean/+", table="samples")
    site(_route(postgres, clean))
    mosquitto.publish(
        "clean/a",
        json.dumps({"n": 1, "x": 2.5, "ok": True, "doc": {"k": 1}, "s": "o'brien"}),
    )
    mosquitto.publish("clean/a", json.dumps({"n": 2, "added": "later"}))
    mosquitto.publish("clean/a", b"[1, 2]")
    rows = _wait(postgres, "SELECT n, x, ok, doc, s, added FROM samples ORDER BY n", 2)
    assert rows == [
        ["1", "2.5", "t", '{"k": 1}', "o'brien", ""],
        ["2", "", "", "", "", "later"],
    ]
    types = postgres.sql(
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_name = 'samples' ORDER BY ordinal_position"
    )
    assert types == [
        ["n", "bigint"],
        ["x", "double precision"],
        ["ok", "boolean"],
        ["doc", "jsonb"],
        ["s", "text"],
        ["added", "text"],
    ]


def test_select_rows_are_published_as_a_json_array(postgres, mosquitto, site):
    postgres.sql(
        "CREATE TABLE limits (pump text, high numeric, at timestamptz);"
        "INSERT INTO limits VALUES ('p-7', 12.5, '2026-04-02 07:45:12+00'),"
        " ('p-7', 13, '2026-04-03 00:00:00+00')"
    )
    ask = SqlEvent(
        name="Ask",
        source="ask/+",
        sql="SELECT high, at FROM limits WHERE pump = $1 ORDER BY at",
        parameters=(SqlParameter(("topic.2",)),),
        destination="answer/{topic.2}",
    )
    site(_route(postgres, ask))
    with mosquitto.collect("answer/#") as seen:
        mosquitto.publish("ask/p-7", b"")
        mosquitto.publish("ask/p-9", b"")
        first, second = seen.wait_for(2)
    assert first.topic == "answer/p-7"
    assert json.loads(first.payload) == [
        {"high": 12.5, "at": "2026-04-02T07:45:12+00:00"},
        {"high": 13, "at": "2026-04-03T00:00:00+00:00"},
    ]
    assert (second.topic, second.payload) == ("answer/p-9", b"[]")


def test_a_missing_table_is_an_error_status_and_nothing_is_lost(
    postgres, mosquitto, site
):
    insert = SqlEvent(
        name="Keep",
        source="late",
        sql="INSERT INTO late_table (v) VALUES ($1)",
        parameters=(SqlParameter(("payload",)),),
    )
    status = "lot/pg/routes/Store/status"
    with mosquitto.collect(status) as states:
        site(_route(postgres, insert, password=Secret("TOKEN"), schema=Env("LINE")))
        mosquitto.publish("late", b"kept")
        states.wait_until(lambda ms: ms and ms[-1].payload.startswith(b"error"), 10)
        postgres.sql(
            'CREATE SCHEMA "line-7"; CREATE TABLE "line-7".late_table (v text)'
        )
        assert _wait(postgres, 'SELECT v FROM "line-7".late_table', 1) == [["kept"]]
        states.wait_until(lambda ms: ms[-1].payload == b"connected", 10)
    said = [m.payload.decode() for m in states.messages]
    error = 'error: UndefinedTableError: relation "late_table" does not exist'
    assert said[said.index(error) + 1 :][-1:] == ["connected"]
