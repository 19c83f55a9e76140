from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.clock import ManualClock
from gateway.config import Config, SendingConfig
from gateway.errors import AtTimeoutError, FeatureUnavailableError, ModemUnavailableError, ValidationError
from gateway.errors import UnexpectedReplyError
from gateway.service import Destination, Gateway, LogQuery, SubmitRequest, normalise_number
from gateway.lifecycle import MessageState
from gateway.store import Store
from tests.hashing import CHEAP_HASHER


@pytest.fixture
def gw(store: Store) -> Gateway:
    cfg = Config(sending=replace(SendingConfig(), max_parts=3))
    woken: list[int] = []
    g = Gateway(store, cfg, clock=ManualClock(), on_accepted=lambda: woken.append(1), hasher=CHEAP_HASHER)
    g.woken = woken  # type: ignore[attr-defined]
    return g


@pytest.fixture
def alice(gw: Gateway):
    account, _pw = gw.create_account("alice", "alice-password")
    return account


def test_authenticate(gw: Gateway, alice) -> None:
    assert gw.authenticate("alice", "alice-password") == alice
    assert gw.authenticate("alice", "alice-password") == alice  # cached path
    assert gw.authenticate("nobody", "x") is None


def test_submit_is_stored_before_it_returns(gw: Gateway, alice) -> None:
    accepted = gw.submit(alice, SubmitRequest(destinations=(Destination("+41 79 302 67 27"),), sender="InfoSMS", text="Test SMS."))
    [m] = accepted.messages
    assert (m.to, m.sms_count, m.status.name) == ("41793026727", 1, "MESSAGE_ACCEPTED")
    assert accepted.bulk_id is None
    rec = gw.store.message(alice.id, m.message_id)
    assert rec is not None and rec.state is MessageState.ACCEPTED and rec.text == "Test SMS."
    assert gw.woken == [1]


def test_several_destinations_get_a_bulk_id(gw: Gateway, alice) -> None:
    accepted = gw.submit(alice, SubmitRequest(destinations=(Destination("41793026727"), Destination("41793026728")), text="hi"))
    assert accepted.bulk_id and len({m.message_id for m in accepted.messages}) == 2
    logs = gw.logs(alice, LogQuery(bulk_ids=(accepted.bulk_id,)))
    assert {m.to for m in logs} == {"41793026727", "41793026728"}


def test_sms_count_matches_the_codec(gw: Gateway, alice) -> None:
    [m] = gw.submit(alice, SubmitRequest(destinations=(Destination("41793026727"),), text="a" * 161)).messages
    assert m.sms_count == 2
    assert len(gw.store.message_parts(gw.store.message(alice.id, m.message_id).pk)) == 2


def test_too_long_is_rejected_with_its_status(gw: Gateway, alice) -> None:
    [m] = gw.submit(alice, SubmitRequest(destinations=(Destination("41793026727"),), text="a" * 1000)).messages
    assert m.status.name == "REJECTED_MESSAGE_TOO_LONG"
    [r] = gw.reports(alice)
    assert r.status.name == "REJECTED_MESSAGE_TOO_LONG"
    assert gw.woken == []  # nothing to send


def test_duplicate_message_id(gw: Gateway, alice) -> None:
    req = SubmitRequest(destinations=(Destination("41793026727", "mine-1"),), text="x")
    assert gw.submit(alice, req).messages[0].status.name == "MESSAGE_ACCEPTED"
    assert gw.submit(alice, req).messages[0].status.name == "REJECTED_DUPLICATE_MESSAGE_ID"


@pytest.mark.parametrize(
    "req, field",
    [
        (SubmitRequest(destinations=()), "to"),
        (SubmitRequest(destinations=(Destination("abc"),), text="x"), "to"),
        (SubmitRequest(destinations=(Destination("12"),), text="x"), "to"),
        (SubmitRequest(destinations=(Destination("41793026727"),)), "text"),
        (SubmitRequest(destinations=(Destination("41793026727"),), text="x", sender="much-too-long-sender"), "from"),
        (SubmitRequest(destinations=(Destination("41793026727"),), text="x", validity_minutes=0), "validityPeriod"),
    ],
)
def test_invalid_requests_name_the_field(gw: Gateway, alice, req: SubmitRequest, field: str) -> None:
    with pytest.raises(ValidationError) as err:
        gw.submit(alice, req)
    assert err.value.field == field


def test_accounts_are_isolated(gw: Gateway, alice) -> None:
    bob, _ = gw.create_account("bob", "bob-password")
    gw.submit(alice, SubmitRequest(destinations=(Destination("41793026727"),), text="x"))
    assert gw.logs(bob) == [] and len(gw.logs(alice)) == 1


def test_log_filters(gw: Gateway, alice) -> None:
    gw.submit(alice, SubmitRequest(destinations=(Destination("41793026727"),), text="x", sender="A1"))
    gw.submit(alice, SubmitRequest(destinations=(Destination("41793026728"),), text="y", sender="B2"))
    assert [m.text for m in gw.logs(alice, LogQuery(sender="B2"))] == ["y"]
    assert [m.text for m in gw.logs(alice, LogQuery(to="41793026727"))] == ["x"]
    assert len(gw.logs(alice, LogQuery(general_status="PENDING"))) == 2
    assert gw.logs(alice, LogQuery(general_status="DELIVERED")) == []
    assert len(gw.logs(alice, LogQuery(limit=1))) == 1
    with pytest.raises(ValidationError):
        gw.logs(alice, LogQuery(general_status="NONSENSE"))
    with pytest.raises(ValidationError):
        gw.logs(alice, LogQuery(limit=0))


def test_normalise_number() -> None:
    assert normalise_number("0041 79 302-67-27") == "41793026727"
    with pytest.raises(ValidationError):
        normalise_number("+")


def test_balance_needs_configuration(gw: Gateway, alice) -> None:
    with pytest.raises(FeatureUnavailableError, match="balance_ussd"):
        gw.balance(alice)


class FakeUssdModem:
    """The ModemView seam: answers USSD with a scripted text or raises a time-out."""

    def __init__(self, answer: str | Exception) -> None:
        self.answer = answer
        self.codes: list[str] = []

    def health(self):  # pragma: no cover - not used here
        return {}

    def ussd(self, code: str, timeout: float = 30) -> str:
        self.codes.append(code)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    "answer, expected",
    [
        ("Your balance is 12,50 EUR. Valid until 01.01.", 12.5),
        (AtTimeoutError("AT+CUSD", 30), ModemUnavailableError),
        ("Service unavailable", UnexpectedReplyError),
    ],
)
def test_balance_by_ussd(gw: Gateway, alice, answer, expected) -> None:
    gw.config = replace(gw.config, account=replace(gw.config.account, balance_ussd="*100#"))
    gw.modem = FakeUssdModem(answer)
    if isinstance(expected, float):
        assert gw.balance(alice).balance == expected
        assert gw.modem.codes == ["*100#"]
    else:
        with pytest.raises(expected):
            gw.balance(alice)


def test_balance_without_modem(gw: Gateway, alice) -> None:
    gw.config = replace(gw.config, account=replace(gw.config.account, balance_ussd="*100#"))
    with pytest.raises(ModemUnavailableError):
        gw.balance(alice)


def test_inbox_logs_filters(gw: Gateway, alice, store: Store) -> None:
    for sender, text in (("4479", "STOP now"), ("4478", "")):
        store.insert_inbound(message_id=sender, sender=sender, receiver="447700900001", text=text or None, data=None,
                             keyword="STOP" if text else None, clean_text="now" if text else None, sms_count=1,
                             complete=True, received_at=1.0)
    assert [m.message_id for m in gw.inbox_logs(alice, keyword="stop")] == ["4479"]
    assert [m.message_id for m in gw.inbox_logs(alice, no_keyword=True)] == ["4478"]
    assert len(gw.inbox_logs(alice, to="+44 7700 900001")) == 2


# ---- issue 10 item 3: a rejected text stores no body; per-account quotas ----

def _db_bytes(store: Store) -> int:
    page_count = store.db.execute_sql("PRAGMA page_count").fetchone()[0]
    page_size = store.db.execute_sql("PRAGMA page_size").fetchone()[0]
    return page_count * page_size


def test_a_too_long_text_to_100_destinations_stores_no_body(gw: Gateway, alice) -> None:
    """A 115 KB text refused as too long added 150 MB (the text once per destination)."""
    text = "x" * 115_000
    before = _db_bytes(gw.store)
    accepted = gw.submit(alice, SubmitRequest(destinations=tuple(Destination(f"4179302{i:04d}") for i in range(100)),
                                              text=text))
    grown = _db_bytes(gw.store) - before
    assert grown < 100_000, grown  # well under 1 MB (was ~11.5 MB here, 150 MB at 1,300 destinations)
    assert {m.status.name for m in accepted.messages} == {"REJECTED_MESSAGE_TOO_LONG"}
    reports = gw.reports(alice, limit=1000)
    assert len(reports) == 100  # the rejection is recorded for every destination...
    assert {r.status.name for r in reports} == {"REJECTED_MESSAGE_TOO_LONG"}
    assert {r.text for r in reports} == {None}  # ...not the text
    assert gw.woken == []


def _limited(store: Store, per_minute: int) -> tuple[Gateway, ManualClock]:
    from gateway.config import LimitsConfig

    clock = ManualClock()
    cfg = Config(sending=replace(SendingConfig(), max_parts=3), limits=LimitsConfig(messages_per_minute=per_minute))
    return Gateway(store, cfg, clock=clock, hasher=CHEAP_HASHER), clock


def _to(*numbers: str, text: str = "x", ids: tuple[str | None, ...] = ()) -> SubmitRequest:
    ids = ids or (None,) * len(numbers)
    return SubmitRequest(destinations=tuple(Destination(n, i) for n, i in zip(numbers, ids)), text=text)


def test_messages_per_minute_is_enforced_per_account(store: Store) -> None:
    from gateway.errors import QuotaExceededError

    gw, clock = _limited(store, 3)
    alice, _ = gw.create_account("alice", "alice-password")
    bob, _ = gw.create_account("bob", "bob-password")
    gw.submit(alice, _to("41793026701", "41793026702"))
    with pytest.raises(QuotaExceededError) as err:
        gw.submit(alice, _to("41793026703", "41793026704"))  # 1 left, 2 asked: none accepted
    assert err.value.retry_after == pytest.approx(20.0) and "3 messages per minute" in str(err.value)
    assert len(gw.logs(alice)) == 2
    gw.submit(bob, _to("41793026705", "41793026706", "41793026707"))  # bob has his own minute
    clock.advance(20.0)
    gw.submit(alice, _to("41793026703", "41793026704"))
    assert len(gw.logs(alice)) == 4
    with pytest.raises(QuotaExceededError) as err:
        gw.submit(alice, _to(*(f"417930267{i:02d}" for i in range(10, 14))))
    assert err.value.retry_after is None and "4 messages in one request" in str(err.value)


def test_what_is_not_queued_does_not_count_against_the_quota(store: Store) -> None:
    gw, _clock = _limited(store, 1)
    alice, _ = gw.create_account("alice", "alice-password")
    gw.submit(alice, _to("41793026701", text="a" * 1000))  # rejected: too long
    gw.submit(alice, _to("41793026702", ids=("mine",)))
    gw.submit(alice, _to("41793026703", ids=("mine",)))  # duplicate: not stored
    assert [m.status.name for m in gw.logs(alice)] == ["PENDING_ENROUTE", "REJECTED_MESSAGE_TOO_LONG"]


def test_quota_unlimited_by_default(gw: Gateway, alice) -> None:
    gw.submit(alice, _to(*(f"417930267{i:02d}" for i in range(50))))
    assert len(gw.logs(alice, LogQuery(limit=100))) == 50


def test_quota_exceeded_is_429_with_retry_after(store: Store) -> None:
    from gateway.api import build_app
    from tests.api.conftest import Client

    gw, _clock = _limited(store, 1)
    gw.create_account("alice", "alice-password")
    client = Client(build_app(gw), auth=("alice", "alice-password"))
    ok = client.post("/restapi/sms/1/text/single", {"to": "41793026701", "text": "x"})
    assert ok.status == 200, ok.body
    over = client.post("/restapi/sms/1/text/single", {"to": "41793026702", "text": "x"})
    assert over.status == 429 and over.headers["Retry-After"]
    assert "per minute" in over.json["requestError"]["serviceException"]["text"]


# ---- issue 10 item 10: a race on a duplicate messageId ----

def test_concurrent_duplicate_message_id_answers_rejected_not_400(gw: Gateway, alice) -> None:
    """Both requests pass the "is the id taken" check before either commits; the loser used to
    get 400 "already exists". It is answered 200 REJECTED_DUPLICATE_MESSAGE_ID, and the rest of
    its request is still accepted."""
    import threading

    checked, winner_committed = threading.Event(), threading.Event()
    real_insert = gw.store.insert_messages
    calls: list[str] = []

    def insert(records):  # the loser pauses between its check and its insert
        calls.append(threading.current_thread().name)
        if threading.current_thread().name == "loser" and not checked.is_set():
            checked.set()
            assert winner_committed.wait(10)
        return real_insert(records)

    gw.store.insert_messages = insert  # type: ignore[method-assign]
    result: dict[str, object] = {}
    loser_req = _to("41793026701", "41793026702", ids=("shared-id", "loser-own"))

    def lose() -> None:
        try:
            result["answer"] = gw.submit(alice, loser_req)
        except BaseException as exc:  # noqa: BLE001 - reported below
            result["error"] = exc

    loser = threading.Thread(target=lose, name="loser")
    loser.start()
    assert checked.wait(10)
    won = gw.submit(alice, _to("41793026709", ids=("shared-id",)))
    winner_committed.set()
    loser.join(10)
    assert not loser.is_alive() and "error" not in result, result
    assert won.messages[0].status.name == "MESSAGE_ACCEPTED"
    answer = result["answer"]
    assert [(m.message_id, m.status.name) for m in answer.messages] == [  # type: ignore[attr-defined]
        ("shared-id", "REJECTED_DUPLICATE_MESSAGE_ID"), ("loser-own", "MESSAGE_ACCEPTED")]
    assert gw.store.message(alice.id, "shared-id").destination == "41793026709"  # the winner's
    assert gw.store.message(alice.id, "loser-own") is not None
    assert calls.count("loser") == 2  # planned again after the race, not refused
