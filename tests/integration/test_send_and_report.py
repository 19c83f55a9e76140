"""The walking skeleton end to end: the real `simgate run` process, its emulated modem, HTTP."""
from __future__ import annotations

from tests.integration.conftest import PASSWORD, USER, GatewayProcess, wait_for

SPEC_REQUEST = {"from": "InfoSMS", "to": "41793026727", "text": "Test SMS."}


def _reports(gw: GatewayProcess, **params: str) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    status, body = gw.request("GET", "/restapi/sms/1/reports" + (f"?{query}" if query else ""))
    assert status == 200, body
    return body["results"]


def test_send_then_delivery_report_once_and_logs_always(gateway: GatewayProcess) -> None:
    status, body = gateway.request("POST", "/restapi/sms/1/text/single", SPEC_REQUEST)
    assert status == 200, body
    [msg] = body["messages"]
    assert msg["to"] == "41793026727"
    assert msg["smsCount"] == 1
    assert msg["status"]["groupName"] in ("ACCEPTED", "PENDING")
    message_id = msg["messageId"]

    collected: list[dict] = []

    def delivered() -> bool:
        collected.extend(_reports(gateway))
        return any(r["messageId"] == message_id for r in collected)

    wait_for(delivered, 15, "the delivery report")
    [report] = [r for r in collected if r["messageId"] == message_id]
    assert report["status"]["name"] == "DELIVERED_TO_HANDSET"
    assert report["status"]["groupName"] == "DELIVERED"
    assert report["error"]["name"] == "NO_ERROR"
    assert report["sentAt"] and report["doneAt"]
    assert _reports(gateway) == []  # each report is returned once

    for _ in range(2):  # logs: every time
        status, logs = gateway.request("GET", f"/restapi/sms/1/logs?messageId={message_id}")
        assert status == 200
        [log] = logs["results"]
        assert (log["text"], log["from"], log["to"]) == ("Test SMS.", "InfoSMS", "41793026727")
        assert log["sentAt"] and log["doneAt"]
        assert log["status"]["name"] == "DELIVERED_TO_HANDSET"


def test_long_unicode_message_is_sent_in_parts_and_delivered(gateway: GatewayProcess) -> None:
    text = "Grüße aus Zürich 😀 " * 12  # UCS-2: 67 characters per part, emoji never split
    status, body = gateway.request("POST", "/restapi/sms/1/text/single", {"to": "41793026727", "text": text})
    assert status == 200, body
    [msg] = body["messages"]
    assert msg["smsCount"] >= 4

    def delivered():
        return [r for r in _reports(gateway, messageId=msg["messageId"])]

    [report] = wait_for(delivered, 20, "the multipart delivery report")
    assert report["status"]["name"] == "DELIVERED_TO_HANDSET"
    assert report["smsCount"] == msg["smsCount"]


def test_without_credentials_401(gateway: GatewayProcess) -> None:
    status, _body = gateway.request("GET", "/restapi/sms/1/logs", auth=False)
    assert status == 401


def test_bad_input_is_a_400_not_a_500(gateway: GatewayProcess) -> None:
    status, body = gateway.request("POST", "/restapi/sms/1/text/single", {"to": "not a number", "text": "x"})
    assert status == 400
    assert "requestError" in body


def test_health_reports_the_modem(gateway: GatewayProcess) -> None:
    def ready():
        status, body = gateway.request("GET", "/health", auth=False)
        return body if status == 200 and body.get("status") == "ok" else None

    body = wait_for(ready, 15, "a healthy modem")
    assert body["modem"]["state"]


def test_injected_sms_reaches_the_inbox_api_and_cli(gateway: GatewayProcess) -> None:
    """`simgate emulator inject` talks to the emulator inside the running `simgate run`."""
    text = "STOP sending me offers, merci beaucoup! " * 5  # long: 2 parts
    gateway.cli("emulator", "inject", "--state-dir", str(gateway.state_dir), "--from", "+41791234567", "--text", text)

    def inbox():
        status, body = gateway.request("GET", "/restapi/sms/1/inbox/reports")
        assert status == 200, body
        return body["results"]

    [msg] = wait_for(inbox, 20, "the injected SMS in the inbox")
    assert (msg["from"], msg["text"], msg["keyword"], msg["smsCount"]) == ("41791234567", text, "STOP", 2)
    assert msg["cleanText"] == text.split(" ", 1)[1]
    assert inbox() == []  # each inbound message once
    status, logs = gateway.request("GET", "/restapi/sms/1/inbox/logs?keyword=STOP")
    assert [m["messageId"] for m in logs["results"]] == [msg["messageId"]]
    assert "41791234567" in gateway.cli("inbox").stdout


def test_status_command_reads_the_running_gateway(gateway: GatewayProcess) -> None:
    def healthy():
        return gateway.cli("status", check=False).returncode == 0

    wait_for(healthy, 15, "simgate status to report ok")
    anonymous = gateway.cli("status").stdout
    assert '"state": "ready"' in anonymous
    assert '"kind"' not in anonymous and "imsi" not in anonymous  # the open health is minimal
    out = gateway.cli("status", "--user", USER, "--password", PASSWORD).stdout
    assert '"kind": "booted"' in out  # modem events are recorded and shown to an account


def test_balance_by_ussd_through_the_emulated_network(tmp_path) -> None:
    """The emulated network answers *100# with a balance text; the API reads the amount."""
    from tests.integration.conftest import make_gateway

    gw = make_gateway(tmp_path, SIMGATE_ACCOUNT_BALANCE_USSD="*100#", SIMGATE_ACCOUNT_CURRENCY="GBP")
    gw.start()
    try:
        def balance():
            status, body = gw.request("GET", "/restapi/account/1/balance")
            return body if status == 200 else None

        assert wait_for(balance, 20, "the balance") == {"balance": 12.34, "currency": "GBP"}
    finally:
        gw.stop()
