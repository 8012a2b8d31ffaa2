"""Lowering of BACNET routes: object addresses in every accepted spelling
become BACnet object types and instances; an object a device cannot have, a
data type its present value cannot hold, a second tag on one object and a
writable input are errors at build time."""

from __future__ import annotations

import pytest
from helpers import source

from lotc.codegen.routes.bacnet import lower_bacnet
from lotc.compile import check_sources

ROUTE = """
DEFINE ROUTE Bms WITH TYPE BACNET
    ADD BACNET_CONFIG
        WITH IP "10.50.0.20"
        WITH DEVICE_ID 1234
    ADD MAPPING Rooms
        WITH SOURCE_TOPIC "bms"
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
    return lower_bacnet(route, checked.site)


def test_object_addresses_in_every_spelling():
    view, problems = _lower(
        _tag("Temp", "AI:0", "FLOAT"),
        _tag("Fan", "binary-value:1", "BOOL", "WITH WRITABLE true"),
        _tag(
            "Mode",
            "multiStateValue,3",
            "UINT",
            "WITH PRIORITY 10",
            "WITH WRITABLE true",
        ),
        _tag("Valve", "ANALOG_OUTPUT:7", "REAL"),
    )
    assert problems == []
    text = view.constructor
    assert "host='10.50.0.20', port=47808, device_id=1234" in text
    assert "object_type='analog-input', instance=0, topic='bms/Temp'" in text
    assert "object_type='binary-value', instance=1, topic='bms/Fan'" in text
    assert "command_topic='bms/Fan/set'" in text
    assert "object_type='multi-state-value', instance=3" in text
    assert "priority=10" in text
    assert "object_type='analog-output', instance=7" in text
    assert view.extras == ["bacnet"]
    assert view.reads == ["bms/Fan/set", "bms/Mode/set"]


@pytest.mark.parametrize(
    ("address", "data_type", "code", "message"),
    [
        ("AI0", "FLOAT", "LOT410", "not a BACnet object"),
        ("XY:3", "FLOAT", "LOT410", "not a BACnet object"),
        ("AV:4194303", "FLOAT", "LOT410", "beyond BACnet's last"),
        ("BV:1", "FLOAT", "LOT412", "binary-value is BOOL, not FLOAT"),
        ("AI:1", "BOOL", "LOT412", "analog-input is a number, not BOOL"),
        ("MSV:1", "STRING", "LOT412", "a state number, not STRING"),
    ],
)
def test_an_object_the_device_cannot_have_is_an_error(
    address, data_type, code, message
):
    _, problems = _lower(_tag("Bad", address, data_type))
    [problem] = problems
    assert problem.code == code
    assert message in problem.message, problem.message


def test_a_second_tag_on_one_object_and_a_writable_input_are_errors():
    _, problems = _lower(
        _tag("A", "AV:1", "FLOAT"),
        _tag("B", "analog-value:1", "FLOAT"),
        _tag("C", "BI:2", "BOOL", "WITH WRITABLE true"),
    )
    problems.sort(key=lambda p: (p.span.line, p.span.column))
    assert [(p.code, p.message) for p in problems] == [
        ("LOT411", "tag `B` overlaps tag `A` at analog-value 1"),
        (
            "LOT413",
            "tag `C` is WRITABLE, but the present value of binary-input 2 "
            "cannot be written",
        ),
    ]
