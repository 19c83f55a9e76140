"""GET /health and the root app's own refusals."""
from __future__ import annotations

from typing import Any

from gateway.api import build_app
from tests.api.conftest import Client


class _Modem:
    """A ModemView with a fixed state (the service asks only health() and ussd())."""

    def __init__(self, state: str) -> None:
        self.state = state

    def health(self) -> dict[str, Any]:
        return {"state": self.state, "signal": 17}

    def ussd(self, code: str, timeout: float = 30) -> str:
        raise AssertionError("not used")


def test_health_needs_no_credentials_and_is_503_without_a_modem(client: Client) -> None:
    r = client.get("/health", auth=None)
    assert r.status == 503
    assert r.json["status"] == "degraded"
    assert r.json["modem"] == {"state": "absent"}
    assert r.headers["Content-Type"].startswith("application/json")


def test_health_is_200_when_the_modem_is_ready(gateway: Any) -> None:
    gateway.modem = _Modem("ready")
    r = Client(build_app(gateway), auth=None).get("/health")
    assert r.status == 200
    body = r.json
    assert body["status"] == "ok"
    assert body["modem"] == {"state": "ready", "signal": 17}
    assert set(body) == {"status", "uptime", "queuedParts", "messages", "modem", "modemEvents"}


def test_health_counts_queued_parts(client: Client) -> None:
    client.post("/restapi/sms/1/text/single", {"to": "41793026727", "text": "x"})
    assert client.get("/health").json["queuedParts"] == 1


def test_unknown_root_path_is_a_json_404(client: Client) -> None:
    r = client.get("/nope")
    assert r.status == 404
    assert r.json == {"error": {"status": 404, "text": "no such resource: GET /nope"}}


def test_wrong_method_on_health_is_a_json_405(client: Client) -> None:
    r = client.request("POST", "/health")
    assert r.status == 405
    assert r.headers["Allow"] == "GET"
    assert r.json["error"]["status"] == 405


def test_health_in_xml(client: Client) -> None:
    r = client.get("/health", headers={"Accept": "application/xml"})
    assert r.xml.tag == "health"
    assert r.xml.findtext("status") == "degraded"
