"""Partner records: canonical CiStrings, endpoint look-up, registered hosts, no token in repr."""

from __future__ import annotations

from gateway.domain.partners import (
    PartnerEndpoint,
    PartnerLink,
    PartnerRecord,
    PartnerState,
    PartyRole,
    TokenEncoding,
)
from tests.builders import T0

LINK = PartnerLink(
    version="2.2.1",
    versions_url="https://API.emsp.example:8443/ocpi/versions",
    token="secret-token-b",
    encoding=TokenEncoding.BASE64,
    roles=(PartyRole(role="EMSP", country_code="de", party_id="ems", name="eMSP"),),
    endpoints=(
        PartnerEndpoint(module="credentials", role="SENDER", url="https://api.emsp.example/c"),
        PartnerEndpoint(module="locations", role="RECEIVER", url="https://push.emsp.example/l"),
        PartnerEndpoint(module="tokens", role=None, url="not a url"),
    ),
)


def a_record(link: PartnerLink | None = LINK) -> PartnerRecord:
    return PartnerRecord(
        id=1,
        name="emsp",
        state=PartnerState.REGISTERED,
        link=link,
        our_roles=(),
        created_at=T0,
        updated_at=T0,
    )


def test_roles_are_kept_upper_case_and_compared_case_insensitively():
    """CiString country codes and party ids: canonical upper-case, any case matches."""
    role = LINK.roles[0]
    assert (role.country_code, role.party_id) == ("DE", "EMS")
    assert role.is_party("De", "eMs")
    assert not role.is_party("NL", "EMS")
    assert role.label == "EMSP DE/EMS"


def test_endpoints_are_found_by_module_and_role():
    """A role filter matches that role, or a 2.1.1 endpoint that has none."""
    assert LINK.endpoint("locations") == LINK.endpoints[1]
    assert LINK.endpoint("locations", "RECEIVER") == LINK.endpoints[1]
    assert LINK.endpoint("locations", "SENDER") is None
    assert LINK.endpoint("tokens", "SENDER") == LINK.endpoints[2]
    assert LINK.endpoint("cdrs") is None


def test_the_registered_hosts_come_from_every_url_lower_cased():
    """Versions URL and endpoint URLs name the hosts we may call; garbage names none."""
    assert LINK.hosts() == frozenset({"api.emsp.example", "push.emsp.example"})


def test_a_record_owns_the_roles_of_its_link():
    """A registered partner owns its roles; a pending one (no link) owns nothing."""
    assert a_record().owns("de", "EMS")
    assert not a_record().owns("DE", "XXX")
    assert a_record(None).roles == ()
    assert not a_record(None).owns("DE", "EMS")


def test_tokens_never_show_in_repr():
    """A record in a log line or traceback does not leak the partner's token."""
    assert "secret-token-b" not in repr(a_record())
