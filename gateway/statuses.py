"""The status and error catalogue of the SMS API v1 spec, as data.

Only data lives here: which catalogue entry a message shows is decided by ``gateway.lifecycle``
(its ``Outcome`` values are built from the named entries below), so every dialect renders the
same truth. The catalogue itself is transcribed from
``specs/infobip-style-sms-api-v1.md`` ("Response codes"); docs/statuses.md explains the mapping.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Status:
    id: int
    group_id: int
    group_name: str
    name: str
    description: str
    action: str | None = None


@dataclass(frozen=True)
class ErrorInfo:
    id: int
    group_id: int
    group_name: str
    name: str
    description: str
    permanent: bool


STATUS_GROUPS: dict[int, str] = {
    0: "ACCEPTED",
    1: "PENDING",
    2: "UNDELIVERABLE",
    3: "DELIVERED",
    4: "EXPIRED",
    5: "REJECTED",
}

ERROR_GROUPS: dict[int, str] = {0: "OK", 1: "HANDSET_ERRORS", 2: "USER_ERRORS", 3: "OPERATOR_ERRORS"}

_STATUS_ROWS: tuple[tuple[int, int, str, str, str | None], ...] = (
    (0, 0, "MESSAGE_ACCEPTED", "Message accepted", None),
    (1, 1, "PENDING_TIME_VIOLATION", "Time window violation", None),
    (2, 3, "DELIVERED_TO_OPERATOR", "Message delivered to operator", None),
    (3, 1, "PENDING_WAITING_DELIVERY", "Message sent, waiting for delivery report", None),
    (4, 2, "UNDELIVERABLE_REJECTED_OPERATOR", "Message rejected by operator", None),
    (5, 3, "DELIVERED_TO_HANDSET", "Message delivered to handset", None),
    (6, 5, "REJECTED_NETWORK", "Network is forbidden", "Contact account manager"),
    (7, 1, "PENDING_ENROUTE", "Message sent to next instance", None),
    (8, 5, "REJECTED_PREFIX_MISSING", "Number prefix missing", None),
    (9, 2, "UNDELIVERABLE_NOT_DELIVERED", "Message sent not delivered", None),
    (10, 5, "REJECTED_DND", "Destination on DND list", None),
    (11, 5, "REJECTED_SOURCE", "Invalid Source address", None),
    (12, 5, "REJECTED_NOT_ENOUGH_CREDITS", "Not enough credits", None),
    (13, 5, "REJECTED_SENDER", "By Sender", "Remove sender from blacklist"),
    (14, 5, "REJECTED_DESTINATION", "By Destination", "Remove destination from blacklist"),
    (15, 4, "EXPIRED_EXPIRED", "Message expired", None),
    (16, 5, "REJECTED_NOT_REACHABLE", "Network not reachable", None),
    (17, 5, "REJECTED_PREPAID_PACKAGE_EXPIRED", "Prepaid package expired", "Top-Up your account to extend the validty period"),
    (18, 5, "REJECTED_DESTINATION_NOT_REGISTERED", "Destination not registered", None),
    (19, 5, "REJECTED_ROUTE_NOT_AVAILABLE", "Route not available", "Contact account manager"),
    (20, 5, "REJECTED_FLOODING_FILTER", "Rejected flooding", "STOP SPAMMING"),
    (21, 5, "REJECTED_SYSTEM_ERROR", "System error", None),
    (22, 4, "EXPIRED_UNKNOWN", "Unknown Reason", None),
    (23, 5, "REJECTED_DUPLICATE_MESSAGE_ID", "Rejected duplicate message ID", None),
    (24, 5, "REJECTED_INVALID_UDH", "Rejected invalid UDH", None),
    (25, 5, "REJECTED_MESSAGE_TOO_LONG", "Rejected message too long", None),
)

STATUSES: dict[str, Status] = {
    name: Status(id_, group, STATUS_GROUPS[group], name, description, action)
    for id_, group, name, description, action in _STATUS_ROWS
}
STATUSES_BY_ID: dict[int, Status] = {s.id: s for s in STATUSES.values()}

# (id, name, permanent) from the spec's "GSM Error Codes" table.
_ERROR_ROWS: tuple[tuple[int, str, bool], ...] = (
    (0, "NO_ERROR", False),
    (1, "EC_UNKNOWN_SUBSCRIBER", True),
    (5, "EC_UNIDENTIFIED_SUBSCRIBER", False),
    (6, "EC_ABSENT_SUBSCRIBER_SM", False),
    (9, "EC_ILLEGAL_SUBSCRIBER", True),
    (10, "EC_BEARER_SERVICE_NOT_PROVISIONED", False),
    (11, "EC_TELESERVICE_NOT_PROVISIONED", True),
    (12, "EC_ILLEGAL_EQUIPMENT", True),
    (13, "EC_CALL_BARRED", False),
    (20, "EC_SS_INCOMPATIBILITY", False),
    (21, "EC_FACILITY_NOT_SUPPORTED", False),
    (27, "EC_ABSENT_SUBSCRIBER", False),
    (31, "EC_SUBSCRIBER_BUSY_FOR_MT_SMS", False),
    (32, "EC_SM_DELIVERY_FAILURE", False),
    (33, "EC_MESSAGE_WAITING_LIST_FULL", False),
    (34, "EC_SYSTEM_FAILURE", False),
    (35, "EC_DATA_MISSING", True),
    (36, "EC_UNEXPECTED_DATA_VALUE", True),
    (51, "EC_RESOURCE_LIMITATION", False),
    (71, "EC_UNKNOWN_ALPHABET", True),
    (72, "EC_USSD_BUSY", True),
    (255, "EC_UNKNOWN_ERROR", True),
    (256, "EC_SM_DF_memoryCapacityExceeded", False),
    (257, "EC_SM_DF_equipmentProtocolError", False),
    (258, "EC_SM_DF_equipmentNotSM_Equipped", False),
    (259, "EC_SM_DF_unknownServiceCentre", False),
    (260, "EC_SM_DF_sc_Congestion", False),
    (261, "EC_SM_DF_invalidSME_Address", False),
    (262, "EC_SM_DF_subscriberNotSC_Subscriber", False),
    (500, "EC_PROVIDER_GENERAL_ERROR", False),
    (502, "EC_NO_RESPONSE", False),
    (503, "EC_SERVICE_COMPLETION_FAILURE", False),
    (504, "EC_UNEXPECTED_RESPONSE_FROM_PEER", False),
    (507, "EC_MISTYPED_PARAMETER", False),
    (508, "EC_NOT_SUPPORTED_SERVICE", False),
    (509, "EC_DUPLICATED_INVOKE_ID", False),
    (511, "EC_INITIATING_RELEASE", False),
    (1024, "EC_OR_appContextNotSupported", False),
    (1025, "EC_OR_invalidDestinationReference", False),
    (1026, "EC_OR_invalidOriginatingReference", False),
    (1027, "EC_OR_encapsulatedAC_NotSupported", False),
    (1028, "EC_OR_transportProtectionNotAdequate", False),
    (1029, "EC_OR_noReasonGiven", False),
    (1030, "EC_OR_potentialVersionIncompatibility", False),
    (1031, "EC_OR_remoteNodeNotReachable", False),
    (1152, "EC_NNR_noTranslationForAnAddressOfSuchNature", False),
    (1153, "EC_NNR_noTranslationForThisSpecificAddress", False),
    (1154, "EC_NNR_subsystemCongestion", False),
    (1155, "EC_NNR_subsystemFailure", False),
    (1156, "EC_NNR_unequippedUser", False),
    (1157, "EC_NNR_MTPfailure", False),
    (1158, "EC_NNR_networkCongestion", False),
    (1159, "EC_NNR_unqualified", False),
    (1160, "EC_NNR_errorInMessageTransportXUDT", False),
    (1161, "EC_NNR_errorInLocalProcessingXUDT", False),
    (1162, "EC_NNR_destinationCannotPerformReassemblyXUDT", False),
    (1163, "EC_NNR_SCCPfailure", False),
    (1164, "EC_NNR_hopCounterViolation", False),
    (1165, "EC_NNR_segmentationNotSupported", False),
    (1166, "EC_NNR_segmentationFailure", False),
    (1281, "EC_UA_userSpecificReason", False),
    (1282, "EC_UA_userResourceLimitation", False),
    (1283, "EC_UA_resourceUnavailable", False),
    (1284, "EC_UA_applicationProcedureCancellation", False),
    (1536, "EC_PA_providerMalfunction", False),
    (1537, "EC_PA_supportingDialogOrTransactionRealeased", False),
    (1538, "EC_PA_ressourceLimitation", False),
    (1539, "EC_PA_maintenanceActivity", False),
    (1540, "EC_PA_versionIncompatibility", False),
    (1541, "EC_PA_abnormalMapDialog", False),
    (1792, "EC_NC_abnormalEventDetectedByPeer", False),
    (1793, "EC_NC_responseRejectedByPeer", False),
    (1794, "EC_NC_abnormalEventReceivedFromPeer", False),
    (1795, "EC_NC_messageCannotBeDeliveredToPeer", False),
    (1796, "EC_NC_providerOutOfInvoke", False),
    (2048, "EC_TIME_OUT", False),
    (2049, "EC_IMSI_BLACKLISTED", True),
    (2050, "EC_DEST_ADDRESS_BLACKLISTED", True),
    (2051, "EC_InvalidMscAddress", False),
    (4096, "EC_invalidPduFurmat", True),
    (4097, "EC_NotSubmittedToGMSC", True),
    (4100, "EC_Cancelled", True),
    (4101, "EC_ValidityExpired", True),
    (4102, "EC_NotSubmittedToSmppChannel", False),
)

# Errors about the subscriber or the handset; the spec's examples put EC_ABSENT_SUBSCRIBER and
# EC_UNKNOWN_SUBSCRIBER in HANDSET_ERRORS. Everything else a network reports is the operator's.
_HANDSET_ERRORS = frozenset({1, 5, 6, 9, 11, 12, 13, 27, 31, 32, 33, 256, 258})
# Errors that are the caller's doing (bad input, blacklists, cancellation).
_USER_ERRORS = frozenset({35, 36, 71, 2049, 2050, 4096, 4100})


def _error_group(error_id: int) -> int:
    if error_id == 0:
        return 0
    if error_id in _HANDSET_ERRORS:
        return 1
    if error_id in _USER_ERRORS:
        return 2
    return 3


def _describe(name: str) -> str:
    """EC_ABSENT_SUBSCRIBER -> "Absent Subscriber", as the spec's examples render them."""
    if name == "NO_ERROR":
        return "No Error"
    words = name.removeprefix("EC_").replace("_", " ").split()
    return " ".join(w.capitalize() if w.isupper() and len(w) > 3 else w for w in words)


ERRORS_BY_ID: dict[int, ErrorInfo] = {
    id_: ErrorInfo(
        id_, _error_group(id_), ERROR_GROUPS[_error_group(id_)], name, _describe(name), permanent
    )
    for id_, name, permanent in _ERROR_ROWS
}
ERRORS: dict[str, ErrorInfo] = {e.name: e for e in ERRORS_BY_ID.values()}
NO_ERROR = ERRORS_BY_ID[0]


# The catalogue entries the lifecycle names. gateway/lifecycle.py builds every Outcome from these
# (and nothing else spells a status name or an error id), so a new state or rule is a change here
# and there, never a string in the store, the dispatcher or the service.
MESSAGE_ACCEPTED = STATUSES["MESSAGE_ACCEPTED"]
PENDING_ENROUTE = STATUSES["PENDING_ENROUTE"]
PENDING_WAITING_DELIVERY = STATUSES["PENDING_WAITING_DELIVERY"]
DELIVERED_TO_OPERATOR = STATUSES["DELIVERED_TO_OPERATOR"]
DELIVERED_TO_HANDSET = STATUSES["DELIVERED_TO_HANDSET"]
UNDELIVERABLE_REJECTED_OPERATOR = STATUSES["UNDELIVERABLE_REJECTED_OPERATOR"]
UNDELIVERABLE_NOT_DELIVERED = STATUSES["UNDELIVERABLE_NOT_DELIVERED"]
EXPIRED_EXPIRED = STATUSES["EXPIRED_EXPIRED"]
REJECTED_SYSTEM_ERROR = STATUSES["REJECTED_SYSTEM_ERROR"]
REJECTED_MESSAGE_TOO_LONG = STATUSES["REJECTED_MESSAGE_TOO_LONG"]
REJECTED_DUPLICATE_MESSAGE_ID = STATUSES["REJECTED_DUPLICATE_MESSAGE_ID"]
EC_UNKNOWN_ERROR = ERRORS_BY_ID[255]
EC_VALIDITY_EXPIRED = ERRORS_BY_ID[4101]


def error_by_id(error_id: int) -> ErrorInfo:
    """Known catalogue error, or an EC_UNKNOWN_ERROR entry carrying the raw id."""
    try:
        return ERRORS_BY_ID[error_id]
    except KeyError:
        base = ERRORS_BY_ID[255]
        return ErrorInfo(
            error_id, base.group_id, base.group_name, base.name, base.description, base.permanent
        )


# TS 23.040 9.2.3.15 TP-Status -> the closest catalogue error.
_TP_STATUS_ERRORS: dict[int, int] = {
    0x20: 260,  # congestion (SC still trying)
    0x21: 31,  # SME busy
    0x22: 2048,  # no response from SME
    0x23: 508,  # service rejected
    0x24: 2048,  # quality of service not available
    0x25: 32,  # error in SME
    0x40: 1029,  # remote procedure error
    0x41: 36,  # incompatible destination
    0x42: 2050,  # connection rejected by SME
    0x43: 11,  # not obtainable
    0x44: 2048,  # quality of service not available
    0x45: 21,  # no interworking available
    0x46: 4101,  # SM validity period expired
    0x47: 4100,  # SM deleted by originating SME
    0x48: 4100,  # SM deleted by SC administration
    0x49: 1,  # SM does not exist
    0x60: 260,  # congestion (SC stopped trying)
    0x61: 31,  # SME busy
    0x62: 2048,  # no response from SME
    0x63: 508,  # service rejected
    0x64: 2048,  # quality of service not available
    0x65: 32,  # error in SME
}


def error_for_tp_status(tp_st: int) -> ErrorInfo:
    if tp_st <= 0x1F:  # 0x00-0x02 completed; 0x03-0x1F reserved/SC-specific "completed"
        return NO_ERROR
    if tp_st in _TP_STATUS_ERRORS:
        return error_by_id(_TP_STATUS_ERRORS[tp_st])
    if tp_st <= 0x3F:
        return error_by_id(27)  # temporary, SC still trying: absent subscriber is the usual cause
    return error_by_id(255)
