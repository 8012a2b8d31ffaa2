"""A MARIADB site built by lotc and run as a process against a real MariaDB
server: the LoT reference's own example (3.3.9), a CLEAN event that creates
its table and a SELECT whose rows come back on a topic, with the password
from the site's secrets.  The corpus has no MySQL program."""

from __future__ import annotations

import json

from support.mariadb import MariaDB
from support.site_process import SiteProcess

from lotc import cli

SITE = """
DEFINE ROUTE HiveScaleArchive WITH TYPE MARIADB
    ADD SQL_CONFIG
        WITH SERVER "127.0.0.1"
        WITH PORT {port}
        WITH DATABASE "lot"
        WITH USERNAME GET ENV "APIARY_USER"
        WITH PASSWORD GET SECRET "APIARY_PASS"
    ADD EVENT StoreWeight
        WITH SOURCE_TOPIC "apiary/hive/+/weight"
        WITH QUERY "CLEAN:{{table: hive_weights, data: {{value.json}}}}"
    ADD EVENT LastWeights
        WITH SOURCE_TOPIC "apiary/query/last"
        WITH DESTINATION_TOPIC "apiary/query/last/result"
        WITH QUERY "SELECT hive, kg FROM hive_weights ORDER BY id DESC LIMIT 10"
"""


def test_the_reference_mariadb_example_stores_and_answers(tmp_path, mosquitto):
    with MariaDB() as server:
        site = tmp_path / "src"
        site.mkdir()
        (site / "site.toml").write_text('[site]\nname = "apiary"\n')
        (site / "site.lot").write_text(SITE.format(port=server.port))
        tree = tmp_path / "tree"
        status = cli.main(
            ["build", str(site), "-o", str(tmp_path / "dist"), "--emit", str(tree)]
        )
        assert status == cli.EXIT_OK
        process = SiteProcess(
            tree,
            "apiary",
            mosquitto,
            log=tmp_path / "site.log",
            env={
                "APIARY_USER": server.user,
                "LOT_SECRET_APIARY_PASS": server.password,
                "LOT_STATE_DIR": str(tmp_path / "state"),
            },
        ).start()
        try:
            process.wait_online("apiary")
            with mosquitto.collect("apiary/query/last/result") as seen:
                mosquitto.publish("apiary/hive/1/weight", b'{"hive": 1, "kg": 31.5}')
                mosquitto.publish("apiary/hive/2/weight", b'{"hive": 2, "kg": 29.0}')
                mosquitto.publish("apiary/query/last", b"")
                [answer] = seen.wait_for(1, timeout=15)
        finally:
            process.stop()
        stored = server.sql("SELECT hive, kg FROM hive_weights ORDER BY id")
    assert stored == [["1", "31.5"], ["2", "29"]], process.output()
    assert json.loads(answer.payload) == [
        {"hive": 2, "kg": 29.0},
        {"hive": 1, "kg": 31.5},
    ]
