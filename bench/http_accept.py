"""(a) accepted messages/s for text/single over HTTP keep-alive, (c) gateway RSS after N messages.

Starts the real `simgate run` (emulated modem with real-modem timing, so the dispatcher costs what
it costs on a Pi: next to nothing) in a temporary state directory. The load comes from `wrk`
(Debian package) when it is installed, a C client that leaves the CPU to the gateway; otherwise
from Python client processes on keep-alive connections, which compete with the server for the
two cores and so under-report.
"""
from __future__ import annotations

import base64
import http.client
import json
import multiprocessing as mp
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

USER, PASSWORD = "bench", "bench-password-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _client(port: int, count: int, out: mp.Queue) -> None:
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    headers = {"Authorization": auth, "Content-Type": "application/json", "Accept": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies = []
    errors = 0
    for i in range(count):
        body = json.dumps({"from": "InfoSMS", "to": f"4179{os.getpid() % 1000:03d}{i:04d}", "text": "Bench SMS."})
        t = time.perf_counter()
        conn.request("POST", "/restapi/sms/1/text/single", body, headers)
        resp = conn.getresponse()
        resp.read()
        latencies.append(time.perf_counter() - t)
        if resp.status != 200:
            errors += 1
    conn.close()
    out.put((latencies, errors))


WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "%s"
counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, nil, nil, string.format('{"from":"InfoSMS","to":"4179%%07d","text":"Bench SMS."}', counter))
end
"""


def _wrk(port: int, total: int, tmp: str) -> dict[str, float] | None:
    """Run wrk for as long as ``total`` requests take at the measured rate (bounded to 5-30 s)."""
    if shutil.which("wrk") is None:
        return None
    auth = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    script = Path(tmp) / "post.lua"
    script.write_text(WRK_SCRIPT % auth)
    out = subprocess.run(
        ["wrk", "-t1", "-c16", "-d10s", "--latency", "-s", str(script), f"http://127.0.0.1:{port}/restapi/sms/1/text/single"],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    lat = {p: float(v) * scale[u] for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    done = int(re.search(r"(\d+) requests in", out).group(1))
    return {"http_client": 1.0, "http_requests": float(done), "http_accept_per_s": rate,
            "http_p50_ms": lat.get("50", 0.0), "http_p99_ms": lat.get("99", 0.0),
            "http_errors": float(errors.group(1)) if errors else 0.0}


def run(total: int = 10_000, clients: int = 8) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIMGATE_")}
        env.update(SIMGATE_STATE_DIR=tmp, SIMGATE_HTTP_PORT=str(port), SIMGATE_EMULATOR_TIMING="real",
                   SIMGATE_LOG_LEVEL="WARNING")
        cmd = [sys.executable, "-m", "gateway.cli"]
        subprocess.run([*cmd, "user", "add", USER, "--password", PASSWORD], env=env, check=True, capture_output=True)
        proc = subprocess.Popen([*cmd, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                    break
                except urllib.error.HTTPError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("gateway did not start")
                    time.sleep(0.1)
            idle_rss = _rss_kib(proc.pid)
            measured = _wrk(port, total, tmp)
            if measured is not None:
                measured["rss_idle_mib"] = idle_rss / 1024
                measured[f"rss_after_{int(measured['http_requests'])}_mib"] = _rss_kib(proc.pid) / 1024
                return measured
            out: mp.Queue = mp.Queue()
            per = total // clients
            procs = [mp.Process(target=_client, args=(port, per, out)) for _ in range(clients)]
            t0 = time.perf_counter()
            for p in procs:
                p.start()
            results = [out.get() for _ in procs]
            elapsed = time.perf_counter() - t0
            for p in procs:
                p.join()
            latencies = sorted(x for lat, _e in results for x in lat)
            errors = sum(e for _l, e in results)
            rss = _rss_kib(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    n = len(latencies)
    return {
        "http_client": 0.0,  # 0 = Python clients, 1 = wrk
        "http_requests": float(n),
        "http_accept_per_s": n / elapsed,
        "http_p50_ms": latencies[n // 2] * 1000,
        "http_p99_ms": latencies[int(n * 0.99) - 1] * 1000,
        "http_errors": float(errors),
        "rss_idle_mib": idle_rss / 1024,
        f"rss_after_{n}_mib": rss / 1024,
    }
