"""The ``gateway`` command: serve, check-config, chargers hash-password."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence
from pathlib import Path

from gateway import __version__
from gateway.config import ConfigError, default_config_path, load_settings
from gateway.passwords import hash_password


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "chargers":
        return _hash_password(read_stdin=args.stdin)
    path = args.config or default_config_path()
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        sys.stderr.write(f"configuration error:\n{exc}\n")
        return 2
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
    from gateway.storage.sql import StoreError

    try:
        asyncio.run(serve(settings))
    except (OSError, StoreError) as exc:
        sys.stderr.write(f"cannot start: {exc}\n")
        return 1
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
