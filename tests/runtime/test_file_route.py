"""The FILE_STORAGE route with a real Mosquitto and real files: CSV and JSON
tables, timestamps in LoT's date format, rolling at MAX_RECORDS, files kept
from an earlier run, a JSON file repaired after a crash, APPEND lines, and a
folder that cannot be written ridden out without losing a record."""

from __future__ import annotations

import json
import time

from lot_runtime import Site
from lot_runtime.routes import files
from lot_runtime.routes.files import AppendEvent, FileRoute, StoreEvent, dotnet_format

from .sites import RunningSite


def _run(tmp_path, mosquitto, route: FileRoute, name: str = "files"):
    site = Site(name=name, routes=(route,))
    state = tmp_path / "state"
    return RunningSite(site, mosquitto.url, environ={"LOT_STATE_DIR": str(state)})


def _wait(route: FileRoute, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while route.sent + route.dead_letters < count:
        assert time.monotonic() < deadline, (route.sent, route.dead_letters)
        time.sleep(0.02)


def test_csv_tables_take_their_header_from_the_first_record(tmp_path, mosquitto):
    folder = tmp_path / "out"
    events = (StoreEvent(name="Temps", source="t/+", table="temps"),)
    route = FileRoute(name="Files", folder=str(folder), events=events, delimiter=";")
    with _run(tmp_path, mosquitto, route):
        mosquitto.publish("t/a", b'{"sensor": "a", "celsius": 21.5}')
        mosquitto.publish("t/b", b'{"celsius": 19, "sensor": "b;c", "extra": 1}')
        mosquitto.publish("t/c", b'{"sensor": "c", "tags": {"x": [1, 2]}}')
        mosquitto.publish("t/d", b"42")
        _wait(route, 4)
    assert (folder / "temps.csv").read_text() == (
        'sensor;celsius\na;21.5\n"b;c";19\nc;\n;\n'
    )


def test_an_empty_object_has_no_csv_row(tmp_path, mosquitto):
    folder = tmp_path / "out"
    events = (StoreEvent(name="T", source="e/+", table="t"),)
    route = FileRoute(name="Files", folder=str(folder), events=events)
    with mosquitto.collect("lot/files/deadletter/#") as seen:
        with _run(tmp_path, mosquitto, route):
            mosquitto.publish("e/1", b"{}")
            mosquitto.publish("e/2", b'{"a": 1}')
            _wait(route, 2)
            seen.wait_for(1)
    assert (folder / "t.csv").read_text() == "a\n1\n"
    assert "no columns" in json.loads(seen.messages[0].payload)["reason"]


def test_json_tables_stay_valid_arrays(tmp_path, mosquitto):
    folder = tmp_path / "out"
    events = (
        StoreEvent(name="Metrics", source="m/+", table="metrics"),
        StoreEvent(name="Line", source="l/+", table="lines", data="payload.json.line"),
    )
    route = FileRoute(
        name="Files",
        folder=str(folder),
        events=events,
        fmt="JSON",
        pattern="{0}_%Y.json",
        include_timestamp=True,
        date_format="yyyy-MM-dd'T'HH:mm:ss.fff'Z'",
    )
    with _run(tmp_path, mosquitto, route):
        mosquitto.publish("m/1", b'{"cpu": 0.5}')
        mosquitto.publish("m/2", b'"plain"')
        mosquitto.publish("l/1", b'{"line": {"id": 4, "ok": true}}')
        _wait(route, 3)
        [metrics] = folder.glob("metrics_*.json")
        during = json.loads(metrics.read_text())  # readable while running
    assert len(during) == 2
    assert during[0]["cpu"] == 0.5 and during[1]["value"] == "plain"
    stamp = during[0]["timestamp"]
    assert len(stamp) == 24 and stamp[10] == "T" and stamp.endswith("Z"), stamp
    [lines] = folder.glob("lines_*.json")
    assert [
        {k: v for k, v in r.items() if k != "timestamp"}
        for r in json.loads(lines.read_text())
    ] == [{"id": 4, "ok": True}]


def test_files_roll_at_max_records_and_earlier_files_are_kept(tmp_path, mosquitto):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "r.csv").write_text("n\nfrom-before\n")
    events = (StoreEvent(name="R", source="r/+", table="r"),)
    route = FileRoute(name="Files", folder=str(folder), events=events, max_records=3)
    with _run(tmp_path, mosquitto, route):
        for number in range(7):
            mosquitto.publish(f"r/{number}", json.dumps({"n": number}).encode())
        _wait(route, 7)
    assert (folder / "r.1.csv").read_text() == "n\nfrom-before\n"
    assert (folder / "r.2.csv").read_text() == "n\n0\n1\n2\n"
    assert (folder / "r.3.csv").read_text() == "n\n3\n4\n5\n"
    assert (folder / "r.csv").read_text() == "n\n6\n"


def test_files_closed_to_stay_under_the_limit_go_on_where_they_were(
    tmp_path, mosquitto, monkeypatch
):
    monkeypatch.setattr(files, "OPEN_FILES", 2)
    folder = tmp_path / "out"
    events = (
        AppendEvent(name="A", source="a/+", file="{topic.2}.log", line="{payload}"),
        StoreEvent(name="C", source="c/+", table="c"),
    )
    route = FileRoute(name="Files", folder=str(folder), events=events)
    with _run(tmp_path, mosquitto, route):
        for round_ in range(3):
            for name in ("x", "y", "z"):
                mosquitto.publish(f"a/{name}", f"{name}{round_}".encode())
            mosquitto.publish("c/1", json.dumps({"n": round_}).encode())
        _wait(route, 12)
        assert len(route._files) <= 2
    for name in ("x", "y", "z"):
        assert (folder / f"{name}.log").read_text() == f"{name}0\n{name}1\n{name}2\n"
    assert (folder / "c.csv").read_text() == "n\n0\n1\n2\n"


def test_json_files_roll_as_valid_arrays(tmp_path, mosquitto):
    folder = tmp_path / "out"
    events = (StoreEvent(name="R", source="r/+", table="r"),)
    route = FileRoute(
        name="Files", folder=str(folder), events=events, fmt="JSON", max_records=2
    )
    with _run(tmp_path, mosquitto, route):
        for number in range(5):
            mosquitto.publish(f"r/{number}", json.dumps({"n": number}).encode())
        _wait(route, 5)
    assert json.loads((folder / "r.1.json").read_text()) == [{"n": 0}, {"n": 1}]
    assert json.loads((folder / "r.2.json").read_text()) == [{"n": 2}, {"n": 3}]
    assert json.loads((folder / "r.json").read_text()) == [{"n": 4}]


def test_append_goes_on_with_the_file_and_repairs_a_cut_json_file(tmp_path, mosquitto):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "log.json").write_text('[\n{"n": 1},\n{"n": 2},\n{"n"')  # a crash
    events = (StoreEvent(name="Log", source="j/+", table="log"),)
    route = FileRoute(
        name="Files", folder=str(folder), events=events, fmt="JSON", append=True
    )
    with _run(tmp_path, mosquitto, route):
        mosquitto.publish("j/3", b'{"n": 3}')
        _wait(route, 1)
    assert json.loads((folder / "log.json").read_text()) == [
        {"n": 1},
        {"n": 2},
        {"n": 3},
    ]


def test_a_json_file_that_is_no_array_is_moved_aside(tmp_path, mosquitto):
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "log.json").write_text('{"not": "an array"}')
    events = (StoreEvent(name="Log", source="j/+", table="log"),)
    route = FileRoute(
        name="Files", folder=str(folder), events=events, fmt="JSON", append=True
    )
    with _run(tmp_path, mosquitto, route):
        mosquitto.publish("j/1", b'{"n": 1}')
        _wait(route, 1)
    assert json.loads((folder / "log.1.json").read_text()) == {"not": "an array"}
    assert json.loads((folder / "log.json").read_text()) == [{"n": 1}]


def test_append_lines_and_names_that_leave_the_folder(tmp_path, mosquitto):
    folder = tmp_path / "out"
    events = (
        AppendEvent(
            name="Save",
            source="sensors/+/log",
            file="{topic.2}.csv",
            line="{timestamp.unix},{payload}",
        ),
        AppendEvent(name="Named", source="named", file="{payload}.log", line="x"),
    )
    route = FileRoute(name="Files", folder=str(folder), events=events)
    with mosquitto.collect("lot/files/deadletter/#") as seen:
        with _run(tmp_path, mosquitto, route):
            mosquitto.publish("sensors/pump/log", b"1.5")
            mosquitto.publish("sensors/pump/log", b"1.7")
            mosquitto.publish("named", b"../escape")
            mosquitto.publish("named", b"nul\x00byte")
            _wait(route, 4)
            seen.wait_for(2)
    lines = (folder / "pump.csv").read_text().splitlines()
    assert [line.split(",")[1] for line in lines] == ["1.5", "1.7"]
    assert not (tmp_path / "escape.log").exists()
    for message in seen.messages:
        reason = json.loads(message.payload)["reason"]
        assert "is not a file name inside the storage folder" in reason


def test_a_storage_path_that_is_a_file_keeps_the_records(tmp_path, mosquitto):
    blocker = tmp_path / "out"
    blocker.write_text("not a folder")
    events = (StoreEvent(name="R", source="w/+", table="r"),)
    route = FileRoute(name="Files", folder=str(blocker), events=events)
    with mosquitto.collect("lot/blocked/routes/Files/status") as seen:
        with _run(tmp_path, mosquitto, route, name="blocked"):
            mosquitto.publish("w/1", b'{"n": 1}')
            mosquitto.publish("w/2", b'{"n": 2}')
            seen.wait_until(
                lambda ms: any(m.payload.startswith(b"buffering") for m in ms), 10
            )
            assert route.sent == 0
            blocker.unlink()
            _wait(route, 2, timeout=20)
    assert (blocker / "r.csv").read_text() == "n\n1\n2\n"


def test_dotnet_formats_become_strftime():
    assert dotnet_format("yyyy-MM-dd HH:mm:ss") == "%Y-%m-%d %H:%M:%S"
    assert dotnet_format("yyyy-MM-dd'T'HH:mm:ss.fff'Z'") == "%Y-%m-%dT%H:%M:%S.\ue000Z"
    assert dotnet_format("dd/MM/yy hh:mm tt 100%") == "%d/%m/%y %I:%M %p 100%%"
