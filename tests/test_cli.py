from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gateway.cli import _announce_demo, build_parser
from gateway.cli import main as cli_main
from gateway.config import Config
from gateway.runtime import DemoLogin
from tests.hashing import CHEAP_HASHER


def main(argv: list[str]) -> int:
    return cli_main(argv, hasher=CHEAP_HASHER)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in [k for k in __import__("os").environ if k.startswith("SIMGATE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("SIMGATE_STATE_DIR", str(tmp_path))
    return tmp_path


def test_user_lifecycle(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "add", "alice"]) == 0
    out = capsys.readouterr().out
    assert "alice created; password:" in out
    assert main(["user", "list"]) == 0
    assert capsys.readouterr().out.split() == ["alice"]
    assert main(["user", "passwd", "alice", "--password", "new-password-1"]) == 0
    assert main(["user", "delete", "alice"]) == 0
    assert main(["user", "delete", "alice"]) == 2
    assert "no account" in capsys.readouterr().err


def test_user_add_twice_is_a_clear_error(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "add", "bob", "--password", "bob-password"]) == 0
    assert main(["user", "add", "bob", "--password", "bob-password"]) == 2
    assert "exists" in capsys.readouterr().err


def test_short_password_refused(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["user", "add", "carol", "--password", "short"]) == 2
    assert "8 characters" in capsys.readouterr().err


def test_passwd_has_the_same_password_policy_as_add(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`user passwd` used to write any password straight into the store."""
    from gateway.config import load_config
    from gateway.service import Gateway
    from gateway.store import Store

    assert main(["user", "add", "alice", "--password", "alice-password"]) == 0
    assert main(["user", "passwd", "alice", "--password", "x"]) == 2
    assert "8 characters" in capsys.readouterr().err
    config = load_config()
    gw = Gateway(Store.open(config.database_path), config, hasher=CHEAP_HASHER)
    try:
        assert gw.authenticate("alice", "alice-password") is not None  # unchanged
        assert gw.authenticate("alice", "x") is None
    finally:
        gw.store.close()
    assert main(["user", "passwd", "alice"]) == 0  # generated: printed, and within the policy
    generated = capsys.readouterr().out.rsplit(": ", 1)[1].strip()
    assert len(generated) >= 8
    assert main(["user", "passwd", "nobody", "--password", "long-enough-1"]) == 2
    assert "no account 'nobody'" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["alice\n", "al ice", "a" * 65, "alice/x"])
def test_usernames_must_match_whole(env: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    assert main(["user", "add", name, "--password", "long-enough-1"]) == 2
    assert "username" in capsys.readouterr().err


def test_send_queues_and_inbox_lists(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["user", "add", "demo", "--password", "demo-password"])
    assert main(["send", "--to", "41793026727", "--text", "hello"]) == 0
    assert "MESSAGE_ACCEPTED" in capsys.readouterr().out
    assert main(["send", "--to", "x", "--text", "hello"]) == 2
    assert main(["inbox"]) == 0


def test_db_path(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(env / "simgate.db")
    assert main(["db", "prune"]) == 0


def test_status_without_a_gateway(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--url", "http://127.0.0.1:9/health"]) == 2
    assert "no gateway answers" in capsys.readouterr().err


def test_bad_config_is_one_line(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[http]\nport = 'x'\n")
    assert main(["--config", str(bad), "db", "path"]) == 2
    assert capsys.readouterr().err.startswith("simgate: http.port")


def test_every_command_is_documented() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    missing = [name for name in sub.choices if f"simgate {name}" not in readme]
    assert not missing, f"commands missing from README.md: {missing}"


def test_user_add_says_received_sms_are_shared_by_every_account(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 10 item 14: one tenant read a PIN meant for another."""
    assert main(["user", "add", "dave", "--password", "dave-password"]) == 0
    out = capsys.readouterr().out
    assert "received SMS are shared by every account" in out
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "Received SMS are shared by every account" in readme


class _Out(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@dataclass
class _DemoRuntime:
    """What ``_announce_demo`` reads of a Runtime: its config and the demo login."""

    login: DemoLogin
    config: Config = field(default_factory=Config)

    def ensure_demo_account(self) -> DemoLogin:
        return self.login


@pytest.mark.parametrize(("tty", "demo", "printed"), [
    (True, False, True), (False, False, False), (False, True, True),
])
def test_the_demo_password_is_printed_only_on_a_terminal_or_with_demo(
        tmp_path: Path, tty: bool, demo: bool, printed: bool) -> None:
    """Under systemd stdout is the journal, which more people read than the 0600 file."""
    rt = _DemoRuntime(DemoLogin("demo", "s3cret-demo-pw", tmp_path / "demo-credentials"))
    out = _Out(tty)
    _announce_demo(rt, out, demo=demo)  # type: ignore[arg-type]
    text = out.getvalue()
    assert ("s3cret-demo-pw" in text) is printed
    assert str(tmp_path / "demo-credentials") in text


def test_an_existing_demo_password_is_never_printed(tmp_path: Path) -> None:
    rt = _DemoRuntime(DemoLogin("demo", None, tmp_path / "demo-credentials"))
    out = _Out(True)
    _announce_demo(rt, out, demo=True)  # type: ignore[arg-type]
    assert "password in" in out.getvalue()
