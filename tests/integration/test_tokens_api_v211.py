"""The 2.1.1 Tokens receiver over real HTTP: 2.1.1 Tokens stored as the partner's own."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import Running

pytestmark = pytest.mark.integration

URL = "/ocpi/2.1.1/tokens/DE/EMS"


def a_token(uid: str = "04A1B2C3", **overrides: Any) -> dict[str, Any]:
    return {
        "uid": uid,
        "type": "RFID",
        "auth_id": "DE-EMS-C00001-1",
        "issuer": "Test eMSP",
        "valid": True,
        "whitelist": "ALWAYS",
        "last_updated": "2026-11-22T09:00:00Z",
        **overrides,
    }


async def test_2_1_1_partners_find_the_tokens_receiver(running: Running, http):
    """The 2.1.1 version details list ``tokens``; OpenAPI documents its three methods."""
    endpoints = (await http.get("/ocpi/2.1.1")).json()["data"]["endpoints"]
    paths = (await http.get("/openapi.json")).json()["paths"]

    assert {"identifier": "tokens", "url": "http://localhost:8000/ocpi/2.1.1/tokens"} in endpoints
    assert {"get", "put", "patch"} <= set(
        paths["/ocpi/2.1.1/tokens/{country_code}/{party_id}/{token_uid}"]
    )


async def test_a_2_1_1_token_is_put_patched_and_read_back_in_both_versions(running: Running, http):
    """PUT 201 then 200; a PATCH without last_updated applies; GET shows the 2.1.1 shape,
    and the same token is the 2.2.1 one the partner's role owns, auth_id as contract_id."""
    created = await http.put(f"{URL}/04A1B2C3", json=a_token())
    replaced = await http.put(f"{URL}/04A1B2C3", json=a_token(auth_id="DE-EMS-C00002-2"))
    patched = await http.patch(f"{URL}/04A1B2C3", json={"valid": False})
    got = await http.get(f"{URL}/04a1b2c3")
    as_221 = await http.get("/ocpi/2.2.1/tokens/DE/EMS/04A1B2C3")

    assert (created.status_code, created.json()["status_code"]) == (201, 1000)
    assert (replaced.status_code, patched.status_code) == (200, 200)
    data = got.json()["data"]
    assert {k: v for k, v in data.items() if k != "last_updated"} == {
        k: v
        for k, v in a_token(auth_id="DE-EMS-C00002-2", valid=False).items()
        if k != "last_updated"
    }
    assert data["last_updated"] == running.clock().isoformat().replace("+00:00", "Z")
    token_221 = as_221.json()["data"]
    assert (token_221["country_code"], token_221["party_id"]) == ("DE", "EMS")
    assert token_221["contract_id"] == "DE-EMS-C00002-2"


@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [
        ("PUT", f"{URL}/04A1B2C3?type=APP_USER", a_token(), (200, 2001)),  # not a 2.1.1 type
        ("PUT", f"{URL}/OTHERUID", a_token(), (200, 2001)),  # uid is not the URL's
        ("PUT", f"{URL}/04A1B2C3?type=OTHER", a_token(), (200, 2001)),  # type is not the URL's
        ("PUT", "/ocpi/2.1.1/tokens/NL/TNM/04A1B2C3", a_token(), (404, 2000)),  # not its party
        ("PATCH", f"{URL}/NOPE", {"valid": False}, (404, 2004)),  # PUT it first
        ("GET", f"{URL}/NOPE", None, (404, 2004)),
    ],
)
async def test_2_1_1_token_requests_that_do_not_fit_are_refused(
    running: Running, http, method: str, path: str, body: Any, expected: tuple[int, int]
):
    """Wrong type, foreign ids, a party the caller does not own, an unknown token."""
    reply = await http.request(method, path, json=body)

    assert (reply.status_code, reply.json()["status_code"]) == expected
