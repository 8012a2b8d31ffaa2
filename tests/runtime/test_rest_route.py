"""The REST_API routes against a real HTTP server (aiohttp, on a loopback
port) and a real Mosquitto: requests built from messages, answers published,
refusals dead-lettered, an API outage ridden out without losing a message,
and the server side answering GETs and publishing POSTs."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from lot_runtime import Site
from lot_runtime.routes import Secret
from lot_runtime.routes.rest import (
    MAX_RESPONSE,
    RestClientRoute,
    RestEvent,
    RestServerRoute,
)
from support.http_api import HttpApi
from support.mosquitto import free_port

from .sites import RunningSite


@pytest.fixture
def api():
    with HttpApi() as server:
        yield server


def _client(api, *events: RestEvent, **settings) -> RestClientRoute:
    return RestClientRoute(name="Api", base_address=api.url, events=events, **settings)


def _site(tmp_path, name, *routes, secrets=()) -> tuple[Site, dict[str, str]]:
    site = Site(name=name, routes=routes, secrets=secrets)
    return site, {"LOT_STATE_DIR": str(tmp_path)}


def test_a_message_becomes_a_request_and_the_answer_is_published(
    tmp_path, mosquitto, api
):
    api.answer("/v1/forecast", status=200, body=b'{"temp":21.5}')
    event = RestEvent(
        name="Forecast",
        source="weather/request/+",
        destination="weather/forecast/{topic.3}",
        method="GET",
        endpoint="/v1/forecast?city={payload}&station={topic.3}",
    )
    route = _client(api, event, authorization=Secret("API_KEY"))
    site, environ = _site(tmp_path, "client", route, secrets=("API_KEY",))
    environ["LOT_SECRET_API_KEY"] = "Bearer s3cret"
    with mosquitto.collect("weather/forecast/#") as seen:
        with RunningSite(site, mosquitto.url, environ=environ):
            mosquitto.publish("weather/request/a b", b"New York/Queens")
            seen.wait_for(1)
    [request] = api.requests
    assert request.method == "GET"
    assert request.path == "/v1/forecast?city=New%20York%2FQueens&station=a%20b"
    assert request.headers["Authorization"] == "Bearer s3cret"
    [answer] = seen.messages
    assert (answer.topic, answer.payload) == ("weather/forecast/a b", b'{"temp":21.5}')


def test_a_message_that_names_no_answer_topic_never_calls_the_api(
    tmp_path, mosquitto, api
):
    event = RestEvent(
        name="Ask", source="ask", endpoint="/q", destination="answers/{payload}"
    )
    site, environ = _site(tmp_path, "wild", _client(api, event))
    with mosquitto.collect("lot/wild/deadletter/#", "answers/#") as seen:
        with RunningSite(site, mosquitto.url, environ=environ):
            mosquitto.publish("ask", b"+")
            mosquitto.publish("ask", b"ok")
            seen.wait_for(2)
    assert [r.path for r in api.requests] == ["/q"]
    assert seen.payloads("answers/ok") == [b"echo:"]
    [letter] = [json.loads(p) for p in seen.payloads("lot/wild/deadletter/Api")]
    assert "`answers/+` is not a topic" in letter["reason"]


def test_bodies_are_filled_and_typed(tmp_path, mosquitto, api):
    events = (
        RestEvent(
            name="Json",
            source="up/json",
            method="POST",
            endpoint="/v1/readings",
            body='{"sensor": "{topic.2}", "reading": {payload.json}}',
        ),
        RestEvent(
            name="Text",
            source="up/text",
            method="PUT",
            endpoint="notes",
            body="note: {payload}",
            destination="up/echo",
        ),
    )
    site, environ = _site(tmp_path, "bodies", _client(api, *events))
    with mosquitto.collect("up/echo") as seen:
        with RunningSite(site, mosquitto.url, environ=environ):
            mosquitto.publish("up/json", b'{"t": 21.5, "ok": true}')
            mosquitto.publish("up/text", "café".encode())
            api.wait_for(2)
            seen.wait_for(1)
    by_path = {r.path: r for r in api.requests}
    posted = by_path["/v1/readings"]
    assert posted.method == "POST"
    assert posted.headers["Content-Type"] == "application/json"
    assert json.loads(posted.body) == {
        "sensor": "json",
        "reading": {"t": 21.5, "ok": True},
    }
    put = by_path["/notes"]
    assert put.headers["Content-Type"].startswith("text/plain")
    assert put.body == "note: café".encode()
    assert seen.payloads("up/echo") == ["echo:note: café".encode()]


def test_refusals_and_unfillable_messages_go_to_dead_letters(tmp_path, mosquitto, api):
    api.answer("/missing", status=404, body=b"nope")
    events = (
        RestEvent(name="Gone", source="dl/gone", endpoint="/missing"),
        RestEvent(name="City", source="dl/city", endpoint="/c/{payload.json.city}"),
    )
    site, environ = _site(tmp_path, "refused", _client(api, *events))
    with mosquitto.collect("lot/refused/deadletter/#", "dl/after") as seen:
        with RunningSite(site, mosquitto.url, environ=environ):
            mosquitto.publish("dl/gone", b"x")
            mosquitto.publish("dl/city", b'{"town": "Porto"}')
            mosquitto.publish("dl/city", b'{"city": "Porto"}')
            api.wait_for(2)
            seen.wait_for(2)
            route = site.routes[0]
            assert route.sent == 1 and route.dead_letters == 2
    letters = [json.loads(p) for p in seen.payloads("lot/refused/deadletter/Api")]
    # The requests of a batch go out side by side: the letters in any order.
    assert sorted((d["event"], d["topic"], d["reason"]) for d in letters) == [
        ("City", "dl/city", "the message has no value for {payload.json.city}"),
        ("Gone", "dl/gone", "HTTP 404 Not Found"),
    ]
    assert sorted(r.path for r in api.requests) == ["/c/Porto", "/missing"]


def test_answers_are_published_whole_up_to_the_limit(tmp_path, mosquitto, api):
    big = bytes(range(256)) * 4096  # 1 MiB: many reads of the socket
    api.answer("/big", status=200, body=big)
    api.answer("/huge", status=200, body=b"x" * (MAX_RESPONSE + 1))
    events = (
        RestEvent(name="Big", source="h/big", endpoint="/big", destination="h/big/out"),
        RestEvent(name="Huge", source="h/huge", endpoint="/huge", destination="h/out"),
    )
    site, environ = _site(tmp_path, "huge", _client(api, *events))
    with mosquitto.collect("h/#", "lot/huge/deadletter/#") as seen:
        with RunningSite(site, mosquitto.url, environ=environ):
            mosquitto.publish("h/huge", b"1")
            mosquitto.publish("h/big", b"2")
            seen.wait_until(
                lambda ms: (
                    {"h/big/out", "lot/huge/deadletter/Api"} <= {m.topic for m in ms}
                ),
                20,
            )
    assert seen.payloads("h/big/out") == [big]
    assert not seen.payloads("h/out")
    [letter] = [json.loads(p) for p in seen.payloads("lot/huge/deadletter/Api")]
    assert letter["event"] == "Huge"
    assert f"larger than {MAX_RESPONSE} bytes" in letter["reason"]


def test_an_api_outage_loses_nothing(tmp_path, mosquitto, api):
    event = RestEvent(
        name="Upload",
        source="o/reading",
        method="POST",
        endpoint="/r",
        body="{payload}",
    )
    status = "lot/outage/routes/Api/status"
    site, environ = _site(tmp_path, "outage", _client(api, event))
    with mosquitto.collect(status) as seen:
        with RunningSite(site, mosquitto.url, environ=environ):
            mosquitto.publish("o/reading", b"0")
            api.wait_for(1)
            api.stop()
            for number in range(1, 51):
                mosquitto.publish("o/reading", str(number).encode())
            seen.wait_until(
                lambda ms: any(m.payload.startswith(b"buffering") for m in ms), 10
            )
            api.start()
            api.wait_for(51, timeout=30)
            seen.wait_until(lambda ms: ms and ms[-1].payload == b"connected", 10)
    bodies = sorted(int(r.body) for r in api.requests)
    # At least once: every reading arrived, none twice in this outage.
    assert bodies == list(range(51))
    assert seen.payloads(status)[-1] == b"connected"


def test_a_busy_api_is_asked_again(tmp_path, mosquitto, api):
    api.answer("/busy", status=503, times=2)
    api.answer("/slow-down", status=429, times=1)
    events = (
        RestEvent(name="Busy", source="b/busy", endpoint="/busy", destination="b/ok"),
        RestEvent(name="Slow", source="b/slow", endpoint="/slow-down"),
    )
    site, environ = _site(tmp_path, "busy", _client(api, *events))
    with mosquitto.collect("b/ok") as seen:
        with RunningSite(site, mosquitto.url, environ=environ):
            mosquitto.publish("b/busy", b"1")
            mosquitto.publish("b/slow", b"2")
            seen.wait_for(1, timeout=15)
            api.wait_for(5)
    assert [r.path for r in api.requests].count("/busy") == 3
    assert [r.path for r in api.requests].count("/slow-down") == 2
    assert seen.payloads("b/ok") == [b"echo:"]


# -- the server side


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read(), answer.headers.get("Content-Type", "")
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers.get("Content-Type", "")


def _send(url: str, body: bytes, method: str = "POST", headers=None) -> int:
    request = urllib.request.Request(
        url, data=body, method=method, headers=headers or {}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def _until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def _serving(base: str) -> bool:
    try:
        _get(f"{base}/")
    except OSError:
        return False
    return True


def _server(port: int, **settings) -> RestServerRoute:
    events = (
        RestEvent(
            name="Status", method="GET", endpoint="/api/status", source="sys/status"
        ),
        RestEvent(
            name="Rooms", method="GET", endpoint="/api/rooms", source="rooms/+/temp"
        ),
        RestEvent(
            name="Command",
            method="POST",
            endpoint="/api/command",
            destination="sys/commands",
        ),
    )
    return RestServerRoute(
        name="Api", port=port, host="127.0.0.1", events=events, **settings
    )


def test_the_server_answers_the_last_values_and_publishes_posts(tmp_path, mosquitto):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    site, environ = _site(tmp_path, "server", _server(port))
    status = "lot/server/routes/Api/status"
    with mosquitto.collect("sys/commands", status) as seen:
        with RunningSite(site, mosquitto.url, environ=environ):
            _until(lambda: _serving(base))
            assert _get(f"{base}/api/status")[0] == 204  # nothing published yet
            mosquitto.publish("sys/status", b'{"state":"running"}')
            mosquitto.publish("rooms/kitchen/temp", b"21.5")
            mosquitto.publish("rooms/hall/temp", b"cold")
            _until(lambda: len(_get(f"{base}/api/rooms")[1]) > 30)
            code, body, kind = _get(f"{base}/api/status")
            assert (code, body, kind) == (
                200,
                b'{"state":"running"}',
                "application/json",
            )
            code, body, _ = _get(f"{base}/api/rooms")
            assert code == 200
            assert json.loads(body) == {
                "rooms/hall/temp": "cold",
                "rooms/kitchen/temp": 21.5,
            }
            assert _send(f"{base}/api/command", b"restart pump 2") == 202
            assert _get(f"{base}/api/nowhere")[0] == 404
            assert _send(f"{base}/api/status", b"x") == 405
            seen.wait_until(lambda ms: any(m.topic == "sys/commands" for m in ms), 5)
    assert seen.payloads("sys/commands") == [b"restart pump 2"]


def test_the_server_answers_head_and_refuses_a_body_too_large(tmp_path, mosquitto):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    site, environ = _site(tmp_path, "limits", _server(port))
    with mosquitto.collect("sys/commands") as seen:
        with RunningSite(site, mosquitto.url, environ=environ):
            _until(lambda: _serving(base))
            mosquitto.publish("sys/status", b"up")
            _until(lambda: _get(f"{base}/api/status")[0] == 200)
            head = urllib.request.Request(f"{base}/api/status", method="HEAD")
            with urllib.request.urlopen(head, timeout=5) as answer:
                assert answer.status == 200 and answer.read() == b""
            assert _send(f"{base}/api/command", b"x" * (2**20 + 1)) == 413
            assert _send(f"{base}/api/command", b"small") == 202
            seen.wait_for(1)
    assert seen.payloads("sys/commands") == [b"small"]


def test_the_server_wants_the_authorization_it_was_given(tmp_path, mosquitto):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    route = _server(port, authorization=Secret("API_TOKEN"))
    site, environ = _site(tmp_path, "guarded", route, secrets=("API_TOKEN",))
    environ["LOT_SECRET_API_TOKEN"] = "Bearer t0ken"
    with mosquitto.collect("sys/commands") as seen:
        with RunningSite(site, mosquitto.url, environ=environ):
            _until(lambda: _serving(base))
            assert _get(f"{base}/api/status")[0] == 401
            wrong = {"Authorization": "Bearer guess"}
            assert _send(f"{base}/api/command", b"x", headers=wrong) == 401
            right = {"Authorization": "Bearer t0ken"}
            assert _get(f"{base}/api/status", right)[0] == 204
            assert _send(f"{base}/api/command", b"go", headers=right) == 202
            seen.wait_for(1)
    assert seen.payloads("sys/commands") == [b"go"]
