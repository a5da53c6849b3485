"""Pure: 2.1.1 Tokens <-> stored 2.2.1 Tokens, and 2.1.1 real-time authorisation answers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, strategies as st

from ocpi_bridge.models.tokens import AllowedType, Token, TokenType, WhitelistType
from ocpi_bridge.models.v211 import V211Token, V211TokenPatch, V211TokenType
from ocpi_bridge.translate.authorization import Answered
from ocpi_bridge.translate.tokens import patched
from ocpi_bridge.translate.v211 import NotExpressibleError
from ocpi_bridge.translate.v211_tokens import (
    from_v211_patch,
    from_v211_token,
    read_v211_answer,
    to_v211_token,
)
from tests.builders import T0

SPEC_TOKEN = {  # mod_tokens 2.1.1 §Token object, example
    "uid": "012345678",
    "type": "RFID",
    "auth_id": "DE8ACC12E46L89",
    "visual_number": "DF000-2001-8999",
    "issuer": "TheNewMotion",
    "valid": True,
    "whitelist": "ALLOWED",
    "last_updated": "2015-06-29T22:39:09Z",
}


def test_a_2_1_1_token_is_stored_under_the_url_s_party_with_auth_id_as_contract_id():
    """country_code/party_id come from the caller; auth_id is the contract id."""
    token = from_v211_token(V211Token.model_validate(SPEC_TOKEN), country_code="NL", party_id="TNM")

    assert (token.country_code, token.party_id, token.uid) == ("NL", "TNM", "012345678")
    assert token.type is TokenType.RFID
    assert token.contract_id == "DE8ACC12E46L89"
    assert token.whitelist is WhitelistType.ALLOWED
    assert token.group_id is None


@given(
    type_=st.sampled_from(list(V211TokenType)),
    whitelist=st.sampled_from(list(WhitelistType)),
    valid=st.booleans(),
    language=st.sampled_from([None, "en", "nl"]),
    visual=st.sampled_from([None, "DF000-2001-8999"]),
)
def test_a_2_1_1_token_comes_back_as_it_was_sent(type_, whitelist, valid, language, visual):
    """Storing and showing a 2.1.1 Token loses nothing."""
    sent = V211Token.model_validate(
        {
            **SPEC_TOKEN,
            "type": type_.value,
            "whitelist": whitelist.value,
            "valid": valid,
            "language": language,
            "visual_number": visual,
        }
    )

    assert to_v211_token(from_v211_token(sent, country_code="NL", party_id="TNM")) == sent


@pytest.mark.parametrize("type_", [TokenType.APP_USER, TokenType.AD_HOC_USER])
def test_a_2_2_1_only_token_type_has_no_2_1_1_form(type_: TokenType):
    """APP_USER and AD_HOC_USER do not exist in 2.1.1."""
    with pytest.raises(NotExpressibleError, match=type_.value):
        to_v211_token(stored().model_copy(update={"type": type_}))


def stored() -> Token:
    return from_v211_token(V211Token.model_validate(SPEC_TOKEN), country_code="NL", party_id="TNM")


def test_a_2_1_1_patch_without_last_updated_takes_the_time_it_arrived():
    """2.1.1 PATCHes may omit last_updated: the token then changed when it arrived."""
    patch = from_v211_patch(V211TokenPatch.model_validate({"valid": False}), received_at=T0)
    result = patched(stored(), patch)

    assert patch.model_dump(exclude_unset=True) == {"valid": False, "last_updated": T0}
    assert result.valid is False
    assert result.last_updated == T0
    assert result.contract_id == "DE8ACC12E46L89"


def test_a_2_1_1_patch_names_fields_in_the_stored_shape():
    """auth_id becomes contract_id, the type its stored type, a given last_updated is kept."""
    when = T0 - timedelta(hours=1)
    body: dict[str, Any] = {
        "auth_id": "NEW-ID",
        "type": "OTHER",
        "last_updated": when.isoformat().replace("+00:00", "Z"),
    }
    patch = from_v211_patch(V211TokenPatch.model_validate(body), received_at=T0)

    assert patch.model_dump(exclude_unset=True) == {
        "contract_id": "NEW-ID",
        "type": TokenType.OTHER,
        "last_updated": when,
    }


@pytest.mark.parametrize(
    ("data", "evses"),
    [
        ({"allowed": "ALLOWED"}, None),
        ({"allowed": "BLOCKED", "location": {"location_id": "LOC-001"}}, None),
        (
            {"allowed": "ALLOWED", "location": {"location_id": "L", "evse_uids": ["E1", "E2"]}},
            ("E1", "E2"),
        ),
    ],
)
def test_a_2_1_1_answer_is_kept_under_the_given_reference(data: object, evses: object):
    """allowed and the EVSEs named are read; the reference is the one supplied."""
    answered = read_v211_answer(data, reference="R-1")

    assert answered == Answered(
        allowed=AllowedType(data["allowed"]),  # type: ignore[index]
        authorization_reference="R-1",
        evse_uids=evses,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("data", [None, [], {"allowed": "MAYBE"}, {"location": {}}])
def test_an_answer_that_is_not_a_2_1_1_authorization_info_is_none(data: object):
    """Garbage is no answer."""
    assert read_v211_answer(data, reference="R-1") is None
