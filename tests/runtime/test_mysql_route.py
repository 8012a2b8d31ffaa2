"""The MYSQL/MARIADB route against a real MariaDB server and a real
Mosquitto: bound values of every kind, the CLEAN form creating tables and
columns, SELECT rows published, rows refused for their data dead-lettered,
and a missing table or a server restart ridden out without losing a row."""

from __future__ import annotations

import json
import time

import aiomysql
import pytest
from lot_runtime import Site
from lot_runtime.routes import Secret
from lot_runtime.routes.mysql import (
    CleanEvent,
    MysqlRoute,
    SqlEvent,
    SqlParameter,
    connect_arguments,
)
from support.mariadb import MariaDB

from .sites import RunningSite


@pytest.fixture(scope="module")
def mariadb():
    with MariaDB() as server:
        yield server


def _route(server, *events, **settings) -> MysqlRoute:
    return MysqlRoute(
        name="Db",
        events=events,
        server=server.host,
        port=server.port,
        database=server.database,
        username=server.user,
        password=Secret("DB_PASSWORD"),
        **settings,
    )


def _run(tmp_path, mosquitto, server, route, name="db"):
    site = Site(name=name, routes=(route,), secrets=("DB_PASSWORD",))
    environ = {
        "LOT_STATE_DIR": str(tmp_path / "state"),
        "LOT_SECRET_DB_PASSWORD": server.password,
    }
    return RunningSite(site, mosquitto.url, environ=environ)


def _until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def test_values_are_bound_as_read(tmp_path, mosquitto, mariadb):
    mariadb.sql(
        "CREATE TABLE readings (line VARCHAR(20), sensor VARCHAR(20), "
        "celsius DOUBLE, ok BOOLEAN, note TEXT, at DATETIME(3), label TEXT)"
    )
    event = SqlEvent(
        name="Store",
        source="plant/+/+/reading",
        sql="INSERT INTO readings VALUES (%s, %s, %s, %s, %s, %s, %s)",
        parameters=(
            SqlParameter(("topic.2",)),
            SqlParameter(("topic.3",)),
            SqlParameter(("payload.json.celsius",)),
            SqlParameter(("payload.json.ok",)),
            SqlParameter(("payload.json.note",)),
            SqlParameter(("timestamp",)),
            SqlParameter(("topic.2", "topic.3"), template="{}-{}"),
        ),
    )
    route = _route(mariadb, event)
    with _run(tmp_path, mosquitto, mariadb, route):
        payload = {"celsius": 21.5, "ok": True, "note": "it's 100% \\ fine"}
        mosquitto.publish("plant/l1/t7/reading", json.dumps(payload).encode())
        _until(lambda: route.sent == 1)
    [row] = mariadb.sql("SELECT line, sensor, celsius, ok, note, label FROM readings")
    assert row == ["l1", "t7", "21.5", "1", "it's 100% \\\\ fine", "l1-t7"]
    [[at]] = mariadb.sql("SELECT at FROM readings")
    assert at.startswith("20") and len(at) == 23


def test_clean_creates_the_table_and_new_columns(tmp_path, mosquitto, mariadb):
    event = CleanEvent(name="Keep", source="hive/+/weight", table="hive_weights")
    route = _route(mariadb, event)
    with _run(tmp_path, mosquitto, mariadb, route):
        mosquitto.publish("hive/1/weight", b'{"hive": 1, "kg": 31.5}')
        mosquitto.publish("hive/2/weight", b'{"hive": 2, "kg": 29, "meta": {"a": [1]}}')
        _until(lambda: route.sent == 2)
    rows = mariadb.sql("SELECT id, hive, kg, meta FROM hive_weights ORDER BY id")
    assert rows == [["1", "1", "31.5", "NULL"], ["2", "2", "29", '{"a":[1]}']]
    types = dict(
        mariadb.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'hive_weights'"
        )
    )
    assert types["kg"] == "double" and types["hive"] == "bigint"


def test_a_clean_table_dropped_behind_the_route_is_made_again(
    tmp_path, mosquitto, mariadb
):
    event = CleanEvent(name="Keep", source="again/+", table="again")
    route = _route(mariadb, event)
    with _run(tmp_path, mosquitto, mariadb, route, name="again"):
        mosquitto.publish("again/1", b'{"n": 1}')
        _until(lambda: route.sent == 1)
        mariadb.sql("DROP TABLE again")
        mosquitto.publish("again/2", b'{"n": 2, "m": "x"}')
        _until(lambda: route.sent == 2, 20)
    assert mariadb.sql("SELECT n, m FROM again") == [["2", "x"]]


def test_select_rows_are_published(tmp_path, mosquitto, mariadb):
    mariadb.sql(
        "CREATE TABLE recipes (name VARCHAR(20), minutes INT, price DECIMAL(6,2)); "
        "INSERT INTO recipes VALUES ('bread', 40, 2.50), ('cake', 55, 9.99)"
    )
    event = SqlEvent(
        name="Find",
        source="recipes/ask",
        sql="SELECT name, minutes, price FROM recipes WHERE minutes > %s ORDER BY name",
        parameters=(SqlParameter(("payload",)),),
        destination="recipes/found",
    )
    route = _route(mariadb, event)
    with mosquitto.collect("recipes/found") as seen:
        with _run(tmp_path, mosquitto, mariadb, route):
            mosquitto.publish("recipes/ask", b"30")
            mosquitto.publish("recipes/ask", b"50")
            seen.wait_for(2)
    assert [json.loads(p) for p in seen.payloads("recipes/found")] == [
        [
            {"name": "bread", "minutes": 40, "price": 2.5},
            {"name": "cake", "minutes": 55, "price": 9.99},
        ],
        [{"name": "cake", "minutes": 55, "price": 9.99}],
    ]


def test_waiting_inserts_go_in_one_multi_row_insert(
    tmp_path, mosquitto, mariadb, monkeypatch
):
    calls: list[int] = []
    original = aiomysql.Cursor.executemany

    async def counted(self, query, args):
        calls.append(len(args))
        return await original(self, query, args)

    monkeypatch.setattr(aiomysql.Cursor, "executemany", counted)
    event = SqlEvent(
        name="Many",
        source="many/+",
        sql="INSERT INTO many_rows (n) VALUES (%s)",
        parameters=(SqlParameter(("payload",)),),
    )
    route = _route(mariadb, event)
    status = "lot/many/routes/Db/status"
    with mosquitto.collect(status) as seen:
        with _run(tmp_path, mosquitto, mariadb, route, name="many"):
            for number in range(40):
                mosquitto.publish(f"many/{number}", str(number).encode())
            seen.wait_until(
                lambda ms: any(m.payload.startswith(b"buffering") for m in ms), 10
            )
            mariadb.sql("CREATE TABLE many_rows (n INT)")
            _until(lambda: route.sent == 40, 20)
    stored = sorted(int(r[0]) for r in mariadb.sql("SELECT n FROM many_rows"))
    assert stored == list(range(40))
    # The rows that waited went together: far fewer calls than rows.
    assert sum(calls) >= 40 and len(calls) <= 10, calls


def test_rows_refused_for_their_data_are_dead_letters(tmp_path, mosquitto, mariadb):
    mariadb.sql("CREATE TABLE counts (id INT PRIMARY KEY, n TINYINT NOT NULL)")
    event = SqlEvent(
        name="Count",
        source="c/+",
        sql="INSERT INTO counts VALUES (%s, %s)",
        parameters=(SqlParameter(("topic.2",)), SqlParameter(("payload",))),
    )
    nan_event = SqlEvent(
        name="Nan",
        source="nan/1",
        sql="INSERT INTO counts VALUES (5, %s)",
        parameters=(SqlParameter(("payload.json.n",)),),
    )
    route = _route(mariadb, event, nan_event)
    with mosquitto.collect("lot/dead/deadletter/#") as seen:
        with _run(tmp_path, mosquitto, mariadb, route, name="dead"):
            mosquitto.publish("c/1", b"5")
            mosquitto.publish("c/1", b"6")  # duplicate key
            mosquitto.publish("c/2", b"300")  # beyond TINYINT
            mosquitto.publish("c/3", b"many")  # not a number
            mosquitto.publish("nan/1", b'{"n": NaN}')  # JSON as Python reads it
            mosquitto.publish("c/4", b"7")
            seen.wait_for(4)
            _until(lambda: route.sent == 2)
    assert mariadb.sql("SELECT id, n FROM counts ORDER BY id") == [
        ["1", "5"],
        ["4", "7"],
    ]
    reasons = " | ".join(
        json.loads(p)["reason"] for p in seen.payloads("lot/dead/deadletter/Db")
    )
    for expected in (
        "Duplicate entry",
        "Out of range",
        "Incorrect integer value",
        "nan is not a number MySQL can store",
    ):
        assert expected in reasons, reasons


def test_a_missing_table_and_a_restart_lose_nothing(tmp_path, mosquitto, mariadb):
    event = SqlEvent(
        name="Log",
        source="log/+",
        sql="INSERT INTO later (n) VALUES (%s)",
        parameters=(SqlParameter(("payload",)),),
    )
    route = _route(mariadb, event)
    status = "lot/later/routes/Db/status"
    with mosquitto.collect(status) as seen:
        with _run(tmp_path, mosquitto, mariadb, route, name="later"):
            for number in range(5):
                mosquitto.publish(f"log/{number}", str(number).encode())
            seen.wait_until(
                lambda ms: any(m.payload.startswith(b"buffering") for m in ms), 10
            )
            mariadb.sql("CREATE TABLE later (n INT)")
            _until(lambda: route.sent == 5, 20)
            mariadb.stop()
            for number in range(5, 10):
                mosquitto.publish(f"log/{number}", str(number).encode())
            time.sleep(1)
            mariadb.start()
            _until(lambda: route.sent == 10, 40)
    assert sorted(int(r[0]) for r in mariadb.sql("SELECT n FROM later")) == list(
        range(10)
    )


def test_connection_settings_and_strings():
    uri = connect_arguments(
        {
            "connection_string": "mysql://u%40x:p%3Bw@db.lan:3307/plant"
            "?ssl-mode=REQUIRED"
        },
        timeout=5,
    )
    assert (uri["host"], uri["port"], uri["user"], uri["password"], uri["db"]) == (
        "db.lan",
        3307,
        "u@x",
        "p;w",
        "plant",
    )
    assert "ssl" in uri
    pairs = connect_arguments(
        {
            "connection_string": "Server=db.lan;Port=3308;Database=a;Uid=u;Pwd=p",
            "database": "b",
        },
        timeout=5,
    )
    assert (pairs["host"], pairs["port"], pairs["db"], pairs["user"]) == (
        "db.lan",
        3308,
        "b",
        "u",
    )
    plain = connect_arguments({"server": "db.lan:3309"}, timeout=5)
    assert (plain["host"], plain["port"], plain["db"], "ssl" in plain) == (
        "db.lan",
        3309,
        None,
        False,
    )
