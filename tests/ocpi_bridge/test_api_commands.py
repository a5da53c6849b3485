"""The Commands and ChargingProfiles receivers over HTTP (in process): answers and envelopes."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from gateway.domain.remote import RemoteKind
from ocpi_bridge.api.app import create_app
from ocpi_bridge.api.context import OcpiContext
from ocpi_bridge.parties import Directory, StaticParties
from ocpi_bridge.registrar import Registrar
from tests.ocpi_bridge.test_remote_control import (
    PROFILES_URL,
    RESULTS,
    SETTINGS,
    US,
    Partner,
    Site,
    World,
    reserve_body,
    running_tx,
    start_body,
)
from tests.remote_site import ocpi_token

BASE = "https://cpo.example"
TOKEN = "token-c-123456"


def b64(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


class Api:
    def __init__(self, world: World, *, with_commands: bool = True) -> None:
        self.world = world
        static = StaticParties(SETTINGS.ocpi.static_partners, us=US)
        self.app = create_app(
            OcpiContext(
                settings=SETTINGS,
                site=Site(),
                parties=Directory(world.partners, static=static, us=US, clock=world.clock),
                registrar=Registrar(
                    store=world.partners,
                    client=world.client,
                    settings=SETTINGS,
                    clock=world.clock,
                    static=static,
                ),
                clock=world.clock,
                configured_at={},
                commands=world.control if with_commands else None,
            )
        )

    async def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            reply = await client.request(
                method, path, headers=b64(TOKEN) if headers is None else headers, **kw
            )
        await self.world.control.idle()
        return reply


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    world = World(Partner())
    await world.control.start()
    yield Api(world)
    await world.control.stop()
    await world.client.aclose()


def dump(model: Any) -> Any:
    return model.model_dump(mode="json", exclude_none=True)


# --- commands ------------------------------------------------------------------------------------


async def test_a_command_is_answered_with_a_command_response_and_routing_headers(api: Api):
    """HTTP 200, OCPI 1000, CommandResponse ACCEPTED with the timeout; FROM us, TO the caller."""
    reply = await api.call("POST", "/ocpi/2.2.1/commands/START_SESSION", json=dump(start_body()))
    assert reply.status_code == 200
    body = reply.json()
    assert (body["status_code"], body["data"]) == (1000, {"result": "ACCEPTED", "timeout": 15})
    assert reply.headers["ocpi-from-party-id"] == "CEG"
    assert reply.headers["ocpi-to-party-id"] == "EMS"
    assert api.world.partner.bodies() == [{"result": "ACCEPTED"}]


async def test_the_role_in_the_routing_headers_is_the_one_results_go_to(api: Api):
    """A partner speaking as BE/EMB gets its result addressed to BE/EMB."""
    headers = {**b64(TOKEN), "OCPI-from-country-code": "BE", "OCPI-from-party-id": "EMB"}
    body = dump(start_body(token=ocpi_token(country_code="BE", party_id="EMB")))
    reply = await api.call("POST", "/ocpi/2.2.1/commands/START_SESSION", headers=headers, json=body)
    assert reply.json()["data"]["result"] == "ACCEPTED"
    (stored,) = api.world.store.commands.values()
    assert (stored.country_code, stored.party_id) == ("BE", "EMB")


@pytest.mark.parametrize(
    ("command", "body", "expected"),
    [
        ("STOP_SESSION", {"response_url": f"{RESULTS}/s", "session_id": "nope"}, "UNKNOWN_SESSION"),
        ("RESERVE_NOW", dump(reserve_body()), "ACCEPTED"),
        (
            "CANCEL_RESERVATION",
            {"response_url": f"{RESULTS}/c", "reservation_id": "R-9"},
            "ACCEPTED",
        ),
        (
            "UNLOCK_CONNECTOR",
            {
                "response_url": f"{RESULTS}/u",
                "location_id": "LOC-001",
                "evse_uid": "AC-0001-1",
                "connector_id": "1",
            },
            "ACCEPTED",
        ),
        ("START_SESSION", dump(start_body(evse_uid="AC-0001-4")), "REJECTED"),
    ],
)
async def test_each_command_reaches_its_handler(api: Api, command, body, expected):
    """The URL segment picks the body type and the handler."""
    reply = await api.call("POST", f"/ocpi/2.2.1/commands/{command}", json=body)
    data = reply.json()["data"]
    assert data["result"] == expected
    if expected != "ACCEPTED":
        assert data["timeout"] == 0
        assert data["message"][0]["language"] == "en"


@pytest.mark.parametrize(
    ("path", "body", "http_status", "status_code"),
    [
        ("/ocpi/2.2.1/commands/REBOOT", {}, 404, 2000),
        ("/ocpi/2.2.1/commands/START_SESSION", {"token": "x"}, 200, 2001),
        ("/ocpi/2.2.1/commands/START_SESSION", dump(start_body(location_id="LOC-9")), 200, 2003),
        (
            "/ocpi/2.2.1/commands/START_SESSION",
            dump(start_body(response_url="https://10.0.0.1/r")),
            200,
            2001,
        ),
        (
            "/ocpi/2.2.1/commands/START_SESSION",
            {**dump(start_body()), "connector_id": "1", "evse_uid": None},
            200,
            2001,
        ),
    ],
    ids=["unknown-command", "malformed", "unknown-location", "foreign-url", "connector-no-evse"],
)
async def test_bad_commands_get_their_defined_answer_and_no_call(
    api: Api, path, body, http_status, status_code
):
    """Unknown command 404; malformed 2001; unknown Location 2003; no data, nothing sent."""
    reply = await api.call("POST", path, json={k: v for k, v in body.items() if v is not None})
    assert reply.status_code == http_status
    envelope = reply.json()
    assert envelope["status_code"] == status_code
    assert "data" not in envelope
    assert api.world.link.sent == []
    assert api.world.store.commands == {}


async def test_a_body_that_is_not_json_is_http_400(api: Api):
    """transport_and_format: invalid JSON is HTTP 400."""
    reply = await api.call("POST", "/ocpi/2.2.1/commands/START_SESSION", content=b"{nope")
    assert (reply.status_code, reply.json()["status_code"]) == (400, 2001)


async def test_commands_need_a_registered_partner(api: Api):
    """No token, no command."""
    reply = await api.call("POST", "/ocpi/2.2.1/commands/START_SESSION", headers={}, json={})
    assert reply.status_code == 401


async def test_without_remote_control_commands_are_not_supported(api: Api):
    """A platform built without the lifecycle answers NOT_SUPPORTED rather than failing."""
    bare = Api(api.world, with_commands=False)
    reply = await bare.call("POST", "/ocpi/2.2.1/commands/START_SESSION", json=dump(start_body()))
    assert reply.json()["data"]["result"] == "NOT_SUPPORTED"
    put = await bare.call("PUT", "/ocpi/2.2.1/chargingprofiles/AC-0001-7", json=PROFILE)
    assert put.json()["data"] == {"result": "NOT_SUPPORTED", "timeout": 0}
    get = await bare.call(
        "GET",
        "/ocpi/2.2.1/chargingprofiles/AC-0001-7",
        params={"duration": "60", "response_url": PROFILES_URL},
    )
    assert get.json()["data"]["result"] == "NOT_SUPPORTED"
    delete = await bare.call(
        "DELETE", "/ocpi/2.2.1/chargingprofiles/AC-0001-7", params={"response_url": PROFILES_URL}
    )
    assert delete.json()["data"]["result"] == "NOT_SUPPORTED"


# --- charging profiles ----------------------------------------------------------------------

PROFILE: dict[str, Any] = {
    "response_url": f"{PROFILES_URL}/results/1",
    "charging_profile": {
        "charging_rate_unit": "A",
        "charging_profile_period": [{"start_period": 0, "limit": 16}],
    },
}


async def test_profile_requests_are_answered_with_a_charging_profile_response(api: Api):
    """PUT, GET and DELETE on a running session: ACCEPTED with the timeout."""
    api.world.transactions.txs.append(running_tx())
    put = await api.call("PUT", "/ocpi/2.2.1/chargingprofiles/AC-0001-7", json=PROFILE)
    assert put.json()["data"] == {"result": "ACCEPTED", "timeout": 15}
    get = await api.call(
        "GET",
        "/ocpi/2.2.1/chargingprofiles/AC-0001-7",
        params={"duration": "900", "response_url": f"{PROFILES_URL}/results/2"},
    )
    assert get.json()["data"]["result"] == "ACCEPTED"
    delete = await api.call(
        "DELETE",
        "/ocpi/2.2.1/chargingprofiles/AC-0001-7",
        params={"response_url": f"{PROFILES_URL}/results/3"},
    )
    assert delete.json()["data"]["result"] == "ACCEPTED"
    kinds = [c.kind for c in api.world.store.commands.values()]
    assert kinds == [RemoteKind.SET_PROFILE, RemoteKind.GET_PROFILE, RemoteKind.CLEAR_PROFILE]


async def test_a_profile_for_an_unknown_session_is_unknown_session(api: Api):
    """No running session with that id: UNKNOWN_SESSION, with the reason in status_message."""
    reply = await api.call("PUT", "/ocpi/2.2.1/chargingprofiles/AC-0001-99", json=PROFILE)
    body = reply.json()
    assert body["data"] == {"result": "UNKNOWN_SESSION", "timeout": 0}
    assert "no running session" in body["status_message"]


@pytest.mark.parametrize(
    ("method", "params", "body"),
    [
        (
            "PUT",
            None,
            {
                **PROFILE,
                "charging_profile": {**PROFILE["charging_profile"], "charging_rate_unit": "kW"},
            },
        ),
        ("PUT", None, {**PROFILE, "charging_profile": {"charging_rate_unit": "A"}}),
        (
            "PUT",
            None,
            {
                **PROFILE,
                "charging_profile": {
                    "charging_rate_unit": "A",
                    "charging_profile_period": [{"start_period": 0, "limit": -1}],
                },
            },
        ),
        (
            "PUT",
            None,
            {
                **PROFILE,
                "charging_profile": {
                    "charging_rate_unit": "A",
                    "charging_profile_period": [{"start_period": 0, "limit": 8.25}],
                },
            },
        ),
        ("GET", {"response_url": PROFILES_URL}, None),
        ("GET", {"duration": "soon", "response_url": PROFILES_URL}, None),
        ("GET", {"duration": "60"}, None),
        ("DELETE", {}, None),
        ("DELETE", {"response_url": "x" * 300}, None),
    ],
    ids=[
        "wrong-unit",
        "no-periods",
        "negative-limit",
        "two-decimals",
        "no-duration",
        "bad-duration",
        "no-url",
        "delete-no-url",
        "delete-long-url",
    ],
)
async def test_malformed_profile_requests_are_2001_and_send_nothing(api: Api, method, params, body):
    """Wrong unit, no periods, negative or over-precise limits, missing parameters: 2001."""
    api.world.transactions.txs.append(running_tx())
    reply = await api.call(
        method, "/ocpi/2.2.1/chargingprofiles/AC-0001-7", params=params, json=body
    )
    assert (reply.status_code, reply.json()["status_code"]) == (200, 2001)
    assert api.world.link.sent == []


async def test_a_refused_profile_request_keeps_the_response_shape(api: Api):
    """Another partner's session: REJECTED, timeout 0."""
    api.world.transactions.txs.append(replace(running_tx(), auth_source="other"))
    reply = await api.call("PUT", "/ocpi/2.2.1/chargingprofiles/AC-0001-7", json=PROFILE)
    assert reply.json()["data"] == {"result": "REJECTED", "timeout": 0}
    assert api.world.link.sent == []


async def test_the_openapi_document_describes_both_receivers(api: Api):
    """/openapi.json names the routes, their response models and the profile PUT body."""
    doc = (await api.call("GET", "/openapi.json", headers={})).json()
    paths = doc["paths"]
    assert "post" in paths["/ocpi/2.2.1/commands/{command}"]
    profiles = paths["/ocpi/2.2.1/chargingprofiles/{session_id}"]
    assert {"get", "put", "delete"} <= set(profiles)
    assert "requestBody" in profiles["put"]
    assert {"CommandResponse", "ChargingProfileResponse"} <= set(doc["components"]["schemas"])
