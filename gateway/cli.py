"""The ``gateway`` command: serve, check-config, chargers/ui hash-password, partners ...."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gateway import __version__
from gateway.config import ConfigError, Settings, default_config_path, load_settings
from gateway.passwords import hash_password

if TYPE_CHECKING:
    from gateway.app import OcpiPlatform
    from gateway.domain.partners import PartnerRecord


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway",
        description="OCPP central system and OCPI CPO platform in one process.",
    )
    parser.add_argument("--version", action="version", version=f"gateway {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_config(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--config",
            type=Path,
            default=None,
            help="configuration file (default: $GATEWAY_CONFIG or ./config.toml)",
        )

    with_config(commands.add_parser("serve", help="run the gateway"))
    with_config(commands.add_parser("check-config", help="validate the configuration and exit"))
    chargers = commands.add_parser("chargers", help="charger administration")
    charger_commands = chargers.add_subparsers(dest="charger_command", required=True)
    hp = charger_commands.add_parser(
        "hash-password",
        help="hash a charger password (AuthorizationKey) for config.toml's password_hash",
    )
    hp.add_argument("--stdin", action="store_true", help="read the password from standard input")
    ui = commands.add_parser("ui", help="the operator web pages")
    ui_commands = ui.add_subparsers(dest="ui_command", required=True)
    uhp = ui_commands.add_parser(
        "hash-password",
        help="hash the operator's password for config.toml's [operator_ui] password_hash",
    )
    uhp.add_argument("--stdin", action="store_true", help="read the password from standard input")
    _partner_commands(commands, with_config)
    cdrs = commands.add_parser("cdrs", help="OCPI CDRs")
    cdr_commands = cdrs.add_subparsers(dest="cdr_command", required=True)
    credit = cdr_commands.add_parser(
        "credit",
        help="cancel a CDR with a credit CDR (same data, negative costs, id + '-C'); it is "
        "sent to the partner like any CDR, also while the gateway runs",
    )
    credit.add_argument("cdr_id", help="the id of the CDR to credit")
    credit.add_argument("--remark", help="a remark for the partner (255 characters at most)")
    with_config(credit)
    return parser


def _partner_commands(commands: Any, with_config: Any) -> None:
    partners = commands.add_parser(
        "partners",
        help="OCPI roaming partners",
        description="Register OCPI partners. These commands work on the database directly "
        "and may run while the gateway is running (as the same user, so that the key file "
        "and the database stay readable by the gateway).",
    )
    sub = partners.add_subparsers(dest="partner_command", required=True)
    invite = sub.add_parser(
        "invite", help="issue a single-use Token A for a partner that will register with us"
    )
    invite.add_argument("name", help="a name for the partner, as `partners list` shows it")
    invite.add_argument("--json", action="store_true", help='print {"versions_url", "token"}')
    with_config(invite)
    listing = sub.add_parser("list", help="partners and open invitations")
    listing.add_argument("--json", action="store_true", help="print JSON")
    with_config(listing)
    connect = sub.add_parser(
        "connect", help="register with a partner that gave us its versions URL and a Token A"
    )
    connect.add_argument("--versions-url", required=True, help="the partner's versions URL")
    connect.add_argument(
        "--token", required=True, help="the partner's Token A ('-' reads it from standard input)"
    )
    connect.add_argument("--name", help="a name for the partner (default: its host name)")
    with_config(connect)
    rotate = sub.add_parser("rotate", help="exchange fresh tokens with a registered partner")
    rotate.add_argument("name")
    with_config(rotate)
    remove = sub.add_parser(
        "remove", help="unregister a partner (telling it, if it can be reached) or an invitation"
    )
    remove.add_argument("name")
    remove.add_argument(
        "--no-notify", action="store_true", help="do not send DELETE to the partner first"
    )
    with_config(remove)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "chargers":
        return _hash_password(read_stdin=args.stdin)
    if args.command == "ui":
        return _hash_operator_password(read_stdin=args.stdin)
    path = args.config or default_config_path()
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        sys.stderr.write(f"configuration error:\n{exc}\n")
        return 2
    if args.command == "partners":
        return _partners(args, settings)
    if args.command == "cdrs":
        return _credit(args, settings)
    if args.command == "check-config":
        sys.stdout.write(
            f"{path}: ok ({len(settings.chargers)} chargers, {len(settings.locations)} locations, "
            f"{sum(len(loc.evses) for loc in settings.locations)} EVSEs, "
            f"{len(settings.tariffs)} tariffs)\n"
        )
        return 0
    from gateway import logs
    from gateway.app import serve

    logs.configure(settings.logging.level, settings.logging.format)
    from gateway.storage.keys import KeyFileError
    from gateway.storage.sql import StoreError
    from gateway.ui.auth import KeyFileError as SessionKeyError

    try:
        asyncio.run(serve(settings))
    except (OSError, StoreError, KeyFileError, SessionKeyError) as exc:
        sys.stderr.write(f"cannot start: {exc}\n")
        return 1
    return 0


def _credit(args: argparse.Namespace, settings: Settings) -> int:
    """``gateway cdrs credit``: store a credit CDR; the (running) gateway sends it."""
    from gateway.storage.sql import SqlStore, StoreError
    from ocpi_bridge.sealing import CreditError, issue_credit

    store = SqlStore(settings.database_url(), busy_timeout_ms=settings.storage.busy_timeout_ms)
    try:
        store.open()
        issued = issue_credit(
            store.delivery, args.cdr_id, now=datetime.now(UTC), remark=args.remark
        )
    except (OSError, StoreError) as exc:
        sys.stderr.write(f"cannot open the database: {exc}\n")
        return 1
    except CreditError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    finally:
        store.close()
    _out(f"credit CDR {issued.cdr_id} issued for {'/'.join(issued.owner)}")
    return 0


def _hash_password(*, read_stdin: bool) -> int:
    if read_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("charger password (AuthorizationKey): ")
    # OCPP security profiles: the AuthorizationKey is 16 to 40 characters.
    if not 16 <= len(password) <= 40:
        sys.stderr.write("a charger password must be 16 to 40 characters long\n")
        return 2
    sys.stdout.write(f'password_hash = "{hash_password(password)}"\n')
    return 0


#: The operator password guards commands to every charger: long enough to resist guessing
#: even when the login page is reachable from the internet.
OPERATOR_PASSWORD_MIN = 12


def _hash_operator_password(*, read_stdin: bool) -> int:
    if read_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("operator password: ")
        if getpass.getpass("again: ") != password:
            sys.stderr.write("the two passwords differ\n")
            return 2
    if len(password) < OPERATOR_PASSWORD_MIN:
        sys.stderr.write(f"use at least {OPERATOR_PASSWORD_MIN} characters\n")
        return 2
    sys.stdout.write("# in the [operator_ui] table of config.toml:\n")
    sys.stdout.write(f'password_hash = "{hash_password(password)}"\n')
    return 0


def _partners(args: argparse.Namespace, settings: Settings) -> int:
    """Run one ``gateway partners`` command against the database and, if needed, the partner."""
    from gateway import logs
    from gateway.app import OcpiPlatform, utc_now
    from gateway.storage.keys import KeyFileError
    from gateway.storage.sql import SqlStore, StoreError
    from ocpi_bridge.registrar import RegistrationError

    logs.configure("WARNING", settings.logging.format)
    store = SqlStore(settings.database_url(), busy_timeout_ms=settings.storage.busy_timeout_ms)
    try:
        store.open()
        platform = OcpiPlatform(settings, store, clock=utc_now)
        return asyncio.run(_partner_command(args, platform))
    except (OSError, StoreError, KeyFileError) as exc:
        sys.stderr.write(f"cannot open the partner store: {exc}\n")
        return 1
    except RegistrationError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    finally:
        store.close()


async def _partner_command(args: argparse.Namespace, platform: OcpiPlatform) -> int:
    registrar = platform.registrar
    try:
        if args.partner_command == "invite":
            invitation = registrar.invite(args.name)
            if args.json:
                _out(
                    json.dumps({"versions_url": invitation.versions_url, "token": invitation.token})
                )
            else:
                _out(f"versions URL: {invitation.versions_url}")
                _out(f"token:        {invitation.token}")
                _out(f"valid until:  {_when(invitation.expires_at)} (single use)")
            return 0
        if args.partner_command == "list":
            _list(platform, as_json=args.json)
            return 0
        if args.partner_command == "connect":
            from_stdin = args.token == "-"  # noqa: S105 - "-" names standard input
            token = sys.stdin.readline().strip() if from_stdin else args.token
            name = args.name or (urlsplit(args.versions_url).hostname or "partner")
            record = await registrar.connect(args.versions_url, token, name=name)
            _out(f"registered with {record.name}: {_roles(record)}")
            return 0
        if args.partner_command == "rotate":
            record = await registrar.rotate(args.name)
            _out(f"new tokens exchanged with {record.name}")
            return 0
        problem = await registrar.remove(args.name, notify=not args.no_notify)
        if problem:
            sys.stderr.write(f"warning: {args.name} was not told: {problem}\n")
        _out(f"removed {args.name}")
        return 0
    finally:
        await platform.aclose()


def _list(platform: OcpiPlatform, *, as_json: bool) -> None:
    partners = platform.partners.partners()
    invitations = platform.partners.invitations(now=datetime.now(UTC))
    if as_json:
        rows = [
            {
                "name": p.name,
                "state": p.state.value,
                "version": p.link.version if p.link else None,
                "roles": [r.label for r in p.roles],
                "updated_at": _when(p.updated_at),
            }
            for p in partners
        ]
        rows += [
            {"name": i.name, "state": "invited", "expires_at": _when(i.expires_at)}
            for i in invitations
        ]
        _out(json.dumps(rows, indent=2))
        return
    if not partners and not invitations:
        _out("no partners")
    for p in partners:
        version = p.link.version if p.link else "-"
        _out(
            f"{p.name}  {p.state.value}  OCPI {version}  {_roles(p)}  updated {_when(p.updated_at)}"
        )
    for i in invitations:
        _out(f"{i.name}  invited  token A valid until {_when(i.expires_at)}")


def _roles(record: PartnerRecord) -> str:
    return ", ".join(r.label for r in record.roles) or "-"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
