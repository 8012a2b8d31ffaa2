"""The site graph, its loops and its renderings (lotc.frontend.graph)."""

from __future__ import annotations

import json

import pytest
from conftest import REPO
from helpers import diagnostics, source

from lotc.compile import check, check_sources
from lotc.frontend.graph import build_graph, render_graph
from lotc.frontend.site import Site


def site_of(text: str) -> Site:
    return Site(check_sources([source(text)]).modules)


def loop_codes(text: str) -> list[tuple[str, int]]:
    return [
        (d.code, d.span.line)
        for d in diagnostics(text)
        if d.code in ("LOT310", "LOT311", "LOT312")
    ]


# ------------------------------------------------------------ loops


def test_unconditional_publish_into_the_own_filter_is_lot310():
    text = (
        'DEFINE ACTION Echo\nON TOPIC "line/+/speed" DO\n'
        '    PUBLISH TOPIC "line/" + TOPIC POSITION 2 + "/speed" WITH PAYLOAD\n'
    )
    assert loop_codes(text) == [("LOT310", 3)]


def test_a_guarded_publish_or_a_keep_is_not_a_loop():
    guarded = (
        'DEFINE ACTION Count\nON TOPIC "counter" DO\n'
        "    IF (PAYLOAD AS INT) < 10 THEN\n"
        '        PUBLISH TOPIC "counter" WITH (PAYLOAD AS INT) + 1\n'
    )
    kept = 'DEFINE ACTION Memo\nON TOPIC "memo/#" DO\n    KEEP TOPIC "memo/x" WITH 1\n'
    assert loop_codes(guarded) == []
    assert loop_codes(kept) == []


def test_a_target_that_only_might_match_the_filter_is_not_lot310():
    # {id} could be "data", but then the next round publishes elsewhere.
    text = (
        'DEFINE ACTION Tag\nON TOPIC "sensors/+/data" DO\n'
        '    SET "id" WITH TOPIC POSITION 2\n'
        '    PUBLISH TOPIC "sensors/processed/" + {id} WITH PAYLOAD\n'
    )
    assert loop_codes(text) == []


def test_on_change_into_its_own_filter_is_only_a_warning():
    text = 'DEFINE ACTION Mirror\nON CHANGE "a/#" DO\n    PUBLISH TOPIC "a/b" WITH 1\n'
    assert loop_codes(text) == [("LOT311", 3)]


def test_a_cycle_through_two_actions_is_reported_once_in_order():
    text = (
        'DEFINE ACTION Ping\nON TOPIC "ping" DO\n    PUBLISH TOPIC "pong" WITH 1\n\n'
        'DEFINE ACTION Pong\nON TOPIC "pong" DO\n    PUBLISH TOPIC "ping" WITH 1\n'
    )
    found = [d for d in diagnostics(text) if d.code == "LOT311"]
    assert len(found) == 1
    assert found[0].span.line == 3
    assert found[0].message.endswith("Ping -> pong -> Pong -> ping -> Ping")


def test_a_cycle_through_an_action_and_a_bridge():
    text = (
        'DEFINE ACTION Up\nON TOPIC "in/x" DO\n    PUBLISH TOPIC "out/x" WITH 1\n\n'
        "DEFINE ROUTE Loopback WITH TYPE MQTT_BRIDGE\n"
        "    ADD SOURCE_CONFIG\n        WITH BROKER SELF\n"
        "    ADD DESTINATION_CONFIG\n        WITH BROKER SELF\n"
        "    ADD MAPPING back\n"
        '        WITH SOURCE_TOPIC "out/#"\n'
        '        WITH DESTINATION_TOPIC "in/#"\n'
        '        WITH DIRECTION "out"\n'
    )
    found = [d for d in diagnostics(text) if d.code == "LOT311"]
    assert [d.message.split(": ", 1)[1] for d in found] == [
        "Up -> out/x -> Loopback.back -> in/# -> Up"
    ]


def _bridge(mappings: str, remote: str = '        WITH BROKER_ADDRESS "hub"\n') -> str:
    return (
        "DEFINE ROUTE Link WITH TYPE MQTT_BRIDGE\n"
        "    ADD SOURCE_CONFIG\n        WITH BROKER SELF\n"
        f"    ADD DESTINATION_CONFIG\n{remote}" + mappings
    )


def test_a_both_mapping_onto_its_own_source_is_lot312():
    text = _bridge(
        "    ADD MAPPING mirror\n"
        '        WITH SOURCE_TOPIC "data/#"\n'
        '        WITH DESTINATION_TOPIC "data/#"\n'
        '        WITH DIRECTION "both"\n'
    )
    assert loop_codes(text) == [("LOT312", 8)]


def test_a_both_mapping_with_a_prefix_is_fine():
    text = _bridge(
        "    ADD MAPPING mirror\n"
        '        WITH SOURCE_TOPIC "data/#"\n'
        '        WITH DESTINATION_TOPIC "site/data/#"\n'
        '        WITH DIRECTION "both"\n'
    )
    assert loop_codes(text) == []


def test_two_mappings_forwarding_each_other_are_lot312():
    text = _bridge(
        "    ADD MAPPING up\n"
        '        WITH SOURCE_TOPIC "a/#"\n'
        '        WITH DESTINATION_TOPIC "b/#"\n'
        '        WITH DIRECTION "out"\n'
        "    ADD MAPPING down\n"
        '        WITH SOURCE_TOPIC "b/#"\n'
        '        WITH DESTINATION_TOPIC "a/#"\n'
        '        WITH DIRECTION "in"\n'
    )
    found = [d for d in diagnostics(text) if d.code.startswith("LOT31")]
    assert [(d.code, d.span.line) for d in found] == [("LOT312", 12)]
    assert "Link.down -> a/# -> Link.up -> b/# -> Link.down" in found[0].notes[0]


# ------------------------------------------------------------ structure

SMALL_SITE = """\
DEFINE ACTION Intake
ON TOPIC "raw/+/temp" DO
    SET "id" WITH TOPIC POSITION 2
    PUBLISH TOPIC "clean/" + {id} + "/temp" WITH PAYLOAD
    KEEP TOPIC "memo/" + {id} WITH PAYLOAD

DEFINE ACTION Alarm
ON TOPIC "clean/+/temp" DO
    IF (PAYLOAD AS DOUBLE) > 80 THEN
        PUBLISH TOPIC "alarms/hot" WITH PAYLOAD

DEFINE ACTION Report
ON EVERY 1 MINUTE DO
    PUBLISH TOPIC "report/k1" WITH GET TOPIC "memo/k1"

DEFINE MODEL Snapshot COLLAPSED WITH TOPIC "snap/k1"
    ADD DOUBLE "temp" WITH TOPIC "clean/k1/temp" AS TRIGGER

DEFINE ROUTE Cloud WITH TYPE MQTT_BRIDGE
    ADD SOURCE_CONFIG
        WITH BROKER SELF
    ADD DESTINATION_CONFIG
        WITH BROKER_ADDRESS "hub.example"
    ADD MAPPING up
        WITH SOURCE_TOPIC "alarms/#"
        WITH DESTINATION_TOPIC "site/alarms/#"
        WITH DIRECTION "out"
"""


def test_small_site_json_lists_every_edge():
    document = json.loads(render_graph(site_of(SMALL_SITE), "json"))
    edges = [(e["from"], e["to"], e["kind"]) for e in document["edges"]]
    assert edges == [
        ("action:Alarm", "topic:SELF:alarms/hot", "publishes"),
        ("action:Intake", "topic:SELF:clean/+/temp", "publishes"),
        ("action:Intake", "topic:SELF:memo/+", "keeps"),
        ("action:Report", "topic:SELF:report/k1", "publishes"),
        ("mapping:Cloud.up", "topic:hub.example:site/alarms/#", "bridges"),
        ("model:Snapshot", "topic:SELF:snap/k1", "publishes"),
        ("topic:SELF:alarms/#", "mapping:Cloud.up", "bridges"),
        ("topic:SELF:alarms/hot", "topic:SELF:alarms/#", "matches"),
        ("topic:SELF:clean/+/temp", "action:Alarm", "triggers"),
        ("topic:SELF:clean/+/temp", "topic:SELF:clean/k1/temp", "matches"),
        ("topic:SELF:clean/k1/temp", "model:Snapshot", "triggers"),
        ("topic:SELF:memo/+", "topic:SELF:memo/k1", "matches"),
        ("topic:SELF:memo/k1", "action:Report", "reads"),
        ("topic:SELF:raw/+/temp", "action:Intake", "triggers"),
    ]
    kinds = {n["id"]: n["kind"] for n in document["nodes"]}
    assert kinds["mapping:Cloud.up"] == "mapping"
    assert kinds["model:Snapshot"] == "model"
    intake = next(n for n in document["nodes"] if n["id"] == "action:Intake")
    assert (intake["file"], intake["line"]) == ("test.lot", 1)


def test_small_site_mermaid_structure():
    text = render_graph(site_of(SMALL_SITE), "mermaid")
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    nodes = [line for line in lines if "[" in line or "{{" in line]
    assert len(nodes) == 15
    assert '    n0["Alarm"]' in lines
    assert '    n3{{"Cloud.up"}}' in lines
    # Labels never hold characters mermaid reads as syntax.
    for line in nodes:
        label = line.split('"')[1]
        assert not set(label) & set('/+"'), line
        assert "#" not in label.replace("#47;", "").replace("#43;", "").replace(
            "#35;", ""
        )
    arrows = [line for line in lines if "->|" in line]
    assert len(arrows) == 14
    assert sum("-.->|keeps|" in line for line in arrows) == 1
    assert text == render_graph(site_of(SMALL_SITE), "mermaid")  # deterministic


def test_dot_output_is_a_digraph():
    text = render_graph(site_of(SMALL_SITE), "dot")
    assert text.startswith("digraph site {\n")
    assert (
        '"action:Intake" -> "topic:SELF:memo/+" [label="keeps", style=dashed];' in text
    )
    assert text.endswith("}\n")


def test_unknown_format_is_refused():
    with pytest.raises(ValueError):
        render_graph(site_of(SMALL_SITE), "svg")


# ------------------------------------------------------------ canonical sites


def _example(name: str):
    return check([str(REPO / "examples" / name)])


@pytest.mark.parametrize("name", ["boiler-archive", "depot-uplink"])
def test_canonical_sites_check_clean(name):
    assert _example(name).diagnostics == []


def _edges(name: str) -> set[tuple[str, str, str]]:
    graph = build_graph(Site(_example(name).modules))
    return {(e.source, e.target, e.kind) for e in graph.edges()}


def test_depot_uplink_graph():
    edges = _edges("depot-uplink")
    remote = "topic:env HQ_BROKER_HOST:"
    assert {
        ("action:RememberPumpFlow", "topic:SELF:memo/+/flow_mean", "keeps"),
        ("topic:SELF:memo/+/flow_mean", "topic:SELF:memo/p-07/flow_mean", "matches"),
        ("topic:SELF:memo/p-07/flow_mean", "action:SummarisePump", "reads"),
        ("action:SummarisePump", "topic:SELF:summaries/p-07/30s", "publishes"),
        ("topic:SELF:summaries/p-07/30s", "topic:SELF:summaries/#", "matches"),
        ("topic:SELF:summaries/#", "mapping:DepotUplink.summariesUp", "bridges"),
        (
            "mapping:DepotUplink.summariesUp",
            remote + "depot-north/summaries/#",
            "bridges",
        ),
        (remote + "depot-north/orders/#", "mapping:DepotUplink.ordersDown", "bridges"),
        ("mapping:DepotUplink.ordersDown", "topic:SELF:orders/#", "bridges"),
    } <= edges
    # Kept topics are never delivered: nothing reaches the bridge from memo/.
    assert not any(kind == "publishes" and "memo/" in to for _, to, kind in edges)


def test_boiler_archive_graph():
    edges = _edges("boiler-archive")
    device = "topic:SELF:northwind/depot/basement/heating/boiler-2/metrics/flow_temp"
    assert {
        ("route:BoilerGateway", device, "routes"),
        (device, "topic:SELF:northwind/+/+/heating/+/metrics/flow_temp", "matches"),
        (
            "topic:SELF:northwind/+/+/heating/+/metrics/flow_temp",
            "action:NormaliseBoilerSample",
            "triggers",
        ),
        (
            "action:NormaliseBoilerSample",
            "topic:SELF:northwind/+/+/heating/+/clean",
            "publishes",
        ),
        ("topic:SELF:northwind/+/+/heating/+/clean", "route:BoilerArchive", "routes"),
    } <= edges


def test_an_action_that_publishes_a_model_fills_it():
    site = Site(check([str(REPO / "examples" / "depot-uplink")]).modules)
    edges = {(e.source, e.target, e.kind) for e in build_graph(site).edges()}
    assert ("action:SummarisePump", "model:PumpSummary", "fills") in edges


def test_mermaid_colours_each_kind_and_reads_from_the_topics_side():
    site = Site(check([str(REPO / "examples" / "depot-uplink")]).modules)
    text = render_graph(site, "mermaid")
    for kind in ("action", "model", "route", "mapping", "topic"):
        assert f"    classDef {kind} fill:" in text
    assert "-.->|read by|" in text and "|reads|" not in text
