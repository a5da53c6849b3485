"""The credentials handshake as pure flows, driven with canned partner replies."""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import pytest
from hypothesis import given, strategies as st

from gateway.domain.partners import PartnerEndpoint, PartnerLink, PartyRole, TokenEncoding
from ocpi_bridge.models.credentials import Credentials
from ocpi_bridge.models.v211 import V211Credentials
from ocpi_bridge.status import (
    ClientApiUnusableError,
    NoMatchingEndpointsError,
    OcpiError,
    UnsupportedVersionError,
)
from ocpi_bridge.translate.registration import (
    Discovery,
    HttpCall,
    HttpReply,
    Identity,
    Offer,
    Registered,
    discover,
    from_credentials,
    register,
    to_credentials,
    unregister,
    update,
)

B64, RAW = TokenEncoding.BASE64, TokenEncoding.RAW
VERSIONS = "https://emsp.example/ocpi/versions"
D221 = "https://emsp.example/ocpi/2.2.1"
D211 = "https://emsp.example/ocpi/2.1.1"
CRED221 = "https://emsp.example/ocpi/2.2.1/credentials"
CRED211 = "https://emsp.example/ocpi/2.1.1/credentials"
US = Identity(
    versions_url="https://cpo.example/ocpi/versions",
    roles=(PartyRole(role="CPO", country_code="NL", party_id="CEG", name="Example Charging"),),
    website="https://charging.example",
)


def envelope(data: Any = None, status_code: int = 1000, message: str | None = None) -> bytes:
    body: dict[str, Any] = {"status_code": status_code, "timestamp": "2026-11-22T10:00:00Z"}
    if data is not None:
        body["data"] = data
    if message:
        body["status_message"] = message
    return json.dumps(body).encode()


def ok(data: Any = None, status: int = 200) -> HttpReply:
    return HttpReply(status=status, body=envelope(data))


def versions(*numbers: str) -> HttpReply:
    urls = {"2.2.1": D221, "2.1.1": D211}
    return ok([{"version": n, "url": urls.get(n, f"https://emsp.example/{n}")} for n in numbers])


def details_221(*modules: str, version: str = "2.2.1") -> HttpReply:
    return ok(
        {
            "version": version,
            "endpoints": [
                {"identifier": m, "role": "RECEIVER", "url": f"{D221}/{m}"} for m in modules
            ],
        }
    )


def details_211(*modules: str, version: str = "2.1.1") -> HttpReply:
    return ok(
        {
            "version": version,
            "endpoints": [{"identifier": m, "url": f"{D211}/{m}"} for m in modules],
        }
    )


def their_credentials(token: str = "token-c-from-them") -> dict[str, Any]:  # noqa: S107
    return {
        "token": token,
        "url": VERSIONS,
        "roles": [
            {
                "role": "EMSP",
                "business_details": {"name": "Example eMSP"},
                "party_id": "ems",
                "country_code": "de",
            }
        ],
    }


def their_v211_credentials(token: str = "token-c-from-them") -> dict[str, Any]:  # noqa: S107
    return {
        "token": token,
        "url": VERSIONS,
        "business_details": {"name": "Old eMSP"},
        "party_id": "OLD",
        "country_code": "BE",
    }


def drive(
    flow: Generator[HttpCall, HttpReply, Any], *replies: HttpReply
) -> tuple[Any, list[HttpCall]]:
    """Run a flow to its end with the given replies; return its result and the calls made."""
    calls: list[HttpCall] = []
    queue = list(replies)
    try:
        call = next(flow)
        while True:
            calls.append(call)
            call = flow.send(queue.pop(0))
    except StopIteration as stop:
        assert queue == [], "replies left over"
        return stop.value, calls


def failing(flow: Generator[HttpCall, HttpReply, Any], *replies: HttpReply) -> OcpiError:
    with pytest.raises(OcpiError) as info:
        drive(flow, *replies)
    return info.value


def discovering(version: str | None = "2.2.1", required: tuple[str, ...] = ()):
    return discover(VERSIONS, "token-b", version=version, encodings=(B64,), required=required)


# --- discovery ----------------------------------------------------------------------------


def test_discovery_reads_versions_then_the_details_of_the_version_asked():
    """A Receiver GETs versions, then that version's details, with the partner's token."""
    found, calls = drive(
        discovering(), versions("2.1.1", "2.2.1"), details_221("credentials", "locations")
    )

    assert [(c.method, c.url, c.token, c.encoding) for c in calls] == [
        ("GET", VERSIONS, "token-b", B64),
        ("GET", D221, "token-b", B64),
    ]
    assert found == Discovery(
        version="2.2.1",
        versions_url=VERSIONS,
        encoding=B64,
        endpoints=(
            PartnerEndpoint(module="credentials", role="RECEIVER", url=f"{D221}/credentials"),
            PartnerEndpoint(module="locations", role="RECEIVER", url=f"{D221}/locations"),
        ),
        credentials_url=f"{D221}/credentials",
    )


def test_discovery_of_2_1_1_has_endpoints_without_roles():
    """2.1.1 details have no interface role; custom modules are kept as they are."""
    found, _ = drive(
        discovering("2.1.1"), versions("2.1.1"), details_211("credentials", "nltnm-tokens")
    )

    assert found.version == "2.1.1"
    assert found.endpoints[1] == PartnerEndpoint(
        module="nltnm-tokens", role=None, url=f"{D211}/nltnm-tokens"
    )


@pytest.mark.parametrize(
    ("listed", "expected"),
    [(("2.1.1", "2.2.1"), "2.2.1"), (("2.2.1",), "2.2.1"), (("2.0", "2.1.1", "3.0"), "2.1.1")],
)
def test_without_a_wanted_version_the_best_common_one_is_chosen(listed, expected):
    """A Sender prefers 2.2.1, then 2.1.1; versions we do not know are ignored."""
    details = details_221 if expected == "2.2.1" else details_211
    found, calls = drive(discovering(None), versions(*listed), details("credentials"))

    assert found.version == expected
    assert calls[1].url == (D221 if expected == "2.2.1" else D211)


@pytest.mark.parametrize(
    ("wanted", "listed", "message"),
    [
        ("2.2.1", ("2.1.1",), "offers versions 2.1.1, we need 2.2.1"),
        (None, ("2.0", "2.2"), "offers versions 2.0, 2.2, we need 2.2.1 or 2.1.1"),
    ],
)
def test_no_common_version_is_3002(wanted, listed, message):
    """Nothing in common: OCPI 3002, and no details are fetched."""
    flow = discovering(wanted)
    err = failing(flow, versions(*listed))

    assert isinstance(err, UnsupportedVersionError)
    assert err.ocpi_status == 3002
    assert message in err.message


def test_an_empty_versions_list_is_3002():
    """An empty list names no version at all."""
    err = failing(discovering(), ok([]))
    assert isinstance(err, UnsupportedVersionError)
    assert "offers versions none" in err.message


@pytest.mark.parametrize(
    ("modules", "required", "missing"),
    [
        (("locations",), (), "credentials"),
        (("credentials",), ("cdrs", "sessions"), "cdrs, sessions"),
        (("credentials", "cdrs"), ("cdrs", "tokens"), "tokens"),
    ],
)
def test_missing_required_endpoints_are_3003(modules, required, missing):
    """Credentials and the configured modules must be offered, else OCPI 3003."""
    err = failing(discovering(required=required), versions("2.2.1"), details_221(*modules))

    assert isinstance(err, NoMatchingEndpointsError)
    assert err.ocpi_status == 3003
    assert err.message.endswith(f"lacks {missing}")


BAD_REPLIES = [
    (HttpReply(failure="timed out after 10 s"), "timed out after 10 s"),
    (HttpReply(status=401, body=envelope(status_code=2000)), "HTTP 401"),
    (HttpReply(status=503, body=b"<html>down</html>"), "HTTP 503"),
    (HttpReply(status=200, body=b"<html>hello</html>"), "not a valid answer"),
    (
        HttpReply(status=200, body=b'{"data": []}'),
        "not a valid answer: status_code: Field required",
    ),
    (HttpReply(status=200, body=b"[1, 2]"), "not a valid answer"),
    (HttpReply(status=200, body=envelope(status_code=3000, message="db down")), "3000: db down"),
    (HttpReply(status=200, body=envelope(status_code=2000)), "status_code 2000"),
    (ok(None), "the answer has no data"),
    (ok([{"version": "2.2.1"}]), "0.url: Field required"),
]


@pytest.mark.parametrize(("reply", "reason"), BAD_REPLIES)
def test_an_unusable_versions_answer_is_3001(reply, reason):
    """Down, slow, garbage, refused, unsuccessful or incomplete: OCPI 3001 naming the call."""
    err = failing(discovering(), reply)

    assert isinstance(err, ClientApiUnusableError)
    assert err.ocpi_status == 3001
    assert err.message.startswith(f"GET {VERSIONS}: ")
    assert reason in err.message


@pytest.mark.parametrize(("reply", "reason"), BAD_REPLIES)
def test_an_unusable_details_answer_is_3001(reply, reason):
    """The same rules hold for the version details."""
    err = failing(discovering(), versions("2.2.1"), reply)

    assert isinstance(err, ClientApiUnusableError)
    assert err.message.startswith(f"GET {D221}: ")


@pytest.mark.parametrize(
    ("version", "details"),
    [
        ("2.2.1", details_221("credentials", version="2.1.1")),
        ("2.1.1", details_211("credentials", version="2.2.1")),
    ],
)
def test_details_of_another_version_are_3001(version, details):
    """The details must describe the version whose URL was fetched."""
    err = failing(discovering(version), versions(version), details)

    assert isinstance(err, ClientApiUnusableError)
    assert "details of version" in err.message


def test_2_2_1_details_without_roles_are_3001():
    """2.2.1 endpoints carry a role; details shaped like 2.1.1 are refused."""
    err = failing(discovering(), versions("2.2.1"), details_211("credentials", version="2.2.1"))

    assert isinstance(err, ClientApiUnusableError)
    assert "role" in err.message


def test_a_401_tries_the_next_token_encoding_and_remembers_the_one_that_worked():
    """Trial and error (transport_and_format NOTE): Base64 first, then the raw token."""
    flow = discover(VERSIONS, "token-a", version=None, encodings=(B64, RAW))
    found, calls = drive(
        flow,
        HttpReply(status=401, body=envelope(status_code=2000)),
        versions("2.2.1"),
        details_221("credentials"),
    )

    assert [c.encoding for c in calls] == [B64, RAW, RAW]
    assert found.encoding is RAW


def test_a_401_with_every_encoding_is_3001():
    """When no encoding is accepted the partner refused the token."""
    refused = HttpReply(status=401)
    flow = discover(VERSIONS, "token-a", version=None, encodings=(B64, RAW))
    err = failing(flow, refused, refused)

    assert "HTTP 401, the partner refused the token" in err.message


# --- the Sender's side ----------------------------------------------------------------------


def test_register_posts_our_credentials_with_token_a_and_reads_theirs():
    """Discover with Token A, POST our credentials with the new token, return theirs."""
    result, calls = drive(
        register(VERSIONS, "token-a", ours=US, new_token="token-for-them"),
        versions("2.2.1"),
        details_221("credentials", "locations"),
        ok(their_credentials()),
    )

    post = calls[2]
    assert (post.method, post.url, post.token, post.encoding) == (
        "POST",
        f"{D221}/credentials",
        "token-a",
        B64,
    )
    assert Credentials.model_validate(post.body).token == "token-for-them"
    assert post.body is not None
    assert post.body["roles"][0] == {
        "role": "CPO",
        "business_details": {"name": "Example Charging", "website": "https://charging.example"},
        "party_id": "CEG",
        "country_code": "NL",
    }
    assert isinstance(result, Registered)
    link = result.link()
    assert link.token == "token-c-from-them"
    assert link.roles == (
        PartyRole(role="EMSP", country_code="DE", party_id="EMS", name="Example eMSP"),
    )
    assert link.version == "2.2.1"
    assert link.endpoint("locations") is not None


def test_register_with_a_2_1_1_partner_speaks_2_1_1():
    """A 2.1.1-only partner gets a 2.1.1 Credentials object and the raw token."""
    result, calls = drive(
        register(VERSIONS, "token-a", ours=US, new_token="token-for-them"),
        HttpReply(status=401),
        versions("2.1.1"),
        details_211("credentials"),
        ok(their_v211_credentials()),
    )

    post = calls[3]
    assert post.encoding is RAW
    assert V211Credentials.model_validate(post.body).party_id == "CEG"
    link = result.link()
    assert link.encoding is RAW
    assert link.roles == (
        PartyRole(role="EMSP", country_code="BE", party_id="OLD", name="Old eMSP"),
    )
    assert link.endpoints[0].role is None


@pytest.mark.parametrize(
    "reply",
    [
        HttpReply(status=405, body=envelope(status_code=2000, message="already registered")),
        ok({"token": "x"}),
        HttpReply(failure="connection refused"),
    ],
)
def test_a_refused_or_broken_credentials_answer_is_3001(reply):
    """The partner's POST answer must be a successful envelope with its Credentials."""
    err = failing(
        register(VERSIONS, "token-a", ours=US, new_token="t"),
        versions("2.2.1"),
        details_221("credentials"),
        reply,
    )
    assert isinstance(err, ClientApiUnusableError)
    assert err.message.startswith(f"POST {D221}/credentials: ")


def test_register_does_not_post_when_endpoints_are_missing():
    """The Sender that misses endpoints it needs does not POST (credentials §Required)."""
    flow = register(VERSIONS, "token-a", ours=US, new_token="t", required=("cdrs",))
    err = failing(flow, versions("2.2.1"), details_221("credentials"))
    assert isinstance(err, NoMatchingEndpointsError)


def a_link(version: str = "2.2.1", encoding: TokenEncoding = B64) -> PartnerLink:
    return PartnerLink(
        version=version,
        versions_url=VERSIONS,
        token="their-token",
        encoding=encoding,
        roles=(PartyRole(role="EMSP", country_code="DE", party_id="EMS"),),
        endpoints=(PartnerEndpoint(module="credentials", role=None, url=CRED211),),
    )


def test_update_discovers_again_and_puts_our_new_credentials():
    """Rotation from our side: the partner's token and encoding, then a PUT."""
    result, calls = drive(
        update(a_link(encoding=RAW), ours=US, new_token="next-token"),
        versions("2.2.1"),
        details_221("credentials"),
        ok(their_credentials("their-next-token")),
    )

    assert [(c.method, c.token, c.encoding) for c in calls] == [
        ("GET", "their-token", RAW),
        ("GET", "their-token", RAW),
        ("PUT", "their-token", RAW),
    ]
    assert calls[2].body is not None
    assert calls[2].body["token"] == "next-token"
    assert result.offer.token == "their-next-token"


def test_unregister_deletes_at_the_partners_credentials_endpoint():
    """DELETE with the partner's token; any successful envelope will do."""
    result, calls = drive(unregister(a_link()), ok())

    assert result is None
    assert [(c.method, c.url, c.token) for c in calls] == [("DELETE", CRED211, "their-token")]


def test_unregister_reports_a_refusal():
    """A partner that answers 405 (never registered) is reported as unusable."""
    err = failing(unregister(a_link()), HttpReply(status=405, body=envelope(status_code=2000)))
    assert isinstance(err, ClientApiUnusableError)


def test_unregister_needs_a_credentials_endpoint():
    """A link without a credentials endpoint cannot be unregistered over OCPI."""
    link = PartnerLink(
        version="2.2.1",
        versions_url=VERSIONS,
        token="t",
        encoding=B64,
        roles=(),
        endpoints=(),
    )
    with pytest.raises(NoMatchingEndpointsError):
        next(unregister(link))


# --- Credentials objects ----------------------------------------------------------------------


def test_our_2_1_1_credentials_name_our_first_role():
    """2.1.1 has one party per Credentials object: ours at top level."""
    body = to_credentials(US, "tok", "2.1.1")
    assert body == {
        "token": "tok",
        "url": "https://cpo.example/ocpi/versions",
        "business_details": {"name": "Example Charging", "website": "https://charging.example"},
        "party_id": "CEG",
        "country_code": "NL",
    }


def test_our_credentials_omit_a_missing_website():
    """No website configured: business_details has only the name."""
    ours = Identity(versions_url=US.versions_url, roles=US.roles)
    body = to_credentials(ours, "tok", "2.2.1")
    assert body["roles"][0]["business_details"] == {"name": "Example Charging"}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["CPO", "EMSP", "HUB", "NSP", "OTHER"]),
            st.from_regex(r"[A-Za-z]{2}", fullmatch=True),
            st.from_regex(r"[A-Za-z0-9]{3}", fullmatch=True),
        ),
        min_size=1,
        max_size=4,
        unique_by=lambda t: (t[0], t[1].upper(), t[2].upper()),
    )
)
def test_credentials_round_trip_through_an_offer(roles):
    """Any valid Credentials object reads back as the same roles, in canonical case."""
    creds = Credentials.model_validate(
        {
            "token": "t0k",
            "url": VERSIONS,
            "roles": [
                {"role": r, "business_details": {"name": "n"}, "party_id": p, "country_code": c}
                for r, c, p in roles
            ],
        }
    )
    offer = from_credentials(creds)

    assert offer == Offer(
        token="t0k",
        url=VERSIONS,
        roles=tuple(
            PartyRole(role=r, country_code=c.upper(), party_id=p.upper(), name="n")
            for r, c, p in roles
        ),
    )
    assert "t0k" not in repr(offer)


def test_a_2_1_1_partner_that_accepts_both_encodings_gets_raw_tokens():
    """Base64 worked on the first try, but 2.1.1 speaks raw tokens: raw from the details on."""
    result, calls = drive(
        register(VERSIONS, "token-a", ours=US, new_token="t"),
        versions("2.1.1"),
        details_211("credentials"),
        ok(their_v211_credentials()),
    )

    assert [c.encoding for c in calls] == [B64, RAW, RAW]
    assert result.link().encoding is RAW


def test_a_2_1_1_partner_refusing_raw_tokens_keeps_base64():
    """If the raw token is refused for the details, Base64 (which worked) is used again."""
    result, calls = drive(
        register(VERSIONS, "token-a", ours=US, new_token="t"),
        versions("2.1.1"),
        HttpReply(status=401),
        details_211("credentials"),
        ok(their_v211_credentials()),
    )

    assert [c.encoding for c in calls] == [B64, RAW, B64, B64]
    assert result.link().encoding is B64
