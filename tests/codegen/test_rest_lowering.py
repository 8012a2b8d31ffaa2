"""Lowering of REST_API routes: a route with BASE_ADDRESS becomes a client,
one with SERVER_PORT a server, and events that could never work in their
route's mode are errors at build time."""

from __future__ import annotations

from helpers import source

from lotc.codegen.routes.rest import lower_rest
from lotc.compile import check_sources

CLIENT = """
DEFINE ROUTE Tides WITH TYPE REST_API
    ADD REST_API_CONFIG
        WITH BASE_ADDRESS "tides.harbour.example"
        WITH USE_SSL true
        WITH AUTHORIZATION GET SECRET "TIDES_KEY"
{events}
"""
SERVER = """
DEFINE ROUTE Panel WITH TYPE REST_API
    ADD REST_API_CONFIG
        WITH SERVER_PORT 8080
        WITH AUTHORIZATION GET SECRET "PANEL_TOKEN"
{events}
"""


def _event(name: str, *settings: str) -> str:
    lines = [f"    ADD EVENT {name}", *(f"        {line}" for line in settings)]
    return "\n".join(lines)


def _lower(template: str, *events: str):
    checked = check_sources(
        [source(template.format(events="\n".join(events)))], route_checks=False
    )
    assert not checked.has_errors, [d.message for d in checked.diagnostics]
    [route] = checked.site.routes.values()
    return lower_rest(route, checked.site)


def test_a_route_with_a_base_address_is_a_client():
    view, problems = _lower(
        CLIENT,
        _event(
            "Fetch",
            'WITH SOURCE_TOPIC "harbour/tide/request/+"',
            'WITH DESTINATION_TOPIC "harbour/tide/{topic.4}"',
            'WITH METHOD "GET"',
            'WITH ENDPOINT "api/tide?berth={payload}"',
        ),
        _event(
            "Upload",
            'WITH SOURCE_TOPIC "harbour/gauge"',
            'WITH METHOD "POST"',
            'WITH ENDPOINT "/api/readings"',
            'WITH BODY "{payload.json}"',
        ),
    )
    assert problems == []
    text = view.constructor
    assert text.startswith("RestClientRoute(")
    assert "base_address='tides.harbour.example'" in text
    assert "use_ssl='true'" in text
    assert "authorization=Secret('TIDES_KEY')" in text
    assert (
        "RestEvent(name='Fetch', method='GET', endpoint='/api/tide?berth={payload}', "
        "source='harbour/tide/request/+', destination='harbour/tide/{topic.4}')"
    ) in text
    assert "body='{payload.json}'" in text
    assert view.extras == ["http"]
    assert view.reads == ["harbour/gauge", "harbour/tide/request/+"]
    assert view.writes == ["harbour/tide/+"]
    assert "from lot_runtime.routes import Secret" in view.imports


def test_a_client_event_needs_a_source_topic():
    _, problems = _lower(
        CLIENT,
        _event("Orphan", 'WITH DESTINATION_TOPIC "x/y"', 'WITH ENDPOINT "/a"'),
    )
    [problem] = problems
    assert problem.code == "LOT205"
    assert problem.message == "`EVENT Orphan` needs SOURCE_TOPIC"


def test_a_route_with_a_server_port_serves():
    view, problems = _lower(
        SERVER,
        _event(
            "Status",
            'WITH METHOD "GET"',
            'WITH ENDPOINT "/api/status"',
            'WITH SOURCE_TOPIC "system/status"',
        ),
        _event(
            "Command",
            'WITH METHOD "POST"',
            'WITH ENDPOINT "api/command"',
            'WITH DESTINATION_TOPIC "system/commands"',
        ),
    )
    assert problems == []
    assert view.constructor.startswith("RestServerRoute(")
    assert "port=8080" in view.constructor
    assert "endpoint='/api/command'" in view.constructor
    assert view.reads == ["system/status"]
    assert view.writes == ["system/commands"]


def test_server_events_that_cannot_be_served_are_errors():
    _, problems = _lower(
        SERVER,
        _event(
            "NoSource",
            'WITH METHOD "GET"',
            'WITH ENDPOINT "/a"',
            'WITH DESTINATION_TOPIC "x/y"',
        ),
        _event(
            "NoTarget",
            'WITH METHOD "POST"',
            'WITH ENDPOINT "/b"',
            'WITH SOURCE_TOPIC "x/z"',
        ),
        _event(
            "Shaped",
            'WITH METHOD "GET"',
            'WITH ENDPOINT "/c/{topic.1}"',
            'WITH SOURCE_TOPIC "c/+"',
        ),
        _event(
            "Again",
            'WITH METHOD "POST"',
            'WITH ENDPOINT "/d"',
            'WITH DESTINATION_TOPIC "d/1"',
        ),
        _event(
            "Twice",
            'WITH METHOD "POST"',
            'WITH ENDPOINT "d"',
            'WITH DESTINATION_TOPIC "d/2"',
        ),
    )
    assert [(p.code, p.message) for p in problems] == [
        ("LOT205", "`EVENT NoSource` needs SOURCE_TOPIC"),
        ("LOT205", "`EVENT NoTarget` needs DESTINATION_TOPIC"),
        (
            "LOT403",
            "a placeholder in a served ENDPOINT is not supported by the "
            "Python back end yet",
        ),
        ("LOT206", "`ENDPOINT` `/d` is already served for POST by event `Again`"),
    ]


def test_a_route_that_both_calls_and_serves_is_two_routes():
    text = CLIENT.replace(
        "        WITH USE_SSL true",
        "        WITH USE_SSL true\n        WITH SERVER_PORT 8080",
    )
    _, problems = _lower(text, _event("A", 'WITH SOURCE_TOPIC "a"'))
    [problem] = problems
    assert problem.code == "LOT403"
    assert "both BASE_ADDRESS and SERVER_PORT" in problem.message


def test_a_server_without_authorization_is_a_warning():
    text = SERVER.replace('        WITH AUTHORIZATION GET SECRET "PANEL_TOKEN"\n', "")
    view, problems = _lower(
        text,
        _event(
            "Command",
            'WITH METHOD "POST"',
            'WITH ENDPOINT "/api/command"',
            'WITH DESTINATION_TOPIC "system/commands"',
        ),
    )
    [problem] = problems
    assert problem.code == "LOT314" and not problem.is_error
    assert problem.message == (
        "route `Panel` serves HTTP on port 8080 to anyone who reaches it"
    )
    assert problem.notes == ("anyone may publish on `system/commands`",)
    assert "authorization" not in view.constructor
