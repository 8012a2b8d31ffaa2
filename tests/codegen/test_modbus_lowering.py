"""Lowering of Modbus STRING tags: their registers come from the address
range, else from LENGTH, else the default; a range and a LENGTH that
disagree are an error at build time."""

from __future__ import annotations

import pytest
from helpers import source

from lotc.codegen.routes.modbus import STRING_REGISTERS, lower_modbus
from lotc.compile import check_sources

ROUTE = """
DEFINE ROUTE Chiller WITH TYPE MODBUS_TCP
    ADD MODBUS_CONFIG
        WITH HOST "10.20.0.15"
    ADD MAPPING Loop
        ADD TAG Label
            WITH ADDRESS "{address}"
            WITH DATA_TYPE "STRING"
{extra}
"""


def _lower(address: str, extra: str = ""):
    text = ROUTE.format(address=address, extra=f"            {extra}" if extra else "")
    checked = check_sources([source(text)], route_checks=False)
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    [route] = checked.site.routes.values()
    return lower_modbus(route, checked.site)


@pytest.mark.parametrize(
    ("address", "extra", "registers"),
    [
        ("40100", "", STRING_REGISTERS),
        ("40100-40104", "", 5),
        ("40100", "WITH LENGTH 9", 5),
        ("40100", "WITH LENGTH 40", 20),
        ("40100-40104", "WITH LENGTH 10", 5),
    ],
)
def test_a_string_takes_its_range_else_its_length(address, extra, registers):
    view, problems = _lower(address, extra)
    assert problems == []
    assert f"length={registers}," in view.constructor


def test_a_range_and_a_length_that_disagree_are_an_error():
    _, problems = _lower("40100-40104", "WITH LENGTH 20")
    [problem] = problems
    assert problem.code == "LOT412"
    assert "LENGTH 20 takes 10 registers, but the address spans 5" in problem.message
