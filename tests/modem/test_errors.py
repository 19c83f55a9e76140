"""+CMS / +CME classification: the table of HARDWARE.md 4.1, numeric and verbose forms."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.modem.errors import CmsPolicy, classify_cme, classify_cms, cms_table

P, R, H, C, S = (CmsPolicy.PERMANENT, CmsPolicy.RETRY, CmsPolicy.HOLD, CmsPolicy.RECONFIGURE,
                 CmsPolicy.SKIP)


@pytest.mark.parametrize("code, policy, meaning", [
    (1, P, "Unassigned (unallocated) number"), (8, P, "Operator determined barring"),
    (10, P, "Call barred"), (21, P, "Short message transfer rejected"),
    (27, P, "Destination out of service"), (28, P, "Unidentified subscriber"),
    (30, P, "Unknown subscriber"), (38, R, "Network out of order"), (41, R, "Temporary failure"),
    (42, R, "Congestion"), (47, R, "Resources unavailable, unspecified"),
    (50, P, "Requested facility not subscribed"), (69, P, "Requested facility not implemented"),
    (96, P, "Invalid mandatory information"),
    (97, P, "Message type non-existent or not implemented"),
    (99, P, "Information element non-existent or not implemented"),
    (111, R, "Protocol error, unspecified"), (127, R, "Interworking, unspecified"),
    (192, R, "SC busy"), (193, P, "No SC subscription"), (197, P, "SM rejected: duplicate SM"),
    (300, R, "ME failure"), (302, H, "Operation not allowed"),  # SMS not ready yet
    (304, P, "Invalid PDU mode parameter"),
    (310, H, "SIM not inserted"), (311, H, "SIM PIN required"), (313, H, "SIM failure"),
    (314, R, "SIM busy"), (316, H, "SIM PUK required"), (320, R, "Memory failure"),
    (321, S, "Invalid memory index"), (322, R, "Memory full"), (330, C, "SMSC address unknown"),
    (331, H, "No network service"), (332, R, "Network timeout"),
    (340, S, "No +CNMA acknowledgement expected"), (500, R, "Unknown error"),
])
def test_cms_table(code, policy, meaning):
    info = classify_cms(code)
    assert (info.code, info.policy, info.meaning) == (code, policy, meaning)
    assert info.permanent is (policy is CmsPolicy.PERMANENT)


def test_bare_error_and_unknown_codes_are_transient():
    assert classify_cms(None).policy is R and classify_cms(None).code is None
    unknown = classify_cms(77)
    assert unknown.policy is R and "77" in unknown.meaning


@pytest.mark.parametrize("given_code, code, policy", [
    (10, 10, H), ("10", 10, H), ("SIM not inserted", 10, H), ("  sim  NOT inserted ", 10, H),
    ("SIM PIN required", 11, H), ("SIM PUK required", 12, H), ("incorrect password", 16, H),
    ("SIM busy", 14, R), ("operation not allowed", 3, R), ("memory full", 20, R),
    ("invalid index", 21, S), ("not found", 22, S), ("no network service", 30, H),
    ("network timeout", 31, R), (515, 515, R), (None, None, R),
])
def test_cme_numeric_and_verbose(given_code, code, policy):
    info = classify_cme(given_code)
    assert (info.code, info.policy) == (code, policy)


def test_cms_verbose_form_maps_to_the_number():
    assert classify_cms("Invalid memory index").code == 321
    assert classify_cms("SMSC address unknown").policy is C


def test_every_table_entry_has_a_meaning():
    table = cms_table()
    assert len(table) >= 50
    assert all(info.meaning and info.code == code for code, info in table.items())


@given(st.one_of(st.integers(min_value=-10, max_value=100000), st.text(max_size=40), st.none()))
def test_classification_never_fails(value):
    for classify in (classify_cms, classify_cme):
        info = classify(value)
        assert isinstance(info.policy, CmsPolicy)
        assert info.permanent is (info.policy is CmsPolicy.PERMANENT)


def test_the_one_cms_table_names_the_catalogue_error():
    from gateway.statuses import ERRORS_BY_ID

    assert classify_cms(1).error_id == ERRORS_BY_ID[1].id  # unassigned number: unknown subscriber
    assert classify_cms(330).error_id == 259  # SMSC unknown
    assert classify_cms(42).error_id == 255  # congestion: nothing closer in the catalogue
    assert all(info.error_id in ERRORS_BY_ID for info in cms_table().values())
