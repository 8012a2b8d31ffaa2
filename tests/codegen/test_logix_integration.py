"""An ALLEN_BRADLEY site built by lotc and run as a process against a real
EtherNet/IP controller (cpppo's Logix simulator): tags appear on their
topics and follow the controller, an action reacts to one of them, and a
command on a writable tag's topic reaches the controller.

The shared corpus has no Allen-Bradley program, so that site is written here
in the shape of the LoT reference's example (3.3.12).  The corpus's
ETHERNETIP program (Logix tags by name) runs against the same controller.
"""

from __future__ import annotations

import pytest
from support.logix import LogixSimulator
from support.site_process import SiteProcess

from lotc import cli

SITE = """
DEFINE ROUTE CasePacker WITH TYPE ALLEN_BRADLEY
    ADD ALLEN_BRADLEY_CONFIG
        WITH IP "127.0.0.1"
        WITH PORT {port}
        WITH DEVICE_FAMILY 0
        WITH SLOT 0
    ADD MAPPING Packaging
        WITH EVERY 200 MILLISECONDS
        WITH SOURCE_TOPIC "packer"
        ADD TAG CaseCount
            WITH ADDRESS "CaseCount"
            WITH DATA_TYPE "DINT"
            WITH PUBLISH_MODE "ON_CHANGE"
        ADD TAG BeltSpeed
            WITH ADDRESS "BeltSpeed"
            WITH DATA_TYPE "REAL"
            WITH WRITABLE true
        ADD TAG Recipe
            WITH ADDRESS "Recipe"
            WITH DATA_TYPE "STRING"

DEFINE ACTION CountBatches
ON TOPIC "packer/CaseCount" DO
    IF PAYLOAD AS INT >= 100 THEN
        PUBLISH TOPIC "packer/batch" WITH "full"
"""


@pytest.fixture
def plc():
    tags = ("CaseCount=DINT", "BeltSpeed=REAL", "Recipe=SSTRING")
    with LogixSimulator(*tags) as simulator:
        yield simulator


def _build(tmp_path, port: int, text: str | None = None):
    site = tmp_path / "src"
    site.mkdir()
    (site / "site.toml").write_text('[site]\nname = "packaging"\n')
    (site / "site.lot").write_text(text or SITE.format(port=port))
    tree = tmp_path / "tree"
    status = cli.main(
        ["build", str(site), "-o", str(tmp_path / "dist"), "--emit", str(tree)]
    )
    assert status == cli.EXIT_OK
    return tree


def test_a_built_site_reads_writes_and_reacts_to_a_logix_controller(
    tmp_path, mosquitto, plc
):
    plc.set("CaseCount", 41)
    plc.set("BeltSpeed", 1.25)
    plc.set("Recipe", "cereal")
    tree = _build(tmp_path, plc.port)
    process = SiteProcess(tree, "packaging", mosquitto, log=tmp_path / "site.log")
    process.start()
    try:
        with mosquitto.collect("packer/#") as seen:
            wanted = {
                ("packer/CaseCount", b"41"),
                ("packer/BeltSpeed", b"1.25"),
                ("packer/Recipe", b"cereal"),
            }
            found = seen.wait_until(
                lambda ms: wanted <= {(m.topic, m.payload) for m in ms}, 20
            )
            assert wanted <= {(m.topic, m.payload) for m in found}, process.output()
            plc.set("CaseCount", 100)
            reacted = {("packer/CaseCount", b"100"), ("packer/batch", b"full")}
            found = seen.wait_until(
                lambda ms: reacted <= {(m.topic, m.payload) for m in ms}, 5
            )
            assert reacted <= {(m.topic, m.payload) for m in found}, process.output()
            mosquitto.publish("packer/BeltSpeed/set", b"0.8")
            confirmed = ("packer/BeltSpeed", b"0.8")
            found = seen.wait_until(
                lambda ms: confirmed in {(m.topic, m.payload) for m in ms}, 5
            )
            assert plc.get("BeltSpeed") == pytest.approx(0.8), process.output()
        # ON_CHANGE: the count was published once per value, not per poll.
        counts = [m.payload for m in found if m.topic == "packer/CaseCount"]
        assert counts == [b"41", b"100"], counts
    finally:
        process.stop()


ETHERNET_IP = "CorefluxCommunity__coreflux-cursor-plugin/lot-routes__ABController.lot"


def test_the_corpus_ethernet_ip_program_reads_the_controller(
    tmp_path, corpus, mosquitto
):
    with LogixSimulator("Motor_Speed=REAL", "Line_Running=BOOL") as plc:
        plc.set("Motor_Speed", 1450.5)
        plc.set("Line_Running", True)
        lot = (corpus / ETHERNET_IP).read_text()
        assert 'WITH IP "192.168.1.75"' in lot
        lot = lot.replace(
            'WITH IP "192.168.1.75"',
            f'WITH IP "127.0.0.1"\n        WITH PORT {plc.port}',
        )
        tree = _build(tmp_path, plc.port, lot)
        process = SiteProcess(tree, "packaging", mosquitto, log=tmp_path / "site.log")
        process.start()
        try:
            with mosquitto.collect("ab/read/#") as seen:
                wanted = {
                    ("ab/read/MotorSpeed", b"1450.5"),
                    ("ab/read/LineRunning", b"true"),
                }
                found = seen.wait_until(
                    lambda ms: wanted <= {(m.topic, m.payload) for m in ms}, 20
                )
                assert wanted <= {(m.topic, m.payload) for m in found}, process.output()
                plc.set("Line_Running", False)
                stopped = ("ab/read/LineRunning", b"false")
                found = seen.wait_until(
                    lambda ms: stopped in {(m.topic, m.payload) for m in ms}, 5
                )
                assert stopped in {(m.topic, m.payload) for m in found}
        finally:
            process.stop()
