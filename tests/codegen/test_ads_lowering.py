"""Lowering of ADS routes: PLC symbols pass through as addresses; net ids,
symbols and types the PLC would refuse are errors at build time."""

from __future__ import annotations

import pytest
from helpers import source

from lotc.codegen.routes.ads import lower_ads
from lotc.compile import check_sources

ROUTE = """
DEFINE ROUTE Press WITH TYPE ADS
    ADD ADS_CONFIG
        WITH TARGET_NET_ID "{net_id}"
{config}
    ADD MAPPING Cycle
        WITH EVERY 100 MILLISECONDS
        WITH SOURCE_TOPIC "tc"
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


def _lower(*tags: str, config: str = "", net_id: str = "10.1.2.3.1.1"):
    text = ROUTE.format(net_id=net_id, config=config, tags="\n".join(tags))
    checked = check_sources([source(text)], route_checks=False)
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    [route] = checked.site.routes.values()
    return lower_ads(route, checked.site)


def test_symbols_types_and_settings_reach_the_route():
    view, problems = _lower(
        _tag("Velocity", "MAIN.Velocity", "LREAL"),
        _tag("Count", "GVL.Line[2].Count", "UINT32", "WITH WRITABLE true"),
        _tag("Global", ".gCounter", "WORD"),
        _tag("Recipe", "MAIN.Recipe", "STRING", "WITH LENGTH 40"),
        config='        WITH TARGET_IP "10.1.2.30"\n        WITH TARGET_PORT 852\n'
        "        WITH TIMEOUT 1500",
    )
    assert problems == []
    text = view.constructor
    assert "net_id='10.1.2.3.1.1', host='10.1.2.30', ams_port=852, timeout=1.5" in text
    assert "address='MAIN.Velocity', topic='tc/Velocity', data_type='LREAL'" in text
    assert "address='GVL.Line[2].Count', topic='tc/Count', data_type='UDINT'" in text
    assert "writable=True, command_topic='tc/Count/set'" in text
    assert "address='.gCounter', topic='tc/Global', data_type='WORD'" in text
    assert "data_type='STRING', length=40" in text
    assert view.extras == ["ads"]


@pytest.mark.parametrize(
    ("address", "data_type", "code", "message"),
    [
        ("MAIN Velocity", "LREAL", "LOT410", "not a PLC symbol"),
        ("MAIN..Velocity", "LREAL", "LOT410", "not a PLC symbol"),
        ("%MW10", "INT", "LOT410", "not a PLC symbol"),
        ("MAIN.Velocity", "DATETIME", "LOT412", "not an IEC 61131-3"),
    ],
)
def test_a_variable_the_plc_would_refuse_is_an_error(address, data_type, code, message):
    _, problems = _lower(_tag("Bad", address, data_type))
    [problem] = problems
    assert problem.code == code
    assert message in problem.message, problem.message


def test_net_ids_route_keys_and_duplicates_are_errors():
    _, problems = _lower(
        _tag("A", "MAIN.Velocity", "LREAL"),
        _tag("B", "main.velocity", "LREAL"),
        config='        WITH USERNAME "Administrator"',
        net_id="10.1.2.300.1.1",
    )
    assert sorted((p.code, p.message) for p in problems) == [
        ("LOT206", "`TARGET_NET_ID` `10.1.2.300.1.1` is not an AMS net id"),
        (
            "LOT403",
            "`USERNAME` (adding an ADS route on the PLC; add it with TwinCAT's own "
            "tools) is not supported by the Python back end yet",
        ),
        ("LOT411", "tag `B` overlaps tag `A` at PLC variable `main.velocity`"),
    ]
