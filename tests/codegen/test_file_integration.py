"""FILE_STORAGE routes of the shared corpus, built by lotc into one site and
run as a process with real files: DataFiles appends a line per sensor
message, and DeviceMetrics keeps in CSV what a bridge (written here, since
the corpus's own bridge forwards the other way) brings in from a second
real broker through the older ``STORE ... WITH TABLE_NAME``.

The programs are used as written except for their folders, which are the
test's, not /data/exports and /metrics/daily.
"""

from __future__ import annotations

import time

from support.mosquitto import Mosquitto
from support.site_process import SiteProcess

from lotc import cli

DATA_FILES = "CorefluxCommunity__coreflux-cursor-plugin/lot-routes__DataFiles.lot"
METRICS = "CorefluxCommunity__LOT-Samples/file-storage__DeviceMetrics.lot"
BRIDGE = """
DEFINE ROUTE FieldBridge WITH TYPE MQTT_BRIDGE
    ADD SOURCE_CONFIG
        WITH BROKER_ADDRESS "127.0.0.1"
        WITH BROKER_PORT {port}
        WITH CLIENT_ID "field-bridge"
    ADD DESTINATION_CONFIG
        WITH BROKER SELF
    ADD MAPPING FieldMetrics
        WITH SOURCE_TOPIC "field/+/metrics"
        WITH DESTINATION_TOPIC "metrics/+/in"
        WITH DIRECTION "out"
    STORE DeviceMetrics WITH TABLE_NAME "field"
"""


def _until(condition, timeout: float, why) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, why()
        time.sleep(0.05)


def test_the_corpus_file_routes_write_files(tmp_path, corpus, mosquitto):
    exports, metrics = tmp_path / "exports", tmp_path / "metrics"
    field = Mosquitto(tmp_path / "field")
    with field:
        site = tmp_path / "src"
        site.mkdir()
        (site / "site.toml").write_text('[site]\nname = "recorder"\n')
        data_files = (corpus / DATA_FILES).read_text()
        assert '"/data/exports"' in data_files
        (site / "files.lot").write_text(
            data_files.replace('"/data/exports"', f'"{exports}"')
        )
        device_metrics = (corpus / METRICS).read_text()
        assert '"/metrics/daily"' in device_metrics
        (site / "metrics.lot").write_text(
            device_metrics.replace('"/metrics/daily"', f'"{metrics}"')
        )
        (site / "bridge.lot").write_text(BRIDGE.format(port=field.port))
        tree = tmp_path / "tree"
        status = cli.main(
            ["build", str(site), "-o", str(tmp_path / "dist"), "--emit", str(tree)]
        )
        assert status == cli.EXIT_OK
        process = SiteProcess(
            tree,
            "recorder",
            mosquitto,
            log=tmp_path / "site.log",
            env={"LOT_STATE_DIR": str(tmp_path / "state")},
        ).start()
        try:
            process.wait_online("recorder")
            mosquitto.publish("sensors/pump/log", b"1.5")
            mosquitto.publish("sensors/fan/log", b"0.25")
            pump = exports / "pump.csv"
            _until(pump.exists, 10, process.output)
            status = "lot/recorder/routes/FieldBridge/status"
            _until(
                lambda: mosquitto.retained(status, timeout=0.3) == b"connected",
                15,
                process.output,
            )
            field.publish("field/press/metrics", b'{"id": "press", "load": 0.8}')
            field.publish("field/saw/metrics", b'{"id": "saw", "load": 0.3}')
            _until(
                lambda: (
                    any(metrics.glob("*.csv"))
                    and next(metrics.glob("*.csv")).read_text().count("\n") >= 3
                ),
                15,
                process.output,
            )
        finally:
            process.stop()
    assert pump.read_text().strip().endswith(",1.5")
    assert (exports / "fan.csv").read_text().strip().endswith(",0.25")
    [table] = metrics.glob("metrics_field_*.csv")
    lines = table.read_text().splitlines()
    assert lines[0] == "timestamp;id;load"
    assert [line.split(";")[1:] for line in lines[1:]] == [
        ["press", "0.8"],
        ["saw", "0.3"],
    ]
    assert lines[1].split(";")[0].endswith("Z")
