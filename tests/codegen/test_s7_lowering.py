"""Lowering of SIEMENS_S7 routes: S7 addresses become areas, blocks, bytes
and bits; every address a PLC would refuse is an error at build time, with
the address to write instead."""

from __future__ import annotations

import pytest
from helpers import source

from lotc.codegen.routes.s7 import lower_s7
from lotc.compile import check_sources

ROUTE = """
DEFINE ROUTE Press WITH TYPE SIEMENS_S7
    ADD S7_CONFIG
        WITH IP "10.30.1.40"
        WITH PORT 1102
    ADD MAPPING Cycle
        WITH EVERY 500 MILLISECONDS
        WITH SOURCE_TOPIC "press"
{tags}
"""


def _tag(name: str, address: str, data_type: str, *extra: str) -> str:
    lines = [
        f"        ADD TAG {name}",
        f'            WITH ADDRESS "{address}"',
        f'            WITH DATA_TYPE "{data_type}"',
        *(f"            {line}" for line in extra),
    ]
    return "\n".join(lines)


def _lower(*tags: str):
    checked = check_sources(
        [source(ROUTE.format(tags="\n".join(tags)))], route_checks=False
    )
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    [route] = checked.site.routes.values()
    return lower_s7(route, checked.site)


def test_addresses_become_areas_blocks_bytes_and_bits():
    view, problems = _lower(
        _tag("Tonnage", "DB12.DBD8", "REAL"),
        _tag("Ready", "%DB12.DBX12.3", "BOOL", "WITH WRITABLE true"),
        _tag("Label", "DB12.DBB20", "STRING", "WITH LENGTH 16"),
        _tag("Energy", "DB3.DBB0", "LREAL"),
        _tag("Count", "MW10", "INT"),
        _tag("Door", "E0.1", "BOOL"),
        _tag("Speed", "QD4", "FLOAT32", "WITH SCALING 0.1"),
    )
    assert problems == []
    text = view.constructor
    assert "host='10.30.1.40', port=1102" in text
    assert "S7Tag(name='Tonnage', db=12, start=8, data_type='REAL', " in text
    assert "db=12, start=12, bit=3, data_type='BOOL', topic='press/Ready'" in text
    assert "command_topic='press/Ready/set'" in text
    assert "start=20, data_type='STRING', length=16, topic='press/Label'" in text
    assert "db=3, start=0, data_type='LREAL', topic='press/Energy'" in text
    assert "area='M', start=10, data_type='INT', topic='press/Count'" in text
    assert "area='I', start=0, bit=1, data_type='BOOL', topic='press/Door'" in text
    assert (
        "area='Q', start=4, data_type='REAL', topic='press/Speed', every=0.5, " in text
    )
    assert "scaling=0.1" in text
    assert view.extras == ["s7"]
    assert view.reads == ["press/Ready/set"]


@pytest.mark.parametrize(
    ("address", "data_type", "code", "message", "hint"),
    [
        ("DB1.DBW", "INT", "LOT410", "not an S7 address", "DB1.DBW0"),
        ("DB0.DBW2", "INT", "LOT410", "data blocks are 1-65535", None),
        ("DB1.DBX2.8", "BOOL", "LOT410", "a byte has bits 0-7", None),
        ("DB1.DBW65535", "INT", "LOT410", "runs past byte 65535", None),
        ("DB1.DBW4", "BOOL", "LOT412", "a BOOL is one bit", "`DB1.DBX4.0`"),
        ("MW4", "BOOL", "LOT412", "a BOOL is one bit", "`M4.0`"),
        ("DB1.DBW4", "REAL", "LOT412", "REAL takes 4 bytes", "`DB1.DBD4`"),
        ("DB1.DBD4", "LREAL", "LOT412", "addressed by its first byte", "`DB1.DBB4`"),
        ("DB1.DBX4.0", "INT", "LOT412", "is a bit", "`DB1.DBW4`"),
        ("DB1.DBW4", "TIME", "LOT412", "not an S7 data type", None),
    ],
)
def test_an_address_the_plc_would_refuse_is_an_error(
    address, data_type, code, message, hint
):
    _, problems = _lower(_tag("Bad", address, data_type))
    [problem] = problems
    assert problem.code == code
    assert message in problem.message, problem.message
    if hint is not None:
        assert hint in (problem.help or ""), problem.help


def test_two_tags_on_the_same_bytes_overlap_but_two_bits_do_not():
    _, problems = _lower(
        _tag("A", "DB1.DBD0", "DINT"),
        _tag("B", "DB1.DBW2", "INT"),
        _tag("C", "DB1.DBX8.0", "BOOL"),
        _tag("D", "DB1.DBX8.1", "BOOL"),
        _tag("E", "DB1.DBX8.1", "BOOL"),
        _tag("F", "DB2.DBW2", "INT"),
    )
    assert [(p.code, p.message) for p in problems] == [
        ("LOT411", "tag `B` overlaps tag `A` at DB1 byte 2"),
        ("LOT411", "tag `E` overlaps tag `D` at DB1 byte 8"),
    ]


def test_a_writable_input_is_refused():
    _, problems = _lower(_tag("Door", "I0.1", "BOOL", "WITH WRITABLE true"))
    [problem] = problems
    assert problem.code == "LOT413"
    assert "an input cannot be written" in problem.message


def test_a_logo_is_not_built_yet():
    text = ROUTE.replace(
        "WITH PORT 1102", 'WITH PORT 1102\n        WITH CPU_TYPE "LOGO"'
    ).format(tags=_tag("Count", "MW10", "INT"))
    checked = check_sources([source(text)], route_checks=False)
    [route] = checked.site.routes.values()
    _, problems = lower_s7(route, checked.site)
    [problem] = problems
    assert problem.code == "LOT403"
    assert "LOGO" in problem.message
