"""Lowering of ALLEN_BRADLEY routes: Logix tag names pass through as the
controller's own addresses; names, types, routes and device families the
controller or the driver would refuse are errors at build time."""

from __future__ import annotations

import pytest
from helpers import source

from lotc.codegen.routes.logix import lower_logix
from lotc.compile import check_sources

ROUTE = """
DEFINE ROUTE Packer WITH TYPE ALLEN_BRADLEY
    ADD ALLEN_BRADLEY_CONFIG
        WITH IP "10.40.0.20"
{config}
    ADD MAPPING Cell
        WITH EVERY 250 MILLISECONDS
        WITH SOURCE_TOPIC "packer"
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


def _lower(*tags: str, config: str = ""):
    text = ROUTE.format(config=config, tags="\n".join(tags))
    checked = check_sources([source(text)], route_checks=False)
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    [route] = checked.site.routes.values()
    return lower_logix(route, checked.site)


def test_tag_names_types_and_settings_reach_the_route():
    view, problems = _lower(
        _tag("Count", "Program:Packaging.CaseCount", "DINT"),
        _tag("Speed", "Line.Speed", "FLOAT", "WITH SCALING 0.1", "WITH WRITABLE true"),
        _tag("Zone", "Temps[3]", "INT16"),
        _tag("Cell", "Grid[1,2]", "UINT"),
        _tag("Jam", "Status.3", "BOOL"),
        _tag("Recipe", "Recipe.Name", "STRING", "WITH LENGTH 40"),
        config="        WITH SLOT 2\n        WITH TIMEOUT 1500",
    )
    assert problems == []
    text = view.constructor
    assert "host='10.40.0.20', port=44818, slot=2, timeout=1.5" in text
    assert (
        "LogixTag(name='Count', address='Program:Packaging.CaseCount', "
        "topic='packer/Count', data_type='DINT', every=0.25)" in text
    )
    assert "address='Line.Speed', topic='packer/Speed', data_type='REAL'" in text
    assert "scaling=0.1, writable=True, command_topic='packer/Speed/set'" in text
    assert "address='Temps[3]', topic='packer/Zone', data_type='INT'" in text
    assert "address='Grid[1,2]', topic='packer/Cell', data_type='UINT'" in text
    assert "address='Status.3', topic='packer/Jam', data_type='BOOL'" in text
    assert "data_type='STRING', length=40" in text
    assert "micro800" not in text
    assert view.extras == ["logix"]
    assert view.reads == ["packer/Speed/set"]
    assert view.route_class == "LogixRoute"


def test_a_micro800_and_a_routing_path_are_passed_on():
    view, problems = _lower(
        _tag("Count", "CaseCount", "DINT"),
        config='        WITH DEVICE_FAMILY 4\n        WITH PATH "1,0,2,10.0.0.5,1,3"',
    )
    assert problems == []
    assert "path='1,0,2,10.0.0.5,1,3'" in view.constructor
    assert "micro800=True" in view.constructor


@pytest.mark.parametrize(
    ("address", "data_type", "code", "message"),
    [
        ("Case Count", "DINT", "LOT410", "not a Logix tag name"),
        ("3rdShift", "DINT", "LOT410", "not a Logix tag name"),
        ("Temps[]", "INT", "LOT410", "not a Logix tag name"),
        ("Program:.Count", "DINT", "LOT410", "not a Logix tag name"),
        ("A" * 41, "DINT", "LOT410", "longer than Logix's 40 characters"),
        ("Status.64", "BOOL", "LOT410", "bits 0-63"),
        ("Status.3", "DINT", "LOT412", "read as BOOL, not DINT"),
        ("Count", "WORD", "LOT412", "not a Logix data type"),
        ("Count", "DATETIME", "LOT412", "not a Logix data type"),
    ],
)
def test_a_tag_the_controller_would_refuse_is_an_error(
    address, data_type, code, message
):
    _, problems = _lower(_tag("Bad", address, data_type))
    [problem] = problems
    assert problem.code == code
    assert message in problem.message, problem.message
    assert problem.help


def test_two_tags_on_one_controller_tag_are_an_error_whatever_the_case():
    _, problems = _lower(
        _tag("A", "Line.Speed", "REAL"),
        _tag("B", "LINE.speed", "REAL"),
        _tag("C", "Line.Speed2", "REAL"),
    )
    assert [(p.code, p.message) for p in problems] == [
        ("LOT411", "tag `B` overlaps tag `A` at controller tag `LINE.speed`"),
    ]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("1", "1 parts, not pairs"),
        ("0,1", "`0` is not a port"),
        ("1,300", "not a slot or node"),
        ("2,plc.local", "neither a slot number nor an IPv4 address"),
    ],
)
def test_a_path_that_is_not_a_cip_route_is_an_error(path, reason):
    _, problems = _lower(
        _tag("Count", "CaseCount", "DINT"), config=f'        WITH PATH "{path}"'
    )
    [problem] = problems
    assert problem.code == "LOT206"
    assert reason in problem.message, problem.message


def test_a_plc5_is_not_built():
    _, problems = _lower(
        _tag("Count", "CaseCount", "DINT"), config="        WITH DEVICE_FAMILY 1"
    )
    [problem] = problems
    assert problem.code == "LOT403"
    assert "PLC-5" in problem.message


ETHERNET_IP = """
DEFINE ROUTE Line WITH TYPE ETHERNETIP
    ADD ETHERNETIP_CONFIG
        WITH IP "10.40.0.21"
        WITH POLLING_MS 400
        WITH READ_WRITE_TIMEOUT 1500
    ADD MAPPING Fast
        WITH EVERY 100 MILLISECONDS
        ADD TAG Speed
            WITH ADDRESS "Motor_Speed"
            WITH DATA_TYPE "REAL"
    ADD MAPPING Default
        ADD TAG Running
            WITH ADDRESS "Line_Running"
            WITH DATA_TYPE "BOOL"
        ADD TAG Vendor
            WITH ADDRESS "1.1.1"
            WITH DATA_TYPE "UINT"
"""


def test_ethernet_ip_reads_logix_tags_polling_at_its_own_default():
    checked = check_sources([source(ETHERNET_IP)], route_checks=False)
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    [route] = checked.site.routes.values()
    view, problems = lower_logix(route, checked.site)
    text = view.constructor
    assert "host='10.40.0.21', port=44818, slot=0, timeout=1.5" in text
    assert (
        "address='Motor_Speed', topic='Line/Fast/Speed', data_type='REAL', "
        "every=0.1" in text
    )
    assert (
        "address='Line_Running', topic='Line/Default/Running', "
        "data_type='BOOL', every=0.4" in text
    )
    assert (
        "LogixTag(name='Vendor', address='1.1.1', attribute=(1, 1, 1), "
        "topic='Line/Default/Vendor', data_type='UINT', every=0.4)"
    ) in text
    assert problems == []
    assert view.route_type == "ETHERNETIP"


@pytest.mark.parametrize(
    ("address", "extra", "code", "message"),
    [
        ("0.1.1", (), "LOT410", "names class 0; a CIP class is 1-65535"),
        ("1.70000.1", (), "LOT410", "instance 70000; a CIP instance is 0-65535"),
        ("1.1.300", (), "LOT410", "attribute 300; a CIP attribute is 1-255"),
        ("1.1.7", ("WITH WRITABLE true",), "LOT403", "writing the CIP object"),
    ],
)
def test_attributes_the_device_cannot_have_are_errors(address, extra, code, message):
    _, problems = _lower(_tag("Attr", address, "UINT", *extra))
    [problem] = problems
    assert problem.code == code
    assert message in problem.message, problem.message
