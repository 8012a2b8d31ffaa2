"""An S7 route from the shared corpus, built by lotc and run as a process
against a real S7 server: the REAL, INT and BOOL of data block 1 appear on
the mapping's topics, and follow the PLC when its memory changes.

The corpus program is used as written except for the PLC's address: the
simulator listens on 127.0.0.1 and a free port instead of 192.168.1.50:102.
"""

from __future__ import annotations

import struct

import pytest
from support.s7 import S7Simulator
from support.site_process import SiteProcess

from lotc import cli

PROGRAM = "CorefluxCommunity__coreflux-cursor-plugin/lot-routes__S7PLC.lot"


@pytest.fixture
def plc():
    with S7Simulator() as simulator:
        yield simulator


def _build(tmp_path, corpus, port: int):
    lot = (corpus / PROGRAM).read_text()
    assert 'WITH IP "192.168.1.50"' in lot
    lot = lot.replace(
        'WITH IP "192.168.1.50"', f'WITH IP "127.0.0.1"\n        WITH PORT {port}'
    )
    site = tmp_path / "src"
    site.mkdir()
    (site / "site.toml").write_text('[site]\nname = "press-line"\n')
    (site / "site.lot").write_text(lot)
    tree = tmp_path / "tree"
    status = cli.main(
        ["build", str(site), "-o", str(tmp_path / "dist"), "--emit", str(tree)]
    )
    assert status == cli.EXIT_OK
    return tree


def test_the_corpus_s7_route_publishes_the_plc_memory(tmp_path, corpus, mosquitto, plc):
    plc.write("DB", 1, 0, struct.pack(">f", 1450.5))  # Speed, DB1.DBD0
    plc.write("DB", 1, 4, struct.pack(">h", -12))  # Count, DB1.DBW4
    plc.write("DB", 1, 8, bytes([1]))  # Enable, DB1.DBX8.0
    tree = _build(tmp_path, corpus, plc.port)
    process = SiteProcess(
        tree, "press_line", mosquitto, log=tmp_path / "site.log"
    ).start()
    try:
        with mosquitto.collect("s7/read/#") as seen:
            wanted = {
                ("s7/read/Speed", b"1450.5"),
                ("s7/read/Count", b"-12"),
                ("s7/read/Enable", b"true"),
            }
            found = seen.wait_until(
                lambda ms: wanted <= {(m.topic, m.payload) for m in ms}, 15
            )
            assert wanted <= {(m.topic, m.payload) for m in found}, process.output()
            plc.write("DB", 1, 4, struct.pack(">h", 300))
            plc.write("DB", 1, 8, bytes([0]))
            changed = {("s7/read/Count", b"300"), ("s7/read/Enable", b"false")}
            found = seen.wait_until(
                lambda ms: changed <= {(m.topic, m.payload) for m in ms}, 3
            )
            assert changed <= {(m.topic, m.payload) for m in found}
    finally:
        process.stop()
