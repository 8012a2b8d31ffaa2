"""The ADS route of the shared corpus (TwinCatPLC), built by lotc and run as
a process against a real ADS server (pyads's test server): the PLC's
velocity appears on the mapping's topic and follows the PLC.

The program is used as written except for the AMS net id: 127.0.0.1.1.1,
from which the route takes the PLC's address, instead of
192.168.1.100.1.1."""

from __future__ import annotations

import pytest
from support.ads import AdsSimulator
from support.site_process import SiteProcess

from lotc import cli

PROGRAM = "CorefluxCommunity__coreflux-cursor-plugin/lot-routes__TwinCatPLC.lot"


@pytest.fixture
def plc():
    with AdsSimulator(("MAIN.Velocity", "LREAL")) as simulator:
        yield simulator


def test_the_corpus_ads_route_publishes_the_plc_variable(
    tmp_path, corpus, mosquitto, plc
):
    lot = (corpus / PROGRAM).read_text()
    assert '"192.168.1.100.1.1"' in lot
    site = tmp_path / "src"
    site.mkdir()
    (site / "site.toml").write_text('[site]\nname = "press"\n')
    (site / "site.lot").write_text(lot.replace("192.168.1.100.1.1", plc.net_id))
    tree = tmp_path / "tree"
    status = cli.main(
        ["build", str(site), "-o", str(tmp_path / "dist"), "--emit", str(tree)]
    )
    assert status == cli.EXIT_OK
    plc.set("MAIN.Velocity", 1450.5)
    process = SiteProcess(tree, "press", mosquitto, log=tmp_path / "site.log").start()
    try:
        with mosquitto.collect("tc/read/#") as seen:
            wanted = ("tc/read/Velocity", b"1450.5")
            found = seen.wait_until(
                lambda ms: wanted in {(m.topic, m.payload) for m in ms}, 20
            )
            assert wanted in {(m.topic, m.payload) for m in found}, process.output()
            plc.set("MAIN.Velocity", -3.25)
            changed = ("tc/read/Velocity", b"-3.25")
            found = seen.wait_until(
                lambda ms: changed in {(m.topic, m.payload) for m in ms}, 5
            )
            assert changed in {(m.topic, m.payload) for m in found}
    finally:
        process.stop()
