"""Run by tests/api/test_servicestack.py in a subprocess with the PyPI ``servicestack`` client on
PYTHONPATH: typed DTOs with IReturn, ``post`` (the /api and /json/reply pre-defined routes),
``post_url`` (the service's own routes) and a refusal read back as a WebServiceException.
Prints one JSON line of what the client read."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import List, Optional

from dataclasses_json import LetterCase, Undefined, config, dataclass_json
from servicestack import IReturn, JsonServiceClient, WebServiceException


@dataclass_json(letter_case=LetterCase.CAMEL, undefined=Undefined.EXCLUDE)
@dataclass
class SMSContact:
    name: Optional[str] = None
    phone_number: Optional[str] = None
    contact_id: Optional[str] = None


@dataclass_json(letter_case=LetterCase.CAMEL, undefined=Undefined.EXCLUDE)
@dataclass
class SMSModel:
    from_: Optional[SMSContact] = field(metadata=config(field_name="from"),
                                        default=None)
    to: List[SMSContact] = field(default_factory=list)
    message_body: Optional[str] = None
    reply_is_allowed: bool = False
    reply_is_required: bool = False


@dataclass_json(letter_case=LetterCase.CAMEL, undefined=Undefined.EXCLUDE)
@dataclass
class CommResponse:
    comm_id: Optional[str] = None
    reference: Optional[str] = None
    status: bool = False
    message: Optional[str] = None


@dataclass_json(letter_case=LetterCase.CAMEL, undefined=Undefined.EXCLUDE)
@dataclass
class SMSSend(IReturn[CommResponse]):
    sms_model: Optional[SMSModel] = None
    create_communication_references_immediately: bool = False


def main(base_url: str, username: str, password: str) -> None:
    def request(text: str, number: str = "41793026727") -> SMSSend:
        return SMSSend(sms_model=SMSModel(from_=SMSContact(phone_number="447700900001"),
                                          to=[SMSContact(name="Ann", phone_number=number)],
                                          message_body=text))

    out: dict[str, object] = {}
    client = JsonServiceClient(base_url).set_credentials(username, password)
    answer = client.post(request("typed post"))  # POST /api/SMSSend
    out["post"] = [answer.comm_id, answer.reference, answer.status, answer.message]
    answer = client.post_url("/api/sendmessage", request("post_url"), response_as=CommResponse)
    out["post_url"] = [answer.comm_id, answer.reference, answer.status, answer.message]
    reply = JsonServiceClient(base_url).set_credentials(username, password).set_base_path("")
    answer = reply.post(request("json reply"))  # POST /json/reply/SMSSend
    out["json_reply"] = [answer.comm_id, answer.reference, answer.status, answer.message]
    try:
        client.post(request("bad number", number="12"))
    except WebServiceException as exc:
        status = exc.response_status
        out["error"] = [exc.status_code, status.error_code,
                        [(e.field_name, e.error_code) for e in (status.errors or [])]]
    try:
        JsonServiceClient(base_url).set_credentials(username, "wrong-password").post(
            request("x"))
    except WebServiceException as exc:
        out["unauthorized"] = [exc.status_code, exc.response_status.error_code]
    print(json.dumps(out))


if __name__ == "__main__":
    main(*sys.argv[1:4])
