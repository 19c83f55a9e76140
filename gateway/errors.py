"""The one exception tree of simgate.

Every error the gateway raises on purpose is a ``GatewayError``; leaves carry the fields a caller
needs to decide (command, code, field) and also inherit a builtin where that is honest, so
generic code (``except ValueError``) keeps working.
"""
from __future__ import annotations

from typing import Mapping


class GatewayError(Exception):
    """Root of every error simgate raises deliberately."""


class ConfigError(GatewayError, ValueError):
    """The configuration file, environment or a hardware profile is invalid."""


class ValidationError(GatewayError, ValueError):
    """Input from an API caller or the CLI is invalid; ``field`` names the culprit."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AuthError(GatewayError):
    """A login could not be decided (see ``LoginBusyError``); wrong credentials are not an error
    but a ``None`` account, so that no code path can mistake a refusal for an outage."""


class FeatureUnavailableError(GatewayError):
    """The request is valid but this gateway is not set up to serve it (no USSD balance code
    configured, say): the operator, not the client, can fix it."""


class NotFoundError(GatewayError, LookupError):
    """A referenced object (message, account, modem) does not exist."""


class UnknownAccountError(NotFoundError):
    """Account administration named an account that does not exist (`simgate user passwd`)."""


# --- SMS codec -------------------------------------------------------------------------------


class CodecError(GatewayError, ValueError):
    """Base for SMS encoding/decoding problems."""


class PduError(CodecError):
    """A PDU is malformed or truncated; raised instead of any lower-level exception."""


class EncodingError(CodecError):
    """Text cannot be carried by the requested alphabet, or options contradict each other."""


class MessageTooLongError(EncodingError):
    """The message needs more parts than the configured maximum."""

    def __init__(self, message: str, parts: int, max_parts: int) -> None:
        super().__init__(message)
        self.parts = parts
        self.max_parts = max_parts


# --- Modem -----------------------------------------------------------------------------------


class ModemError(GatewayError):
    """Base for everything that goes wrong between us and the modem."""


class ModemUnavailableError(ModemError):
    """The modem is off, booting, has no SIM or no network: try again later."""


class AtTimeoutError(ModemError, TimeoutError):
    """No final result code arrived in time."""

    def __init__(self, command: str, timeout: float) -> None:
        super().__init__(f"no answer to {command!r} within {timeout:g} s")
        self.command = command
        self.timeout = timeout


class AtCommandError(ModemError):
    """The modem answered a command with ERROR, +CMS ERROR or +CME ERROR."""

    kind = "ERROR"

    def __init__(self, command: str, code: int | None = None, text: str = "") -> None:
        detail = f"{self.kind}: {code if code is not None else ''}{' ' + text if text else ''}"
        super().__init__(f"{command!r} failed with {detail.strip()}")
        self.command = command
        self.code = code
        self.text = text


class CmsError(AtCommandError):
    """``+CMS ERROR: <n>`` (message service failure, TS 27.005 3.2.5)."""

    kind = "+CMS ERROR"


class CmeError(AtCommandError):
    """``+CME ERROR: <n>`` (mobile equipment failure, TS 27.007 9.2)."""

    kind = "+CME ERROR"


class UnexpectedReplyError(ModemError):
    """The modem or the network answered, but not in the shape promised (a USSD balance answer
    with no amount in it)."""


class SendInDoubtError(ModemError):
    """AT+CMGS was committed (Ctrl-Z written) but no result came back: it may have been sent."""

    def __init__(self, message: str, command: str = "AT+CMGS") -> None:
        super().__init__(message)
        self.command = command


class QuotaExceededError(GatewayError):
    """An account would send more than ``limits.messages_per_minute``: nothing of the request
    was accepted. ``retry_after``: seconds until it would fit (None: it never fits, the request
    alone is larger than a minute's quota)."""

    def __init__(self, limit: int, requested: int, retry_after: float | None) -> None:
        if retry_after is None:
            text = f"quota: {requested} messages in one request, the account may send {limit} per minute"
        else:
            text = (f"quota: the account may send {limit} messages per minute; "
                    f"{requested} more fit in {retry_after:.1f} s")
        super().__init__(text)
        self.limit = limit
        self.requested = requested
        self.retry_after = retry_after


# --- Store -----------------------------------------------------------------------------------


class StoreError(GatewayError):
    """The database is unusable (schema too new, locked beyond patience, disk full)."""


class DuplicateMessageIdError(GatewayError, ValueError):
    """A caller-supplied messageId already exists for this account."""

    def __init__(self, message_id: str) -> None:
        super().__init__(f"messageId {message_id!r} already exists")
        self.message_id = message_id


# --- API -------------------------------------------------------------------------------------


class ApiError(GatewayError):
    """An HTTP-level refusal (body too large, wrong Content-Type, malformed JSON) with its status.

    Raised by the request readers in ``gateway.api``, which know the HTTP status because the
    fault is HTTP's own; everything else reaches a dialect as a domain error that the dialect's
    one error table maps.
    """

    def __init__(self, status: int, text: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.headers = dict(headers or {})


class LoginBusyError(AuthError):
    """Too many password checks are running at once; the login was not checked: retry soon.

    Not a 401: the credentials may well be right, and a client told "wrong password" would stop.
    """
