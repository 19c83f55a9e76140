"""Run a ``curl`` example of docs/api.md against a real waitress serving the gateway.

Why real curl: the example is what a reader pastes; replaying its arguments through our own
client would test our reading of curl, not the example.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from gateway.api import build_app
from gateway.api.server import ServerOptions, create_server, stop_server
from gateway.service import Gateway
from tests.api.conftest import ALICE

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def curl_example(heading: str) -> list[str]:
    """The argv of the first ``sh`` block under ``## heading``."""
    text = DOCS.read_text()
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, f"no curl example under {heading!r}"
    return shlex.split(block.group(1).replace("\\\n", " "))


class Served:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def run(self, argv: list[str]) -> tuple[int, bytes]:
        """Run the example with the test account and this server; (HTTP status, body)."""
        if shutil.which("curl") is None:
            pytest.skip("curl is not installed")
        swaps = {"alice:secret": ":".join(ALICE), "Password=secret": f"Password={ALICE[1]}",
                 "http://127.0.0.1:8080": f"http://{self.host}:{self.port}"}
        args = list(argv)
        for old, new in swaps.items():
            args = [a.replace(old, new) for a in args]
        assert args[0] == "curl"
        done = subprocess.run([*args, "-sS", "-w", "\n%{http_code}"], capture_output=True,
                              timeout=30, check=True)
        body, _, status = done.stdout.rpartition(b"\n")
        return int(status), body


@pytest.fixture
def served(gateway: Gateway) -> Iterator[Served]:
    server: Any = create_server(build_app(gateway), ServerOptions(port=0, threads=2))
    thread = threading.Thread(target=server.run, name="test-docs-waitress", daemon=True)
    thread.start()
    try:
        yield Served("127.0.0.1", server.effective_port)
    finally:
        stop_server(server)
        thread.join(5)
        server.task_dispatcher.shutdown()
