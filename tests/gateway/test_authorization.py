"""Site authorisation: staff tokens, free vend, everything else refused."""

from __future__ import annotations

import pytest

from gateway.authorization import SiteAuthorizer
from gateway.config import AuthorizationSettings, SiteToken
from gateway.domain.authorization import AuthStatus
from gateway.domain.ids import ChargerId
from gateway.domain.transactions import AuthToken

CP = ChargerId("CP")


@pytest.mark.parametrize(
    ("settings", "token", "status", "source"),
    [
        (
            AuthorizationSettings(site_tokens=(SiteToken(uid="04a1b2"),)),
            "04A1B2",
            AuthStatus.ACCEPTED,
            "site",
        ),
        (AuthorizationSettings(), "04A1B2", AuthStatus.INVALID, "site"),
        (AuthorizationSettings(free_vend=True), "anything", AuthStatus.ACCEPTED, "free_vend"),
    ],
)
async def test_site_tokens_are_accepted_case_insensitively(settings, token, status, source):
    """Token uids are CiStrings; unknown tokens are Invalid unless the site is free vend."""
    decision = await SiteAuthorizer(settings).authorize(CP, AuthToken(value=token), None)

    assert (decision.status, decision.source, decision.accepted) == (
        status,
        source,
        status is AuthStatus.ACCEPTED,
    )
