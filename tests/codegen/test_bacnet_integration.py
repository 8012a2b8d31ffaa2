"""A BACnet route from the shared corpus, built by lotc and run as a process
against a real BACnet/IP device: the room temperature and set-point reach
their topics, and a command on the set-point's DESTINATION_TOPIC is written
to the device and read back.

The corpus program is used as written except for the device's address: the
simulator listens on 127.0.0.1 and a free UDP port instead of
192.168.1.50:47808, and its device instance is the program's 1234.
"""

from __future__ import annotations

import pytest
from support.bacnet import BacnetSimulator
from support.site_process import SiteProcess

from lotc import cli

PROGRAM = "CorefluxCommunity__coreflux-cursor-plugin/lot-routes__BMS.lot"


@pytest.fixture
def device():
    with BacnetSimulator() as simulator:
        yield simulator


def _build(tmp_path, corpus, port: int):
    lot = (corpus / PROGRAM).read_text()
    assert 'WITH IP "192.168.1.50"' in lot and "WITH PORT 47808" in lot
    assert "WITH DEVICE_ID 1234" in lot
    lot = lot.replace('WITH IP "192.168.1.50"', 'WITH IP "127.0.0.1"')
    lot = lot.replace("WITH PORT 47808", f"WITH PORT {port}")
    site = tmp_path / "src"
    site.mkdir()
    (site / "site.toml").write_text('[site]\nname = "bms"\n')
    (site / "site.lot").write_text(lot)
    tree = tmp_path / "tree"
    status = cli.main(
        ["build", str(site), "-o", str(tmp_path / "dist"), "--emit", str(tree)]
    )
    assert status == cli.EXIT_OK
    return tree


def test_the_corpus_bacnet_route_reads_and_writes_the_device(
    tmp_path, corpus, mosquitto, device
):
    device.set("analog-input", 0, 21.5)
    device.set("analog-value", 0, 20.0)
    tree = _build(tmp_path, corpus, device.port)
    process = SiteProcess(tree, "bms", mosquitto, log=tmp_path / "site.log").start()
    try:
        with mosquitto.collect("bacnet/bms/#") as seen:
            wanted = {
                ("bacnet/bms/RoomTemp", b"21.5"),
                ("bacnet/bms/Setpoint", b"20"),
            }
            found = seen.wait_until(
                lambda ms: wanted <= {(m.topic, m.payload) for m in ms}, 15
            )
            assert wanted <= {(m.topic, m.payload) for m in found}, process.output()
            mosquitto.publish("bacnet/bms/setpoint/write", b"22.5")
            found = seen.wait_until(
                lambda ms: (
                    ("bacnet/bms/Setpoint", b"22.5")
                    in {(m.topic, m.payload) for m in ms}
                ),
                5,
            )
            assert ("bacnet/bms/Setpoint", b"22.5") in {
                (m.topic, m.payload) for m in found
            }, process.output()
        assert device.get("analog-value", 0) == 22.5
    finally:
        process.stop()
