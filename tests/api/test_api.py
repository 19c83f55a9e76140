"""build_app: the root app, the mounted dialects, the docs that list them, and a real waitress."""
from __future__ import annotations

import base64
import http.client
import json
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import waitress

from gateway.api import DIALECTS, build_app
from gateway.api.server import stop_server
from gateway.service import Gateway
from tests.api.conftest import ALICE, Client

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def every_route(gateway: Gateway) -> list[str]:
    routes = [f"{r.method} {r.rule}" for r in build_app(gateway).routes if r.method != "PROXY"]
    for prefix, factory in DIALECTS:
        routes += [f"{r.method} {prefix}{r.rule}" for r in factory(gateway).routes]
    return routes


def test_every_route_is_documented(gateway: Gateway) -> None:
    doc = DOCS.read_text()
    routes = every_route(gateway)
    assert len(routes) >= 11
    missing = [r for r in routes if f"`{r}`" not in doc]
    assert not missing, f"routes missing from docs/api.md: {missing}"


def test_dialects_are_mounted_under_their_prefix(client: Client) -> None:
    assert client.get("/restapi/sms/1/logs").status == 200
    assert client.get("/sms/1/logs").status == 404  # only under the prefix
    assert client.get("/restapi").status == 404


@pytest.fixture
def server(gateway: Gateway) -> Iterator[tuple[str, int]]:
    srv: Any = waitress.create_server(build_app(gateway), host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=srv.run, name="test-waitress", daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", srv.effective_port
    finally:
        stop_server(srv)  # srv.close() from here raced the loop's select (EBADF in its thread)
        thread.join(5)
        srv.task_dispatcher.shutdown()
        assert not thread.is_alive()


def test_through_a_real_waitress_with_a_chunked_body(server: tuple[str, int]) -> None:
    conn = http.client.HTTPConnection(*server, timeout=10)
    token = base64.b64encode(":".join(ALICE).encode()).decode()
    headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}
    body = json.dumps({"from": "InfoSMS", "to": "41793026727", "text": "Test SMS."}).encode()
    conn.request("POST", "/restapi/sms/1/text/single", body=iter([body[:10], body[10:]]), headers=headers,
                 encode_chunked=True)
    r = conn.getresponse()
    answer = json.loads(r.read())
    assert r.status == 200, answer
    assert answer["messages"][0]["status"]["name"] == "MESSAGE_ACCEPTED"
    conn.request("GET", "/restapi/sms/1/logs", headers={"Authorization": f"Basic {token}"})
    r = conn.getresponse()
    assert r.status == 200 and len(json.loads(r.read())["results"]) == 1
    conn.request("GET", "/nowhere")
    r = conn.getresponse()
    assert r.status == 404 and r.getheader("Content-Type").startswith("application/json")
    r.read()
    conn.close()
