"""Lowering of POSTGRESQL / TIMESCALEDB routes: the generated route module
holds the query as $n SQL with its placeholders, CLEAN as its own event, and
the settings the source wrote; it imports and builds a PostgresRoute."""

from __future__ import annotations

import importlib
import sys
import textwrap

from lot_runtime.routes import Env, Secret
from lot_runtime.routes.postgres import CleanEvent, SqlEvent, SqlParameter

from lotc import cli

SITE = """\
    DEFINE ROUTE Archive WITH TYPE TIMESCALEDB
        ADD SQL_CONFIG
            WITH SERVER "db.example"
            WITH PORT '5433'
            WITH USERNAME GET ENV "DB_USER"
            WITH PASSWORD GET SECRET "DB_PASSWORD"
            WITH USE_SSL "true"
        ADD EVENT Keep
            WITH SOURCE_TOPIC "plant/+/reading"
            WITH QUERY "@KEEP@"
        ADD EVENT Tidy
            WITH SOURCE_TOPIC "plant/+/clean"
            WITH QUERY "CLEAN:{table: tidy, data: {value.json}}"
        ADD EVENT Ask
            WITH SOURCE_TOPIC "ask/+"
            WITH QUERY "SELECT v FROM readings WHERE line = '{topic.2}'"
            WITH DESTINATION_TOPIC "answer/{topic.2}"
""".replace(
    "@KEEP@",
    "INSERT INTO readings (line, at, v) VALUES ('line-{topic.2}', '{timestamp}',"
    " {value.json.v}) ON CONFLICT DO NOTHING",
)


def test_the_route_module_builds_the_route_it_was_written_as(tmp_path, monkeypatch):
    source = tmp_path / "src"
    source.mkdir()
    (source / "site.toml").write_text('[site]\nname = "plant-db"\n')
    (source / "site.lot").write_text(textwrap.dedent(SITE))
    tree = tmp_path / "tree"
    status = cli.main(
        ["build", str(source), "-o", str(tmp_path / "dist"), "--emit", str(tree)]
    )
    assert status == cli.EXIT_OK

    monkeypatch.syspath_prepend(str(tree))
    module = importlib.import_module("plant_db.routes.archive")
    route = module.ROUTE
    try:
        assert route.name == "Archive"
        assert route.filters == ("plant/+/reading", "plant/+/clean", "ask/+")
        assert route.settings["server"] == "db.example"
        assert route.settings["port"] == 5433
        assert route.settings["username"] == Env("DB_USER")
        assert route.settings["password"] == Secret("DB_PASSWORD")
        assert route.settings["use_ssl"] is True
        assert route.settings["database"] is None  # the runtime's default
        keep, tidy, ask = route.events
        assert keep == SqlEvent(
            name="Keep",
            source="plant/+/reading",
            sql="INSERT INTO readings (line, at, v) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            parameters=(
                SqlParameter(("topic.2",), template="line-{}"),
                SqlParameter(("timestamp",)),
                SqlParameter(("value.json.v",)),
            ),
        )
        assert tidy == CleanEvent(
            name="Tidy", source="plant/+/clean", table="tidy", data="value.json"
        )
        assert ask.destination == "answer/{topic.2}"
        assert ask.sql == "SELECT v FROM readings WHERE line = $1"
    finally:
        for name in [n for n in sys.modules if n.startswith("plant_db")]:
            del sys.modules[name]

    manifest = (tree / "plant_db" / "manifest.json").read_text()
    assert '"postgres"' in manifest
