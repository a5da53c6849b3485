"""The Tokens receiver over real HTTP: what eMSPs PUT, PATCH and GET (mod_tokens §Receiver)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.conftest import Running

pytestmark = pytest.mark.integration

URL = "/ocpi/2.2.1/tokens/DE/EMS"


def a_token(uid: str = "04A1B2C3", **overrides: Any) -> dict[str, Any]:
    return {
        "country_code": "DE",
        "party_id": "EMS",
        "uid": uid,
        "type": "RFID",
        "contract_id": "DE-EMS-C00001-1",
        "issuer": "Test eMSP",
        "group_id": "DE-EMS-G1",
        "valid": True,
        "whitelist": "ALWAYS",
        "energy_contract": {"supplier_name": "Green Power", "contract_id": "GP-1"},
        "last_updated": "2026-11-22T09:00:00Z",
        **overrides,
    }


async def test_the_version_details_and_openapi_list_the_tokens_receiver(running: Running, http):
    """Partners find our Tokens receiver in the 2.2.1 version details; OpenAPI documents it."""
    endpoints = (await http.get("/ocpi/2.2.1")).json()["data"]["endpoints"]
    paths = (await http.get("/openapi.json")).json()["paths"]

    assert {
        "identifier": "tokens",
        "role": "RECEIVER",
        "url": "http://localhost:8000/ocpi/2.2.1/tokens",
    } in endpoints
    route = paths["/ocpi/2.2.1/tokens/{country_code}/{party_id}/{token_uid}"]
    assert {"get", "put", "patch"} <= set(route)
    assert "requestBody" in route["put"]


async def test_a_put_token_is_created_then_replaced_and_read_back(running: Running, http):
    """PUT answers 201 for a new token and 200 for a replacement; GET returns it whole."""
    created = await http.put(f"{URL}/04A1B2C3", json=a_token())
    replaced = await http.put(f"{URL}/04A1B2C3", json=a_token(contract_id="DE-EMS-C00002-2"))
    got = await http.get(f"{URL}/04a1b2c3")  # uids are CiStrings

    assert (created.status_code, created.json()["status_code"]) == (201, 1000)
    assert (replaced.status_code, replaced.json()["status_code"]) == (200, 1000)
    assert got.status_code == 200
    assert got.json()["data"] == a_token(contract_id="DE-EMS-C00002-2")


async def test_tokens_of_different_types_are_different_tokens(running: Running, http):
    """The key is (country, party, uid, type): ``?type=`` selects it, RFID when omitted."""
    await http.put(f"{URL}/APP-1?type=APP_USER", json=a_token("APP-1", type="APP_USER"))

    rfid = await http.get(f"{URL}/APP-1")
    app = await http.get(f"{URL}/APP-1", params={"type": "APP_USER"})

    assert (rfid.status_code, rfid.json()["status_code"]) == (404, 2004)
    assert app.json()["data"]["type"] == "APP_USER"


MISFITS = [
    (f"{URL}/04A1B2C3", a_token("OTHER"), "uid"),
    (f"{URL}/04A1B2C3", a_token(country_code="NL"), "country_code"),
    (f"{URL}/04A1B2C3", a_token(party_id="XYZ"), "party_id"),
    (f"{URL}/04A1B2C3?type=APP_USER", a_token(), "type"),
    (f"{URL}/04A1B2C3?type=CARD", a_token(), "type"),
    (f"{URL}/04A1B2C3", a_token(whitelist="SOMETIMES"), "whitelist"),
    (f"{URL}/04A1B2C3", {k: v for k, v in a_token().items() if k != "contract_id"}, "contract_id"),
]


async def test_a_put_that_does_not_fit_its_url_or_the_model_is_2001(running: Running, http):
    """Body ids must be the URL's, the type a TokenType, the body a Token: else 2001, not stored."""
    for path, body, field in MISFITS:
        reply = await http.put(path, json=body)

        assert (reply.status_code, reply.json()["status_code"]) == (200, 2001), field
        assert field in reply.json()["status_message"]
    assert (await http.get(f"{URL}/04A1B2C3")).status_code == 404


async def test_a_token_for_a_party_the_caller_does_not_own_is_refused(running: Running, http):
    """Only the owner may push a token: another country/party in the URL is HTTP 404."""
    reply = await http.put(
        "/ocpi/2.2.1/tokens/NL/TNM/04A1B2C3", json=a_token(country_code="NL", party_id="TNM")
    )
    read = await http.get("/ocpi/2.2.1/tokens/NL/TNM/04A1B2C3")

    assert reply.status_code == 404
    assert read.status_code == 404


async def test_a_patch_changes_only_the_fields_it_names(running: Running, http):
    """PATCH (the spec's invalidation example) keeps every other field."""
    await http.put(f"{URL}/04A1B2C3", json=a_token())

    reply = await http.patch(
        f"{URL}/04A1B2C3", json={"valid": False, "last_updated": "2026-11-22T09:30:00Z"}
    )
    got = (await http.get(f"{URL}/04A1B2C3")).json()["data"]

    assert (reply.status_code, reply.json()["status_code"]) == (200, 1000)
    assert got == a_token(valid=False, last_updated="2026-11-22T09:30:00Z")


BAD_PATCHES = [
    {"valid": False},  # no last_updated
    {"uid": "OTHER", "last_updated": "2026-11-22T09:30:00Z"},
    {"issuer": None, "last_updated": "2026-11-22T09:30:00Z"},  # clears a required field
    {"whitelist": "MAYBE", "last_updated": "2026-11-22T09:30:00Z"},
]


async def test_a_bad_patch_is_refused_and_changes_nothing(running: Running, http):
    """A PATCH without last_updated, with foreign ids or making an invalid token is 2001."""
    await http.put(f"{URL}/04A1B2C3", json=a_token())

    for body in BAD_PATCHES:
        reply = await http.patch(f"{URL}/04A1B2C3", json=body)

        assert (reply.status_code, reply.json()["status_code"]) == (200, 2001), body
    assert (await http.get(f"{URL}/04A1B2C3")).json()["data"] == a_token()


async def test_a_patch_of_an_unknown_token_asks_for_a_put(running: Running, http):
    """PATCH of a token we do not hold is HTTP 404 / 2004 (the eMSP then PUTs it)."""
    reply = await http.patch(
        f"{URL}/NOPE", json={"valid": False, "last_updated": "2026-11-22T09:30:00Z"}
    )

    assert (reply.status_code, reply.json()["status_code"]) == (404, 2004)


async def test_a_body_that_is_not_json_is_http_400(running: Running, http):
    """Invalid JSON is HTTP 400 in an envelope."""
    reply = await http.put(
        f"{URL}/04A1B2C3", content=b"{not json", headers={"Content-Type": "application/json"}
    )

    assert (reply.status_code, reply.json()["status_code"]) == (400, 2001)


async def test_the_receiver_needs_a_registered_partner(running: Running):
    """Without a valid token the Tokens receiver is HTTP 401."""
    async with httpx.AsyncClient(base_url=running.http_url) as client:
        reply = await client.put(f"{URL}/04A1B2C3", json=a_token())

    assert reply.status_code == 401
