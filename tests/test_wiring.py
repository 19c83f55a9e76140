"""Guard rail (issue 8): every key documented in docs/configuration.md changes the assembled runtime.

Presence is not truth: ``modem.baudrate`` and ``ussd_balance_code`` were once documented, kept
alive by the docs test, and read by nothing. Here each documented key is set to a non-default
value, the gateway is assembled with test doubles (no port is opened, nothing is started), and a
probe looks at what was built, or at what it does (a submit, an inbound PDU, a balance query),
never at the ``Config`` itself. A new key needs a probe, and a probe needs a difference.
"""
from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pytest
from gpiozero.pins.mock import MockFactory

from gateway.clock import ManualClock
from gateway.config import Config, all_keys
from gateway.errors import GatewayError
from gateway.runtime import Runtime, assemble
from gateway.service import Destination, SubmitRequest
from gateway.sms import encode_deliver_text
from tests.hashing import CHEAP_HASHER

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
DOCUMENTED = re.findall(r"^\| `([a-z_][a-z0-9_.]*)` \|", DOC.read_text(), re.M)
NOT_EMULATOR = {"modem.port": "/dev/fake-serial"}  # assembled, never opened
EMULATOR = {"modem.port": "emulator"}


class TaggedPins(MockFactory):  # type: ignore[misc]
    """A mock pin factory that remembers which ``modem.pin_factory`` name built it."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


def unopened_port(url: str, *args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"assembly opened {url}: it must not touch the port before start")


@dataclass(frozen=True)
class Probe:
    value: Any  # the non-default value; a callable gets the test's tmp_path
    observe: Callable[[Runtime], Any]
    base: Mapping[str, Any] = field(default_factory=lambda: NOT_EMULATOR)


def submitted(rt: Runtime, text: str = "hello") -> Any:
    account, _ = rt.gateway.accounts.create(f"probe{uuid.uuid4().hex[:8]}", "probe-password")
    accepted = rt.gateway.submit(account, SubmitRequest(destinations=(Destination("41793026727"),),
                                                        text=text))
    [message] = accepted.messages
    return account, message


def stored(rt: Runtime, text: str = "hello") -> Any:
    account, message = submitted(rt, text)
    return rt.store.message(account.id, message.message_id)


def logged_price(rt: Runtime) -> Any:
    account, _ = submitted(rt)
    [sent] = rt.gateway.logs(account)
    return sent.price


class FakeUssd:
    def ussd(self, code: str) -> str:
        return f"{code}: your balance is 12.50 EUR, bonus 3"


def balance(rt: Runtime) -> Any:
    rt.gateway.modem = FakeUssd()  # type: ignore[assignment]
    account, _ = rt.gateway.accounts.create(f"probe{uuid.uuid4().hex[:8]}", "probe-password")
    try:
        return rt.gateway.balance(account)
    except GatewayError as exc:
        return type(exc).__name__


def inbound_keyword(rt: Runtime) -> Any:
    [pdu] = encode_deliver_text("+41791234567", "INFO please", timestamp=ManualClock().now())
    record = rt.inbound.handle_pdu(pdu)
    return record.keyword if record is not None else None


def claimed_status_report(rt: Runtime) -> Any:
    submitted(rt)
    job = rt.store.claim_next_part(now=1e12)  # the PDU the dispatcher would send asks for a report?
    return job.status_report if job is not None else None


def second_submit(rt: Runtime) -> Any:
    account, _ = submitted(rt)
    try:
        rt.gateway.submit(account, SubmitRequest(destinations=(Destination("41793026727"),), text="again"))
    except GatewayError as exc:
        return type(exc).__name__
    return "accepted"


SETTINGS = lambda rt: rt.modem.settings  # noqa: E731 - ModemSettings, one field per modem.* key
SERVER = lambda rt: rt.server_options  # noqa: E731 - what create_server hands waitress
DISPATCH = lambda rt: rt.dispatcher.config  # noqa: E731 - the section the dispatcher reads

PROBES: dict[str, Probe] = {
    "state_dir": Probe(lambda tmp: str(tmp / "elsewhere"), lambda rt: rt.store.path),
    "log_level": Probe("DEBUG", lambda rt: rt.log_level),
    "log_retention_hours": Probe(1.0, lambda rt: rt.housekeeping.retention_s),
    "http.host": Probe("0.0.0.0", SERVER),
    "http.port": Probe(8081, SERVER),
    "http.threads": Probe(3, SERVER),
    "http.auth_failure_delay": Probe(1.0, lambda rt: rt.gateway._guard._rate),
    "http.channel_timeout": Probe(7.0, SERVER),
    "http.connection_limit": Probe(33, SERVER),
    "http.cleanup_interval": Probe(1.0, SERVER),
    "database.path": Probe(lambda tmp: str(tmp / "other.db"), lambda rt: rt.store.path),
    "database.group_commit_max": Probe(8, lambda rt: rt.store.writer._max_batch),
    "modem.port": Probe("/dev/fake-other", lambda rt: rt.modem.port_url),
    "modem.baudrate": Probe(9600, lambda rt: rt.modem.profile.baudrate),
    "modem.profile": Probe("waveshare-sim7600", lambda rt: rt.modem.profile.name),
    "modem.pin": Probe("1234", SETTINGS),
    "modem.smsc": Probe("+447700900999", SETTINGS),
    "modem.msisdn": Probe("+447700900777", lambda rt: rt.inbound.receiver),
    "modem.registration_timeout": Probe(5.0, SETTINGS),
    "modem.command_timeout": Probe(5.0, SETTINGS),
    "modem.send_timeout": Probe(5.0, SETTINGS),
    "modem.prompt_timeout": Probe(5.0, SETTINGS),
    "modem.cnmi": Probe("2,1,0,2,0", SETTINGS),
    "modem.csms": Probe(0, SETTINGS),
    "modem.use_cmms": Probe(False, SETTINGS),
    "modem.health_interval": Probe(5.0, SETTINGS),
    "modem.rescan_interval": Probe(5.0, SETTINGS),
    "modem.probe_attempts": Probe(5, SETTINGS),
    "modem.probe_timeout": Probe(5.0, SETTINGS),
    "modem.registration_poll": Probe(5.0, SETTINGS),
    "modem.sms_ready_poll": Probe(5.0, SETTINGS),
    "modem.under_voltage_backoff": Probe(5.0, SETTINGS),
    "modem.retry_interval": Probe(5.0, SETTINGS),
    "modem.port_retry_interval": Probe(1.0, SETTINGS),
    "modem.handover_retry": Probe(1.0, SETTINGS),
    "modem.power_off_on_stop": Probe(True, lambda rt: rt.power_off_on_stop),
    "modem.pin_factory": Probe("mock", lambda rt: rt.pin_factory.name),
    "emulator.profile": Probe("sim7600", lambda rt: rt.emulator.modem.profile, EMULATOR),
    "emulator.msisdn": Probe("+447700900555", lambda rt: (rt.emulator.modem.msisdn,
                                                          rt.inbound.receiver), EMULATOR),
    "emulator.timing": Probe("fast", lambda rt: rt.emulator.modem.timing, EMULATOR),
    "sending.max_parts": Probe(2, lambda rt: submitted(rt, "x" * 400)[1].status.name),
    "sending.ref16": Probe(True, lambda rt: submitted(rt, "x" * 306)[1].sms_count),
    "sending.status_report": Probe(False, claimed_status_report),
    "limits.messages_per_minute": Probe(1, second_submit),
    "sending.validity_minutes": Probe(10, lambda rt: stored(rt).expires_at),
    "sending.retry_base": Probe(1.0, DISPATCH),
    "sending.retry_max": Probe(60.0, DISPATCH),
    "sending.max_attempts": Probe(2, DISPATCH),
    "sending.in_doubt": Probe("resend", DISPATCH),
    "sending.rate_per_minute": Probe(6.0, DISPATCH),
    "inbound.keywords": Probe(("STOP",), inbound_keyword),
    "inbound.reassembly_timeout": Probe(10.0, lambda rt: rt.inbound.config),
    "account.balance_ussd": Probe("*100#", balance),
    "account.balance_pattern": Probe(r"bonus (\d+)", balance,
                                     {**NOT_EMULATOR, "account.balance_ussd": "*100#"}),
    "account.currency": Probe("GBP", logged_price),
    "account.price_per_message": Probe(0.05, logged_price),
    "log.numbers": Probe(True, lambda rt: (str(rt.gateway._number("41793026727")),
                                           str(rt.inbound._number("41793026727")))),
}


def with_settings(config: Config, settings: Mapping[str, Any]) -> Config:
    for key, value in settings.items():
        *sections, name = key.split(".")
        config = _replace(config, sections, name, value)
    return config


def _replace(obj: Any, sections: list[str], name: str, value: Any) -> Any:
    if not sections:
        return dataclasses.replace(obj, **{name: value})
    head, *rest = sections
    return dataclasses.replace(obj, **{head: _replace(getattr(obj, head), rest, name, value)})


def observe(config: Config, probe: Probe) -> Any:
    rt = assemble(config.validate(), clock=ManualClock(), serial_factory=unopened_port,
                  pin_factory=TaggedPins, hasher=CHEAP_HASHER)
    try:
        return probe.observe(rt)
    finally:
        rt.stop()


def test_the_documented_keys_are_the_config_keys_and_each_has_a_probe() -> None:
    assert len(DOCUMENTED) == len(set(DOCUMENTED)), "a key is documented twice"
    assert sorted(DOCUMENTED) == sorted(all_keys(Config))
    assert sorted(PROBES) == sorted(DOCUMENTED), "a documented key needs a probe here"


@pytest.mark.parametrize("key", DOCUMENTED)
def test_every_documented_key_changes_the_assembled_runtime(key: str, tmp_path: Path) -> None:
    probe = PROBES[key]
    base = with_settings(Config(state_dir=str(tmp_path / "state")), probe.base)
    value = probe.value(tmp_path) if callable(probe.value) else probe.value
    changed = with_settings(base, {key: value})
    assert changed != base, f"{key}: the probe value {value!r} is the default"
    assert observe(base, probe) != observe(changed, probe), \
        f"{key} = {value!r} changed nothing the assembled runtime shows: is it read at all?"


def test_every_modem_setting_is_reached_by_a_documented_key(tmp_path: Path) -> None:
    """A ModemSettings field no key sets is dead policy (``ussd_balance_code`` was one: the
    balance route reads ``account.balance_ussd``, nothing read the modem's copy)."""
    base = with_settings(Config(state_dir=str(tmp_path / "state")), NOT_EMULATOR)
    default = observe(base, Probe(None, SETTINGS))
    reached: set[str] = set()
    for key, probe in PROBES.items():
        if key.startswith("modem.") and probe.observe is SETTINGS:
            changed = observe(with_settings(base, {key: probe.value}), probe)
            reached |= {f.name for f in dataclasses.fields(changed)
                        if getattr(changed, f.name) != getattr(default, f.name)}
    assert reached == {f.name for f in dataclasses.fields(default)}
