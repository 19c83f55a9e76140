"""``simgate emulator``: run (subprocess, SIGTERM), inject/status/fault against it, errors."""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.emulator import EmulatorHost, Timing
from gateway.emulator.cli import register_cli

REPO = Path(__file__).resolve().parents[2]
RUNNER = ("import argparse, sys\nfrom gateway.emulator.cli import register_cli\n"
          "p = argparse.ArgumentParser(prog='simgate')\ns = p.add_subparsers(dest='command')\n"
          "register_cli(s)\na = p.parse_args(sys.argv[1:])\nsys.exit(a.func(a))\n")


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="simgate")
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return int(args.func(args))


@pytest.fixture
def host(tmp_path: Path) -> Iterator[EmulatorHost]:
    emulator = EmulatorHost(tmp_path, timing=Timing.fast(), peers=1, name="cli-test")
    emulator.start()
    yield emulator
    emulator.stop()


def test_inject_status_fault(host: EmulatorHost, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(host.state_dir)
    assert run_cli("emulator", "inject", "--state-dir", d, "--from", "+447911123456",
                   "--text", "Hello " * 40) == 0
    assert "injected 2 part(s) to +447700900001" in capsys.readouterr().out
    assert run_cli("emulator", "inject", "--state-dir", d, "--to", "+447700900002", "--from",
                   "BANK", "--data", "0001ff") == 0
    assert run_cli("emulator", "inject", "--state-dir", d, "--from", "x", "--text", "ü",
                   "--ucs2") == 0
    modem = host.modem
    assert modem.wait_until(lambda: len(modem.received) == 3, 3)
    assert modem.received[2].text == "ü"
    capsys.readouterr()
    assert run_cli("emulator", "status", "--state-dir", d) == 0
    out = capsys.readouterr().out
    assert "cli-test  +447700900001  sim800  ready  registered" in out
    assert "recv  <- +447911123456  part 1/2" in out and "data 0001FF" in out
    assert run_cli("emulator", "status", "--state-dir", d, "--json") == 0
    assert json.loads(capsys.readouterr().out)[1]["received"][0]["from"] == "BANK"
    assert run_cli("emulator", "fault", "--state-dir", d, "cms_errors", "500", "2") == 0
    assert modem.faults.take_cms_error() == 500
    assert run_cli("emulator", "outcome", "--state-dir", d, "+33*", "permanent") == 0
    assert modem.network.outcome_for("+331")[0] == "permanent"


@pytest.mark.parametrize("argv", [
    ("emulator", "status"),
    ("emulator", "inject", "--from", "x", "--text", "y"),
    ("emulator", "fault", "reset"),
])
def test_no_emulator_running_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                argv: tuple[str, ...]) -> None:
    assert run_cli(*argv, "--state-dir", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no emulator running" in err and "Traceback" not in err


def test_bad_requests_exit_2(host: EmulatorHost, capsys: pytest.CaptureFixture[str]) -> None:
    d = str(host.state_dir)
    assert run_cli("emulator", "inject", "--state-dir", d, "--from", "x", "--data", "zz") == 2
    assert run_cli("emulator", "inject", "--state-dir", d, "--to", "+1555", "--from", "x",
                   "--text", "t") == 2
    assert run_cli("emulator", "fault", "--state-dir", d, "urc") == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and all(line.startswith("simgate emulator: ") for line in err)


def test_run_prints_pty_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", RUNNER, "emulator", "--state-dir",
                                str(tmp_path), "--profile", "sim7600", "--timing", "fast"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        pty_path = process.stdout.readline().strip()
        assert pty_path.startswith("/dev/pts/")
        assert run_cli("emulator", "status", "--state-dir", str(tmp_path)) == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
    assert not (tmp_path / "emulator.sock").exists()
    assert "Traceback" not in (process.stderr.read() if process.stderr else "")


def test_run_refuses_a_second_emulator(host: EmulatorHost,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("emulator", "run", "--state-dir", str(host.state_dir)) == 2
    assert "already running" in capsys.readouterr().err


def test_docs_name_every_subcommand_fault_and_timing_field() -> None:
    import dataclasses

    from gateway.emulator.faults import FAULT_KINDS
    docs = (REPO / "docs" / "emulator.md").read_text()
    for sub in ("run", "inject", "status", "fault", "outcome"):
        assert f"simgate emulator {sub}" in docs or f"[{sub}]" in docs, sub
    for kind in FAULT_KINDS:
        assert f"`{kind}(" in docs or f"`{kind}()`" in docs or f"/ `{kind}()`" in docs, kind
    for timing_field in dataclasses.fields(Timing):
        assert timing_field.name in docs, timing_field.name
