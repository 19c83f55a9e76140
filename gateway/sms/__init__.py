"""The SMS codec: TS 23.038 alphabets (via gsmcodecs) and our own TS 23.040 framing.

Import everything from here; the submodules are implementation detail:
``text`` plans alphabet and parts, ``pdu`` frames PDUs, ``decode`` reads them.
"""
from gateway.sms.decode import decode_pdu, reassemble_text
from gateway.sms.fields import parse_address
from gateway.sms.messages import (
    Address, Concat, Deliver, InformationElement, Ports, StatusReport, Submit,
)
from gateway.sms.pdu import (
    EncodedPart, encode_binary, encode_deliver, encode_deliver_binary, encode_deliver_text,
    encode_planned, encode_status_report, encode_submit, encode_text, split_udh, tpdu_length,
)
from gateway.sms.text import SubmitOptions, TextPlan, plan_text
from gateway.sms.transliterate import transliterate

__all__ = [
    "Address", "Concat", "Deliver", "EncodedPart", "InformationElement", "Ports", "StatusReport",
    "Submit", "SubmitOptions", "TextPlan", "decode_pdu", "encode_binary", "encode_deliver",
    "encode_deliver_binary", "encode_deliver_text", "encode_planned", "encode_status_report",
    "encode_submit", "encode_text", "parse_address", "plan_text", "reassemble_text", "split_udh",
    "tpdu_length", "transliterate",
]
