"""Lowering of MYSQL and MARIADB routes: the SQL routes' lowering with the
driver's ``%s`` markers and every percent sign of the SQL doubled."""

from __future__ import annotations

from helpers import source

from lotc.codegen.routes.postgres import lower_mysql
from lotc.compile import check_sources

ROUTE = """
DEFINE ROUTE Archive WITH TYPE {kind}
    ADD SQL_CONFIG
        WITH SERVER "db.apiary.lan"
        WITH DATABASE "apiary"
        WITH PASSWORD GET SECRET "APIARY_PASS"
    ADD EVENT Store
        WITH SOURCE_TOPIC "hive/+/weight"
        WITH QUERY "INSERT INTO w VALUES ('{{topic.2}}', {{payload.json.kg}})"
    ADD EVENT Note
        WITH SOURCE_TOPIC "hive/+/note"
        WITH QUERY "INSERT INTO n VALUES ('at {{timestamp}}')"
    ADD EVENT Find
        WITH SOURCE_TOPIC "hive/find"
        WITH DESTINATION_TOPIC "hive/found"
        WITH QUERY "SELECT hive FROM w WHERE note LIKE '%{{payload}}%' AND kg > 100 % 7"
    ADD EVENT Keep
        WITH SOURCE_TOPIC "hive/+/raw"
        WITH QUERY "CLEAN:{{table: raw, data: {{value.json}}}}"
"""


def _lower(kind: str):
    text = ROUTE.format(kind=kind)
    checked = check_sources([source(text)], route_checks=False)
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    [route] = checked.site.routes.values()
    return lower_mysql(route, checked.site)


def test_mysql_and_mariadb_build_to_the_mysql_route():
    for kind in ("MYSQL", "MARIADB"):
        view, problems = _lower(kind)
        assert problems == []
        assert view.route_type == kind
        assert view.extras == ["mysql"]
        text = view.constructor
        assert text.startswith("MysqlRoute(")
        assert "sql='INSERT INTO w VALUES (%s, %s)'" in text
        assert "sql='INSERT INTO n VALUES (%s)'" in text
        assert "SqlParameter(('timestamp',), template='at {}')" in text
        # The SQL's own % doubled; the LIKE pattern's % is in the bound value.
        assert "sql='SELECT hive FROM w WHERE note LIKE %s AND kg > 100 %% 7'" in text
        assert "SqlParameter(('payload',), template='%{}%')" in text
        assert "CleanEvent(" in text and "table='raw'" in text
        assert view.imports == [
            "from lot_runtime.routes import Secret",
            "from lot_runtime.routes.mysql import "
            "CleanEvent, MysqlRoute, SqlEvent, SqlParameter",
        ]
        assert view.writes == ["hive/found"]
