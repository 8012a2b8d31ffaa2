"""Deployment 1 of CANONICAL.md, all four entities, built by lotc and run as a
process against a real pymodbus device, a real Mosquitto and a real
PostgreSQL that the test starts: a FLOAT32 written at holding register 10
(Modicon 40011) appears on the mapping's DESTINATION_TOPIC within one poll
period, is normalised, shaped by the model and lands in the table.

``examples/boiler-gateway`` is CANONICAL.md's LoT as written; the test
changes only the device's port, as the simulator listens on a free port.
"""

from __future__ import annotations

import struct
import time

import pytest
from conftest import REPO
from support.modbus import ModbusSimulator
from support.site_process import SiteProcess

from lotc import cli

EXAMPLE = REPO / "examples" / "boiler-gateway"
SCHEMA = """
    CREATE TABLE boiler_samples (
        sampled_at timestamptz NOT NULL,
        boiler text NOT NULL,
        depot text NOT NULL,
        flow_temp_c double precision
    );
"""
RAW = "northwind/depot/basement/heating/boiler-2/metrics/flow_temp"


def _float32(value: float) -> list[int]:
    data = struct.pack(">f", value)
    return [int.from_bytes(data[:2], "big"), int.from_bytes(data[2:], "big")]


def _build(tmp_path, port: int):
    site = tmp_path / "src"
    site.mkdir()
    (site / "site.toml").write_text((EXAMPLE / "site.toml").read_text())
    lot = (EXAMPLE / "site.lot").read_text()
    assert "WITH PORT '502'" in lot
    (site / "site.lot").write_text(
        lot.replace("WITH PORT '502'", f"WITH PORT '{port}'")
    )
    tree = tmp_path / "tree"
    status = cli.main(
        ["build", str(site), "-o", str(tmp_path / "dist"), "--emit", str(tree)]
    )
    assert status == cli.EXIT_OK
    return tree


@pytest.fixture
def device():
    with ModbusSimulator() as simulator:
        yield simulator


def test_the_gateway_reading_lands_in_the_archive(
    tmp_path, mosquitto, postgres, device
):
    postgres.sql("CREATE DATABASE depot_history")
    postgres.sql(SCHEMA, database="depot_history")
    tree = _build(tmp_path, device.port)
    device.write("holding_register", 10, _float32(20.5))
    process = SiteProcess(
        tree,
        "boiler_gateway",
        mosquitto,
        log=tmp_path / "site.log",
        env={
            "LOT_STATE_DIR": str(tmp_path / "state"),
            "BOILER_HOST": "127.0.0.1",
            "ARCHIVE_HOST": f"{postgres.host}:{postgres.port}",
            "ARCHIVE_USER": postgres.user,
            "LOT_SECRET_ARCHIVE_PASSWORD": "not-needed-with-trust",
        },
    ).start()
    try:
        with mosquitto.collect(RAW) as seen:
            seen.wait_until(lambda ms: any(m.payload == b"20.5" for m in ms), 15)
            assert b"20.5" in seen.payloads(), process.output()
            device.write("holding_register", 10, _float32(21.7))
            written = time.monotonic()
            seen.wait_until(lambda ms: any(m.payload == b"21.7" for m in ms), 3)
            arrived = time.monotonic() - written
            assert b"21.7" in seen.payloads(), seen.payloads()
        assert arrived <= 1.1, f"{arrived:.2f} s is more than one poll period"

        deadline = time.monotonic() + 15
        rows: list[list[str]] = []
        while time.monotonic() < deadline and ["21.7"] not in rows:
            rows = postgres.sql(
                "SELECT flow_temp_c FROM boiler_samples", database="depot_history"
            )
            time.sleep(0.2)
        assert ["21.7"] in rows, process.output()
        [[boiler, depot]] = postgres.sql(
            "SELECT DISTINCT boiler, depot FROM boiler_samples",
            database="depot_history",
        )
        assert (boiler, depot) == ("boiler-2", "depot")
    finally:
        process.stop()
