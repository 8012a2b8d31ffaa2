"""Route, model and rule configuration: the schemas and their checks."""

from __future__ import annotations

import pytest
from conftest import CORPUS, REPO
from helpers import diagnostics, only_entity

from lotc.compile import check
from lotc.frontend import ast
from lotc.frontend.route_schemas import ROUTE_TYPES, Default, resolve_settings
from lotc.frontend.schemas import route_schema

OWN_CODES = {f"LOT2{n:02d}" for n in range(1, 16)} | {"LOT304", "LOT305", "LOT306"}


def own(text: str) -> list[tuple[str, int, int]]:
    """(code, line, column) of this module's diagnostics for text."""
    return [
        (d.code, d.span.line, d.span.column)
        for d in diagnostics(text)
        if d.code in OWN_CODES
    ]


SQL_HEAD = """
DEFINE ROUTE LineDb WITH TYPE POSTGRESQL
    ADD SQL_CONFIG
        WITH SERVER "db.plant.local"
"""

# --------------------------------------------------------------- failures

FAILING = [
    (
        "LOT202",
        1,
        31,
        "DEFINE ROUTE LineDb WITH TYPE POSTGRES\n    ADD SQL_CONFIG\n"
        '        WITH SERVER "db"\n',
    ),
    (
        "LOT203",
        4,
        9,
        SQL_HEAD + '    ADD MODBUS_CONFIG\n        WITH HOST "10.0.0.5"\n',
    ),
    ("LOT204", 4, 14, SQL_HEAD + '        WITH DATABSE "line"\n'),
    (
        "LOT205",
        2,
        5,
        "DEFINE ROUTE Plc WITH TYPE MODBUS_TCP\n    ADD MODBUS_CONFIG\n"
        "        WITH PORT 502\n",
    ),
    ("LOT206", 4, 19, SQL_HEAD + '        WITH PORT "abc"\n'),
    ("LOT206", 4, 19, SQL_HEAD + "        WITH PORT 70000\n"),
    ("LOT206", 4, 22, SQL_HEAD + '        WITH USE_SSL "maybe"\n'),
    ("LOT207", 4, 23, SQL_HEAD + '        WITH PASSWORD "hunter2"\n'),
    (
        "LOT207",
        4,
        32,
        SQL_HEAD + '        WITH CONNECTION_STRING "postgres://u:pw@db/line"\n',
    ),
    ("LOT208", 4, 14, SQL_HEAD + '        WITH HOST "db2.plant.local"\n'),
    (
        "LOT209",
        1,
        14,
        "DEFINE ROUTE LineDb WITH TYPE POSTGRESQL\n    ADD EVENT E\n"
        '        WITH SOURCE_TOPIC "a/b"\n        WITH QUERY "SELECT 1"\n',
    ),
    (
        "LOT210",
        7,
        15,
        SQL_HEAD
        + '    ADD EVENT E\n        WITH SOURCE_TOPIC "a"\n'
        + '        WITH QUERY "SELECT 1"\n'
        + '    ADD EVENT E\n        WITH SOURCE_TOPIC "b"\n'
        + '        WITH QUERY "SELECT 2"\n',
    ),
    ("LOT211", 1, 37, "DEFINE RULE R WITH PRIORITY 150 FOR Subscrbe DENY\n"),
    (
        "LOT212",
        2,
        17,
        "DEFINE RULE R WITH PRIORITY 150 FOR Publish\n"
        "    IF USER HAS AllowedUserManagment THEN\n        ALLOW\n"
        "    ELSE\n        DENY\n",
    ),
    ("LOT213", 1, 29, "DEFINE RULE R WITH PRIORITY 50 FOR Publish DENY\n"),
    (
        "LOT214",
        1,
        26,
        'DEFINE MODEL M COLLAPSED COLLAPSED\n    ADD STRING "a"\n',
    ),
    ("LOT215", 1, 13, "DEFINE RULE R WITH PRIORITY 150 DENY\n"),
    (
        "LOT304",
        6,
        28,
        SQL_HEAD + '    ADD EVENT E\n        WITH SOURCE_TOPIC "a/+"\n'
        '        WITH QUERY "SELECT {paylod}"\n',
    ),
    (
        "LOT305",
        6,
        28,
        SQL_HEAD + '    ADD EVENT E\n        WITH SOURCE_TOPIC "a/+"\n'
        '        WITH QUERY "SELECT {topic.3}"\n',
    ),
    (
        "LOT306",
        6,
        33,
        SQL_HEAD + '    ADD EVENT E\n        WITH SOURCE_TOPIC "a/+"\n'
        '        WITH QUERY "DELETE FROM {topic.2}"\n',
    ),
]


@pytest.mark.parametrize(
    ("code", "line", "column", "text"),
    FAILING,
    ids=[f"{case[0]}-{index}" for index, case in enumerate(FAILING)],
)
def test_failing_example_reports_its_code_at_its_place(code, line, column, text):
    assert (code, line, column) in own(text.lstrip("\n")), own(text.lstrip("\n"))


def test_direction_outside_its_choices_is_reported_with_the_choices():
    text = """
    DEFINE ROUTE B WITH TYPE MQTT_BRIDGE
        ADD SOURCE_CONFIG
            WITH BROKER SELF
        ADD DESTINATION_CONFIG
            WITH BROKER_ADDRESS "hq"
        ADD MAPPING m
            WITH SOURCE_TOPIC "a/#"
            WITH DESTINATION_TOPIC "b/#"
            WITH DIRECTION "sideways"
    """
    [problem] = [d for d in diagnostics(text) if d.code == "LOT206"]
    assert "`in`, `out`, `both`" in problem.message
    assert problem.span.line == 9


def test_unknown_type_suggests_a_close_type():
    [problem] = diagnostics("DEFINE ROUTE P WITH TYPE SIEMENS_S8\n")
    assert problem.help == "did you mean `SIEMENS_S7`?"


def test_duplicate_through_an_alias_names_both_spellings():
    text = """
    DEFINE ROUTE P WITH TYPE MODBUS_TCP
        ADD MODBUS_CONFIG
            WITH HOST "10.0.0.1"
            WITH IP "10.0.0.2"
    """
    [problem] = [d for d in diagnostics(text) if d.code == "LOT208"]
    assert problem.notes == ("`IP` is another name for `HOST`",)
    assert problem.labels[0].span.line == 3


def test_tag_names_repeat_only_within_one_mapping():
    text = """
    DEFINE ROUTE P WITH TYPE MODBUS_TCP
        ADD MODBUS_CONFIG
            WITH HOST "10.0.0.1"
        ADD MAPPING a
            ADD TAG t
                WITH ADDRESS "1"
                WITH DATA_TYPE "INT16"
            ADD TAG t
                WITH ADDRESS "2"
                WITH DATA_TYPE "INT16"
        ADD MAPPING b
            ADD TAG t
                WITH ADDRESS "3"
                WITH DATA_TYPE "INT16"
    """
    assert own(text) == [("LOT210", 8, 17)]


def test_tag_needs_address_and_data_type():
    text = """
    DEFINE ROUTE P WITH TYPE OPCUA
        ADD OPCUA_CONFIG
            WITH ENDPOINT_URL "opc.tcp://10.0.0.9:4840"
        ADD MAPPING a
            ADD TAG t
                WITH SOURCE_TOPIC "a/t"
    """
    assert [c for c, *_ in own(text)] == ["LOT205", "LOT205"]


def test_user_permissions_of_ones_own_are_fine():
    text = """
    DEFINE RULE R WITH PRIORITY 150 FOR Subscribe
        IF USER HAS "AllowedSubscribe" OR USER HAS HvacTechnician THEN
            ALLOW
        ELSE
            DENY
    """
    assert own(text) == []


@pytest.mark.parametrize(
    "scope",
    ["Connect", "PublishSys", "UserManagementPasswordChange", "RouteManagementStop"],
)
def test_documented_scopes_are_known(scope):
    assert own(f"DEFINE RULE R WITH PRIORITY 150 FOR {scope} DENY\n") == []


# --------------------------------------------------------------- accepted


ACCEPTED = {
    "quoted numbers and booleans": """
        DEFINE ROUTE B WITH TYPE MQTT_BRIDGE
            ADD SOURCE_CONFIG
                WITH BROKER SELF
            ADD DESTINATION_CONFIG
                WITH BROKER_ADDRESS GET ENV "HQ"
                WITH BROKER_PORT '8883'
                WITH USE_TLS "true"
                WITH RECONNECTION_RETRIES "10"
            ADD MAPPING up
                WITH SOURCE_TOPIC "a/#"
                WITH DESTINATION_TOPIC "hq/a/#"
                WITH DIRECTION "OUT"
    """,
    "values from the environment are not checked": """
        DEFINE ROUTE P WITH TYPE MODBUS_TCP
            ADD MODBUS_CONFIG
                WITH HOST GET ENV "PLC"
                WITH PORT GET ENV "PLC_PORT"
    """,
    "settings directly in the route fill its config block": """
        DEFINE ROUTE P WITH TYPE MODBUS
            WITH HOST "10.0.0.1"
            WITH UNIT_ID 3
            ADD MAPPING flow
                WITH REGISTER '40011'
                WITH DATA_TYPE "FLOAT32"
                WITH DESTINATION_TOPIC "plant/flow"
    """,
    "serial Modbus with the plugin spellings": """
        DEFINE ROUTE P WITH TYPE MODBUS_SERIAL
            ADD MODBUS_CONFIG
                WITH PORT "COM3"
                WITH PARITY "None"
                WITH STOP_BITS 1
    """,
    "legacy e-mail mapping and broker block": """
        DEFINE ROUTE M WITH TYPE EMAIL
            ADD MQTT_CONFIG
                WITH BROKER SELF
            ADD SMTP_CONFIG
                WITH SERVER "smtp.example"
            ADD MAPPING warn
                WITH SOURCE_TOPIC "a/+/warning"
                WITH TEMPLATE_PATH "/t/warning.html"
                WITH SUBJECT "Warning {value.json.device}"
                WITH TO "{value.json.email}"
    """,
    "open route types take any key": """
        DEFINE ROUTE K WITH TYPE KAFKA
            ADD KAFKA_CONFIG
                WITH BOOTSTRAP_SERVERS "k:9092"
            ADD EVENT e
                WITH TOPIC_NAME "x"
    """,
    "a clean query and a file pattern": """
        DEFINE ROUTE F WITH TYPE FILE_STORAGE
            ADD FILE_STORAGE_CONFIG
                WITH STORAGE_DIR "/data"
                WITH FILE_PATTERN "rain_{0}_{date}.json"
            ADD EVENT keep
                WITH SOURCE_TOPIC "rain/#"
                WITH QUERY "CLEAN:{table: rain, data: {value.json}}"
    """,
    "a deep topic level under #": """
        DEFINE ROUTE D WITH TYPE POSTGRESQL
            ADD SQL_CONFIG
                WITH SERVER "db"
            ADD EVENT keep
                WITH SOURCE_TOPIC "a/#"
                WITH QUERY "INSERT INTO t (x) VALUES ('{topic.7}')"
    """,
    "a bare MCP route": "DEFINE ROUTE Mcp WITH TYPE MCP\n",
}


@pytest.mark.parametrize("text", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted_forms_check_clean(text):
    assert own(text) == []


@pytest.mark.parametrize(
    "example", sorted(p.name for p in (REPO / "examples").iterdir() if p.is_dir())
)
def test_example_sites_check_clean(example):
    # Each example folder is a site of its own: they share entity names.
    site = check([str(REPO / "examples" / example)])
    assert [(d.code, d.span.file, d.span.line) for d in site.diagnostics] == []


# Corpus files (valid or legacy) whose routes are wrong in a way lotc now sees.
CORPUS_FINDINGS = {
    # `{status}` and `{part_id}` are action variables, not route placeholders
    "traceability-system__TraceabilityDB.lot": {"LOT304"},
}


def _accepted_route_files():
    """Corpus files with routes that the corpus expects to be accepted."""
    from test_corpus import ROWS

    accepted = {row[0] for row in ROWS if row[1] in ("valid", "legacy")}
    return sorted(
        CORPUS / name
        for name in accepted
        if "DEFINE ROUTE" in (CORPUS / name).read_text(errors="replace")
    )


@pytest.mark.parametrize("path", _accepted_route_files(), ids=lambda p: p.name)
def test_valid_corpus_routes_check_clean(path):
    errors = {
        d.code
        for d in check([str(path)]).diagnostics
        if d.code in OWN_CODES and d.is_error
    }
    assert errors == CORPUS_FINDINGS.get(path.name, set())


# --------------------------------------------------------------- the API


def test_every_catalogued_type_has_a_schema():
    for name in (
        "MQTT_BRIDGE MQTT_CLUSTER EMAIL REST_API POSTGRESQL TIMESCALEDB MYSQL "
        "MARIADB SQLSERVER MONGODB OPENSEARCH FILE_STORAGE KAFKA CRATEDB SNOWFLAKE "
        "MODBUS_TCP MODBUS MODBUS_SERIAL SIEMENS_S7 S7 OPCUA ADS ALLEN_BRADLEY "
        "ETHERNETIP FINS BACNET MCP AGENT LLM BARCODE VIDEO_INPUT VIDEO_OUTPUT"
    ).split():
        assert name in ROUTE_TYPES
        assert route_schema(name) is not None


def test_aliases_lead_to_one_schema():
    assert route_schema("S7") == route_schema("SIEMENS_S7")
    modbus = route_schema("MODBUS").block("MODBUS_CONFIG")
    assert modbus.key("UNIT_ID").name == "SLAVE_ID"
    assert modbus.key("IP").name == "HOST"
    sql = route_schema("POSTGRESQL").block("POSTGRESQL_CONFIG")
    assert sql.kind == "SQL_CONFIG" and sql.key("HOST").name == "SERVER"
    assert route_schema("NOPE") is None


def test_resolve_settings_answers_in_canonical_keys_with_defaults():
    route = only_entity(
        """
        DEFINE ROUTE Boiler WITH TYPE MODBUS
            ADD MODBUS_CONFIG
                WITH IP GET ENV "BOILER_HOST"
                WITH UNIT_ID '3'
        """
    )
    settings = resolve_settings(route, "MODBUS_CONFIG")
    assert settings["HOST"] == ast.SettingValue(
        settings["HOST"].span, "env", "BOILER_HOST"
    )
    assert settings["SLAVE_ID"].text == "3"
    assert settings["PORT"] == Default(502)
    assert settings["READ_TIMEOUT"] == Default(1000)


def test_resolve_settings_reads_alias_blocks():
    route = only_entity(
        """
        DEFINE ROUTE PlantDb WITH TYPE POSTGRESQL
            ADD POSTGRESQL_CONFIG
                WITH HOST "db"
        """
    )
    settings = resolve_settings(route, "SQL_CONFIG")
    assert settings["SERVER"].text == "db"
    assert settings["PORT"] == Default(5432)
