"""GET /health and the root app's own refusals."""
from __future__ import annotations

from typing import Any

import pytest

from gateway.api import build_app
from gateway.errors import StoreError
from gateway.modem.health import ModemHealth, ModemState
from tests.api.conftest import ALICE, Client


class _Modem:
    """A ModemView with a fixed state (the service asks only health() and ussd())."""

    def __init__(self, state: ModemState) -> None:
        self.state = state

    def health(self) -> ModemHealth:
        return ModemHealth(state=self.state, rssi=17, imei="490154203237518")

    def ussd(self, code: str, timeout: float = 30) -> str:
        raise AssertionError("not used")


def test_health_needs_no_credentials_and_is_503_without_a_modem(client: Client) -> None:
    r = client.get("/health", auth=None)
    assert r.status == 503
    assert r.json["status"] == "degraded"
    assert r.json["modem"] == {"state": "absent"}
    assert r.headers["Content-Type"].startswith("application/json")


def test_health_is_200_when_the_modem_is_ready(gateway: Any) -> None:
    gateway.modem = _Modem(ModemState.READY)
    r = Client(build_app(gateway), auth=None).get("/health")
    assert r.status == 200
    assert r.json == {"status": "ok", "modem": {"state": "ready"}}  # anonymous: nothing more


def test_health_in_detail_for_an_authenticated_caller(gateway: Any) -> None:
    gateway.modem = _Modem(ModemState.READY)
    body = Client(build_app(gateway), auth=ALICE).get("/health").json
    assert set(body) == {"status", "uptime", "queuedParts", "messages", "modem", "modemEvents"}
    assert (body["modem"]["state"], body["modem"]["rssi"], body["modem"]["imei"]) == ("ready", 17, "490154203237518")
    assert body["modem"]["counters"]["statusReports"] == 0  # snake_case fields get camelCase keys


@pytest.mark.parametrize("state", [s for s in ModemState if s is not ModemState.READY])
def test_health_is_degraded_in_every_modem_state_but_ready(gateway: Any, state: ModemState) -> None:
    gateway.modem = _Modem(state)
    r = Client(build_app(gateway), auth=None).get("/health")
    assert (r.status, r.json) == (503, {"status": "degraded", "modem": {"state": state.value}})


def test_health_with_wrong_credentials_is_401(client: Client) -> None:
    r = client.get("/health", auth=("alice", "not-her-password"))
    assert r.status == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_ready_needs_the_database_not_the_modem(client: Client, gateway: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    r = client.get("/health/ready", auth=None)  # no modem attached at all: still ready
    assert (r.status, r.json) == (200, {"ready": True, "reason": ""})

    def unreadable() -> int:
        raise StoreError("disk I/O error")

    monkeypatch.setattr(gateway.store, "queued_parts", unreadable)
    r = client.get("/health/ready", auth=None)
    assert r.status == 503 and r.json["ready"] is False and r.json["reason"].startswith("database")


def test_health_counts_queued_parts(client: Client) -> None:
    client.post("/restapi/sms/1/text/single", {"to": "41793026727", "text": "x"})
    assert client.get("/health").json["queuedParts"] == 1
    assert "queuedParts" not in client.get("/health", auth=None).json


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
