"""``courtyard passwd``: set a password, for Courtyard's own accounts or (as root) Unix ones."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from courtyard.auth.authenticators import LocalAuthenticator, make_authenticator
from courtyard.cli.common import add_settings_options, load_from_args
from courtyard.errors import AuthError
from courtyard.store.store import Store


def register(commands: Any) -> None:
    parser = commands.add_parser("passwd", help="set a user's password")
    parser.add_argument("name", nargs="?", help="user (default: you)")
    parser.add_argument("--stdin", action="store_true", help="read the password from stdin")
    add_settings_options(parser)
    parser.set_defaults(run=run_passwd)


def read_new_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("New password: ")
        if getpass.getpass("Repeat it: ") != password:
            raise AuthError("the two passwords differ; nothing was changed.")
    if len(password) < 8:
        raise AuthError("a password needs at least 8 characters; nothing was changed.")
    return password


def run_passwd(args: argparse.Namespace) -> int:
    settings = load_from_args(args).settings
    name = args.name or getpass.getuser()
    store = Store.open(settings.resolved_database_url())
    try:
        authenticator = make_authenticator(settings, store)
        if not isinstance(authenticator, LocalAuthenticator):
            raise AuthError(
                f"{name!r} is a Unix account (auth = \"system\"): change it with 'passwd {name}'."
            )
        password = read_new_password(args.stdin)
        asyncio.run(authenticator.set_password(name, password))
    finally:
        store.close()
    print(f"password of {name!r} changed.")
    return 0
