"""Browser clients (ALLOWED_ORIGINS): CORS answered by the bridge, over HTTP and through the Function App's handlers.

The preflights ask for exactly the headers the real SDKs send (captured from the `anthropic` and
`openai` clients, plus `anthropic-dangerous-direct-browser-access`, which the JavaScript SDK adds in
a browser), less those a browser sets itself and never lists.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import anthropic
import httpx
import openai
import pytest

from bridge.config.load import load_settings
from bridge.routes import ROUTES
from bridge.serving.cors import EXPOSED_HEADERS
from bridge.serving.process import Bridge, use_bridge
from tests.support.bicep import app_settings, one, param, parameters_file, unwrap
from tests.support.bridge import CLIENT_TOKEN, RunningBridge, bridge_env, running_bridge
from tests.support.direct_requests import make_request
from tests.support.fake_azure import FakeAzure, Text
from tests.support.paths import ROOT
from tests.test_infra import main_params

PAGE = "https://chat.example.com"
LOCAL_PAGE = "http://localhost:3000"
BROWSER_SETS_ITSELF = {"host", "content-length", "accept-encoding", "connection", "user-agent"}
BROWSER_ONLY_HEADERS = {"anthropic-dangerous-direct-browser-access"}
MESSAGE = {"model": "claude-haiku-4-5", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}


class _Capture(BaseHTTPRequestHandler):
    seen: ClassVar[list[list[str]]] = []

    def do_POST(self) -> None:
        self.seen.append([name.lower() for name in self.headers])
        body = b'{"error": {"type": "invalid_request_error", "message": "captured"}}'
        self.send_response(400)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def sdk_header_names(sdk: str) -> list[str]:
    """The request headers the SDK sends for one call, as a browser lists them in Access-Control-Request-Headers."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    _Capture.seen.clear()
    try:
        with pytest.raises((anthropic.BadRequestError, openai.BadRequestError)):
            if sdk == "anthropic":
                with anthropic.Anthropic(api_key="k", base_url=url, max_retries=0) as claude:
                    claude.messages.create(**MESSAGE)  # type: ignore[call-overload]
            else:
                with openai.OpenAI(api_key="k", base_url=url + "/v1", max_retries=0) as cursor:
                    cursor.chat.completions.create(model="gpt-5", messages=[{"role": "user", "content": "hi"}])
    finally:
        server.shutdown()
        server.server_close()
    names = set(_Capture.seen[0]) - BROWSER_SETS_ITSELF
    if sdk == "anthropic":
        names |= BROWSER_ONLY_HEADERS
    return sorted(names)


@pytest.fixture(scope="module")
def listed(fake_azure: FakeAzure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    env = bridge_env(fake_azure, ALLOWED_ORIGINS=f"{PAGE}, {LOCAL_PAGE}/")
    with running_bridge(env, tmp_path_factory.mktemp("cors") / "bridge.log", in_process=True) as running:
        yield running


@pytest.fixture(scope="module")
def anyone(fake_azure: FakeAzure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBridge]:
    env = bridge_env(fake_azure, ALLOWED_ORIGINS="*")
    with running_bridge(env, tmp_path_factory.mktemp("cors") / "bridge.log", in_process=True) as running:
        yield running


def preflight(url: str, path: str, origin: str, method: str, headers: list[str]) -> httpx.Response:
    asked = {"origin": origin, "access-control-request-method": method, "access-control-request-headers": ",".join(headers)}
    return httpx.options(url + path, headers=asked, timeout=10)


def cors_headers(response: httpx.Response | Any) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def assert_allows(response: httpx.Response, origin: str, method: str, headers: list[str]) -> None:
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == origin
    assert method in [m.strip() for m in response.headers["access-control-allow-methods"].split(",")]
    allowed = {h.strip().lower() for h in response.headers.get("access-control-allow-headers", "").split(",")}
    assert set(headers) <= allowed, f"not allowed: {sorted(set(headers) - allowed)}"
    assert int(response.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in response.headers


def test_the_setting_takes_origins_or_a_lone_wildcard() -> None:
    settings = load_settings({"ALLOWED_ORIGINS": "https://Chat.Example.com/, http://localhost:3000"})
    assert settings.allowed_origins == {"https://chat.example.com", "http://localhost:3000"}
    assert load_settings({"ALLOWED_ORIGINS": "*"}).allowed_origins == {"*"}
    assert load_settings({}).allowed_origins == frozenset()
    for bad in ("https://a.example/app", "null", "*, https://a.example", "chat.example.com"):
        settings = load_settings({"ALLOWED_ORIGINS": bad})
        assert settings.allowed_origins == frozenset()
        assert any(p.startswith("ALLOWED_ORIGINS must") for p in settings.problems), bad


@pytest.mark.parametrize(("sdk", "path"), [("anthropic", "/v1/messages"), ("openai", "/v1/chat/completions")])
def test_a_listed_page_may_send_what_the_sdk_sends(listed: RunningBridge, sdk: str, path: str) -> None:
    headers = sdk_header_names(sdk)
    assert "x-stainless-lang" in headers and ("x-api-key" in headers or "authorization" in headers)
    for origin in (PAGE, LOCAL_PAGE):
        response = preflight(listed.url, path, origin, "POST", headers)
        assert_allows(response, origin, "POST", headers)
        assert response.headers["vary"] == "Origin"


def test_preflights_name_the_methods_of_the_path(listed: RunningBridge) -> None:
    keys = preflight(listed.url, "/v1/keys", PAGE, "GET", ["authorization"])
    assert_allows(keys, PAGE, "GET", ["authorization"])
    assert {m.strip() for m in keys.headers["access-control-allow-methods"].split(",")} == {"POST", "GET", "OPTIONS"}
    assert_allows(preflight(listed.url, "/v1/keys/key_1", PAGE, "DELETE", []), PAGE, "DELETE", [])
    wrong_method = preflight(listed.url, "/v1/messages", PAGE, "DELETE", ["x-api-key"])
    assert wrong_method.status_code == 204 and not cors_headers(wrong_method)
    nowhere = preflight(listed.url, "/v1/nothing-here", PAGE, "POST", ["x-api-key"])
    assert nowhere.status_code == 404 and not cors_headers(nowhere)


def test_a_streamed_answer_reaches_a_listed_page(listed: RunningBridge, fake_azure: FakeAzure) -> None:
    fake_azure.enqueue(Text("Streamed to a web page.", pieces=4))
    headers = {"origin": PAGE, "x-api-key": CLIENT_TOKEN, "anthropic-version": "2023-06-01"}
    with httpx.stream("POST", listed.url + "/v1/messages", json={**MESSAGE, "stream": True}, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == PAGE
        exposed = {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}
        assert {"request-id", "retry-after", "x-should-retry"} <= exposed
        assert "Origin" in response.headers["vary"]
        assert "access-control-allow-credentials" not in response.headers
        body = b"".join(response.iter_bytes())
    assert b"event: message_stop" in body


def test_errors_reach_a_listed_page_too(listed: RunningBridge) -> None:
    refused = httpx.post(listed.url + "/v1/messages", json=MESSAGE, headers={"origin": PAGE, "x-api-key": "wrong"})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == PAGE
    assert refused.json()["type"] == "error"
    wrong_method = httpx.get(listed.url + "/v1/messages", headers={"origin": PAGE})
    assert wrong_method.status_code == 405 and wrong_method.headers["access-control-allow-origin"] == PAGE


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "https://chat.example.com.evil.example", "null", "http://chat.example.com"]
)
def test_any_other_origin_gets_no_cors_header(listed: RunningBridge, origin: str) -> None:
    headers = sdk_header_names("anthropic")
    refused = preflight(listed.url, "/v1/messages", origin, "POST", headers)
    assert refused.status_code == 204 and not cors_headers(refused)
    assert "POST" in refused.headers["allow"]
    answer = httpx.get(listed.url + "/health", headers={"origin": origin})
    assert answer.status_code == 200 and not cors_headers(answer)


def test_unset_means_no_cors_at_all(bridge: RunningBridge) -> None:
    response = preflight(bridge.url, "/v1/messages", PAGE, "POST", sdk_header_names("anthropic"))
    assert response.status_code == 204 and not cors_headers(response)
    assert not cors_headers(httpx.get(bridge.url + "/health", headers={"origin": PAGE}))


def test_a_wildcard_allows_any_page_but_never_credentials(anyone: RunningBridge) -> None:
    headers = sdk_header_names("openai")
    response = preflight(anyone.url, "/v1/chat/completions", "https://anywhere.example", "POST", headers)
    assert_allows(response, "*", "POST", headers)
    assert "vary" not in response.headers
    answer = httpx.get(anyone.url + "/health", headers={"origin": "https://anywhere.example"})
    assert answer.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in answer.headers
    assert not cors_headers(httpx.get(anyone.url + "/health")), "no Origin, no CORS headers"


@pytest.mark.anyio
async def test_the_function_app_answers_cors_like_python_m_bridge(fake_azure: FakeAzure) -> None:
    """The worker calls the handlers function_app registers for the routes (test_worker_indexing checks the names and
    bindings); they answer CORS themselves, the platform's being off."""
    with use_bridge(Bridge(load_settings(bridge_env(fake_azure, ALLOWED_ORIGINS=PAGE)))):
        handlers = {route.name: route.handler for route in ROUTES}
        asked = {"origin": PAGE, "access-control-request-method": "POST", "access-control-request-headers": "x-api-key"}
        answered = await handlers["preflight"](make_request("OPTIONS", "/v1/messages", headers=asked))
        assert answered.status_code == 204
        assert cors_headers(answered)["access-control-allow-origin"] == PAGE
        assert "x-api-key" in cors_headers(answered)["access-control-allow-headers"]
        fake_azure.enqueue(Text("From the Function App.", pieces=3))
        body = json.dumps({**MESSAGE, "stream": True}).encode()
        response = await handlers["messages"](
            make_request("POST", "/v1/messages", body, {"x-api-key": CLIENT_TOKEN, "origin": PAGE})
        )
        assert response.headers["access-control-allow-origin"] == PAGE
        assert set(EXPOSED_HEADERS) == {h.strip() for h in response.headers["access-control-expose-headers"].split(",")}
        other = await handlers["health"](make_request("GET", "/health", headers={"origin": "https://evil.example"}))
        assert not cors_headers(other)


def test_the_deployment_passes_the_setting_and_keeps_the_platforms_cors_off() -> None:
    assert parameters_file()["allowedOrigins"]["value"] == "${ALLOWED_ORIGINS}"
    assert param("main.bicep", "allowedOrigins")["default"] == ""
    assert main_params("functionApp")["allowedOrigins"] == "allowedOrigins"
    assert app_settings()["ALLOWED_ORIGINS"] == "allowedOrigins"
    cors = one("functionapp.bicep", "Microsoft.Web/sites")["properties"]["siteConfig"]["cors"]
    assert unwrap(cors) == {"allowedOrigins": [], "supportCredentials": False}, "the platform's CORS would override the bridge's"
    host = json.loads((ROOT / "local.settings.sample.json").read_text())["Host"]
    assert "CORS" not in host and "CORSCredentials" not in host, "func start would answer CORS before the bridge"
