"""Lowering of FILE_STORAGE routes: settings as written, one event per CLEAN
or APPEND query, older mapping, and STORE in another route of the site."""

from __future__ import annotations

from helpers import source

from lotc.codegen.routes.files import lower_files
from lotc.compile import check_sources

SITE = """
DEFINE ROUTE Archive WITH TYPE FILE_STORAGE
    ADD FILE_STORAGE_CONFIG
        WITH STORAGE_DIR GET ENV "ARCHIVE_DIR"
        WITH FORMAT "json"
        WITH FILE_PATTERN "{0}-{date}.json"
        WITH APPEND true
        WITH MAX_RECORDS 500
    ADD EVENT Readings
        WITH SOURCE_TOPIC "plant/+/reading"
        WITH QUERY "CLEAN:{table: readings, data: {payload.json.value}}"
    ADD MAPPING Alarms
        WITH TOPIC "plant/+/alarm"
        WITH TABLE_NAME "alarms"
    ADD EVENT Lines
        WITH SOURCE_TOPIC "plant/+/log"
        WITH QUERY "APPEND {topic.2}.log {timestamp} {payload}"
    ADD EVENT Whole
        WITH SOURCE_TOPIC "plant/+/state"

DEFINE ROUTE Uplink WITH TYPE MQTT_BRIDGE
    ADD SOURCE_CONFIG
        WITH BROKER_ADDRESS "sensors.local"
    ADD DESTINATION_CONFIG
        WITH BROKER SELF
    ADD MAPPING Sensors
        WITH SOURCE_TOPIC "sensors/+/data"
        WITH DESTINATION_TOPIC "remote/sensors/+/data"
        WITH DIRECTION "out"
    STORE Archive WITH TABLE_NAME "remote"
"""


def _lower(text: str):
    checked = check_sources([source(text)], route_checks=False)
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    return lower_files(checked.site.routes["Archive"], checked.site)


def test_every_way_of_storing_becomes_an_event():
    view, problems = _lower(SITE)
    assert problems == []
    text = view.constructor
    assert "folder=Env('ARCHIVE_DIR')" in text
    assert "pattern='{0}-{date}.json'" in text
    assert "fmt='JSON'" in text and "append=True" in text and "max_records=500" in text
    events = text[text.index("events=(") :]
    assert events.index("name='Readings'") < events.index("name='Alarms'")
    assert events.index("name='Alarms'") < events.index("name='Lines'")
    assert (
        "StoreEvent(name='Readings', source='plant/+/reading', table='readings', "
        "data='payload.json.value')"
    ) in text
    assert "StoreEvent(name='Alarms', source='plant/+/alarm', table='alarms')" in text
    assert (
        "AppendEvent(name='Lines', source='plant/+/log', file='{topic.2}.log', "
        "line='{timestamp} {payload}')"
    ) in text
    assert "StoreEvent(name='Whole', source='plant/+/state', table='Whole')" in text
    assert (
        "StoreEvent(name='Uplink.remote', source='remote/sensors/+/data', "
        "table='remote')"
    ) in text
    assert view.reads == [
        "plant/+/alarm",
        "plant/+/log",
        "plant/+/reading",
        "plant/+/state",
        "remote/sensors/+/data",
    ]
    assert view.extras == []


def test_a_query_that_stores_nothing_is_an_error():
    text = """
DEFINE ROUTE Archive WITH TYPE FILE_STORAGE
    ADD FILE_STORAGE_CONFIG
        WITH STORAGE_DIR "/data"
    ADD EVENT Odd
        WITH SOURCE_TOPIC "a/b"
        WITH QUERY "INSERT INTO t VALUES ({payload})"
"""
    view, problems = _lower(text)
    [problem] = problems
    assert problem.code == "LOT206"
    assert "not something a FILE_STORAGE route can store" in problem.message
    assert "Odd" not in view.constructor


def test_a_store_from_a_route_that_brings_nothing_in_is_a_warning():
    text = """
DEFINE ROUTE Archive WITH TYPE FILE_STORAGE
    ADD FILE_STORAGE_CONFIG
        WITH STORAGE_DIR "/data"

DEFINE ROUTE Uplink WITH TYPE MQTT_BRIDGE
    ADD SOURCE_CONFIG
        WITH BROKER_ADDRESS "sensors.local"
    ADD DESTINATION_CONFIG
        WITH BROKER SELF
    ADD MAPPING Sensors
        WITH SOURCE_TOPIC "sensors/+/data"
        WITH DESTINATION_TOPIC "remote/sensors/+/data"
        WITH DIRECTION "in"
    STORE Archive WITH TABLE_NAME "remote"
"""
    view, problems = _lower(text)
    [problem] = problems
    assert problem.code == "LOT313"
    assert not problem.is_error
    assert "route `Uplink` STOREs into it but publishes nothing" in problem.message
    assert problem.span.line == 14  # the STORE line
    assert "events=(\n    )" in view.constructor
