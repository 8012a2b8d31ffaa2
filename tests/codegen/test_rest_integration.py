"""The two REST_API routes of the shared corpus, built by lotc into one site
and run as a process: WeatherAPI calls a real HTTP server (aiohttp on a
loopback port) for each request message and publishes the forecast, and
BrokerAPI answers HTTP requests from the site's topics.

The corpus programs are used as written except for addresses: the weather
API is the local server instead of https://api.weather.com, and BrokerAPI
listens on a free port instead of 8080.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

from support.http_api import HttpApi
from support.mosquitto import free_port
from support.site_process import SiteProcess

from lotc import cli

FOLDER = "CorefluxCommunity__coreflux-cursor-plugin"
WEATHER = f"{FOLDER}/lot-routes__WeatherAPI.lot"
BROKER_API = f"{FOLDER}/lot-routes__BrokerAPI.lot"


def _build(tmp_path, corpus, api_url: str, port: int):
    weather = (corpus / WEATHER).read_text()
    assert 'WITH BASE_ADDRESS "https://api.weather.com"' in weather
    weather = weather.replace("https://api.weather.com", api_url)
    served = (corpus / BROKER_API).read_text()
    assert "WITH SERVER_PORT 8080" in served
    served = served.replace("WITH SERVER_PORT 8080", f"WITH SERVER_PORT {port}")
    site = tmp_path / "src"
    site.mkdir()
    (site / "site.toml").write_text('[site]\nname = "gateway"\n')
    (site / "weather.lot").write_text(weather)
    (site / "broker_api.lot").write_text(served)
    tree = tmp_path / "tree"
    status = cli.main(
        ["build", str(site), "-o", str(tmp_path / "dist"), "--emit", str(tree)]
    )
    assert status == cli.EXIT_OK
    return tree


def _http(url: str, body: bytes | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _until_serving(url: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _http(url)
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing answers on {url}"
            time.sleep(0.1)


def test_the_corpus_rest_routes_call_and_serve_http(tmp_path, corpus, mosquitto):
    port = free_port()
    with HttpApi() as api:
        api.answer("/v1/forecast", status=200, body=b'{"city":"Porto","max":24}')
        tree = _build(tmp_path, corpus, api.url, port)
        process = SiteProcess(
            tree,
            "gateway",
            mosquitto,
            log=tmp_path / "site.log",
            env={"LOT_SECRET_WEATHER_API_KEY": "Bearer k3y"},
        ).start()
        try:
            process.wait_online("gateway")
            with mosquitto.collect("weather/forecast", "system/commands") as seen:
                mosquitto.publish("weather/request", b"Porto")
                mosquitto.publish("sensors/upload", b'{"id": 7, "t": 21.5}')
                seen.wait_for(1, timeout=15)
                requests = api.wait_for(2)
                base = f"http://127.0.0.1:{port}"
                _until_serving(f"{base}/api/status")
                mosquitto.publish("system/status", b"running", retain=True)
                deadline = time.monotonic() + 5
                while _http(f"{base}/api/status")[0] != 200:
                    assert time.monotonic() < deadline, process.output()
                    time.sleep(0.05)
                assert _http(f"{base}/api/status") == (200, b"running")
                assert _http(f"{base}/api/command", b"reboot")[0] == 202
                seen.wait_for(2)
        finally:
            process.stop()
    assert seen.payloads("weather/forecast") == [b'{"city":"Porto","max":24}']
    assert seen.payloads("system/commands") == [b"reboot"]
    by_path = {r.path: r for r in requests}
    forecast = by_path["/v1/forecast?city=Porto"]
    assert forecast.headers["Authorization"] == "Bearer k3y"
    reading = by_path["/v1/readings"]
    assert reading.method == "POST"
    assert json.loads(reading.body) == {"id": 7, "t": 21.5}
