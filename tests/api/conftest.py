"""In-process fixtures: a real Gateway on a real Store (tmp SQLite), driven through WSGI.

``Client`` calls the WSGI callable wrapped in ``wsgiref.validate`` (which checks we follow PEP
3333), so no server, socket or thread is involved.
"""
from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlencode
from wsgiref.headers import Headers
from wsgiref.validate import validator
from xml.etree import ElementTree

import pytest

from gateway.api import build_app
from gateway.clock import ManualClock
from gateway.config import AccountConfig, Config, HttpConfig
from gateway.service import Gateway
from gateway.store import Store
from tests.hashing import CHEAP_HASHER

START = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=timezone.utc)
ALICE = ("alice", "alice-secret-1")
BOB = ("bob", "bob-secret-22")


@dataclass
class Response:
    status: int
    headers: Headers  # case-insensitive, as HTTP header names are
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def xml(self) -> ElementTree.Element:
        return ElementTree.fromstring(self.body)


class Client:
    def __init__(self, app: Any, auth: tuple[str, str] | None = ALICE) -> None:
        self.app = validator(app)
        self.auth = auth

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        json_body: Any = None,
        query: dict[str, Any] | list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None | bool = True,
        content_type: str | None = None,
    ) -> Response:
        if json_body is not None:
            body = json.dumps(json_body).encode()
            content_type = content_type or "application/json"
        body = body or b""
        env: dict[str, Any] = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": path,
            "QUERY_STRING": urlencode(query, doseq=True) if query else "",
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(body)) if body else "",
        }
        if content_type:
            env["CONTENT_TYPE"] = content_type
        credentials = self.auth if auth is True else (auth or None)
        if credentials:
            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()
            env["HTTP_AUTHORIZATION"] = f"Basic {token}"
        for key, value in (headers or {}).items():
            env["HTTP_" + key.upper().replace("-", "_")] = value
        captured: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        result = self.app(env, start_response)
        try:
            data = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        return Response(int(captured["status"].split()[0]), Headers(list(captured["headers"])), data)

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, payload: Any = None, **kw: Any) -> Response:
        return self.request("POST", path, json_body=payload, **kw)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def make_config(**account: Any) -> Config:
    return Config(http=HttpConfig(auth_failure_delay=0.0), account=AccountConfig(**account))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "simgate.db")
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def gateway(store: Store, clock: ManualClock) -> Gateway:
    gw = Gateway(store, make_config(price_per_message=0.01), clock=clock, hasher=CHEAP_HASHER)
    gw.create_account(*ALICE)
    gw.create_account(*BOB)
    return gw


@pytest.fixture
def app(gateway: Gateway) -> Any:
    return build_app(gateway)


@pytest.fixture
def client(app: Any) -> Client:
    return Client(app)


@pytest.fixture
def bob(app: Any) -> Client:
    return Client(app, BOB)
