"""``courtyard user list|add|remove|passwd|admin``: manage people from a terminal.

Works on the same store as a running hub (SQLite in WAL mode or PostgreSQL), so it can be used
while the hub runs; the hub notices admin changes within a few seconds (its session cache).
Only the running hub can stop a server, so ``remove`` asks it to, over its admin socket
(daemon/adminsocket.py), before deleting the user.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from courtyard.app import StateLayout
from courtyard.auth.authenticators import make_authenticator
from courtyard.cli.common import add_settings_options, load_from_args
from courtyard.config.settings import Settings
from courtyard.daemon.adminsocket import ask_hub_to_stop_server
from courtyard.errors import AuthError, ServerStateError
from courtyard.hub.users import UserAdmin
from courtyard.store.store import Store, UserQuery

PAGE = 500


def register(commands: Any) -> None:
    parser = commands.add_parser("user", help="list, add, remove users; passwords; admin flag")
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    add_command(actions, "list", "list users and their servers", run_list)
    add = add_command(actions, "add", "add users", run_add)
    add.add_argument("names", nargs="+", metavar="NAME")
    add.add_argument("--admin", action="store_true", help="make them admins")
    how = add.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read one password from stdin")
    how.add_argument("--generate", action="store_true", help="generate passwords (the default)")
    remove = add_command(actions, "remove", "remove a user", run_remove)
    remove.add_argument("name")
    remove.add_argument(
        "--unix-account", action="store_true", help="also remove the Unix account and its home"
    )
    passwd = add_command(actions, "passwd", "set a user's password", run_passwd)
    passwd.add_argument("name")
    passwd.add_argument("--stdin", action="store_true", help="read the password from stdin")
    passwd.add_argument("--generate", action="store_true", help="generate one and print it")
    admin = add_command(actions, "admin", "make a user an admin or not", run_admin)
    admin.add_argument("name")
    admin.add_argument("flag", choices=("on", "off"))


def add_command(
    actions: Any, name: str, help: str, run: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(name, help=help)
    add_settings_options(parser)
    parser.set_defaults(run=run)
    return parser


@contextmanager
def opened(args: argparse.Namespace) -> Iterator[tuple[UserAdmin, Store]]:
    settings = load_from_args(args).settings
    store = Store.open(settings.resolved_database_url())
    try:
        yield UserAdmin(settings, store, make_authenticator(settings, store)), store
    finally:
        store.close()


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("New password: ")
    if getpass.getpass("Repeat it: ") != password:
        raise AuthError("the two passwords differ; nothing was changed.")
    return password


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def run_list(args: argparse.Namespace) -> int:
    with opened(args) as (_, store):
        rows: list[tuple[str, ...]] = []
        offset = 0
        while True:
            page = store.find_users(UserQuery(offset=offset, limit=PAGE))
            for user, server in page.rows:
                activity = (
                    user.last_activity.strftime("%Y-%m-%d %H:%M") if user.last_activity else "-"
                )
                state = server.state if server else "stopped"
                rows.append((user.name, "yes" if user.admin else "", state, activity))
            offset += PAGE
            if offset >= page.total:
                break
    print_table(("NAME", "ADMIN", "SERVER", "LAST ACTIVITY (UTC)"), rows)
    print(f"{len(rows)} user{'s' if len(rows) != 1 else ''}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    password = read_password(True) if args.password_stdin else None
    with opened(args) as (users, _):
        added = asyncio.run(users.add(args.names, admin=args.admin, password=password))
    shown: list[tuple[str, ...]] = [(a.name, a.password) for a in added if a.password]
    for account in added:
        print(f"added {account.name!r}{' (admin)' if args.admin else ''}")
    if shown:
        print("Passwords (shown once):")
        print_table(("NAME", "PASSWORD"), shown)
    return 0


def run_remove(args: argparse.Namespace) -> int:
    with opened(args) as (users, store):
        store.require_user(args.name)
        before = store.get_server(args.name)
        was_running = before is not None and before.state != "stopped"
        if stop_server_through_hub(users.settings, args.name) and was_running:
            print(f"the hub stopped {args.name}'s server")
        server = store.get_server(args.name)
        if server is not None and server.state != "stopped":
            raise ServerStateError(
                f"{args.name}'s server is {server.state} and no hub runs to stop it. Start the "
                "hub, or run 'courtyard stop-servers', then remove the user."
            )
        users.delete(args.name, remove_unix_account=args.unix_account)
    print(f"removed {args.name!r}{' and its Unix account' if args.unix_account else ''}")
    return 0


def stop_server_through_hub(settings: Settings, name: str) -> bool:
    """Ask the running hub of this state dir to stop and forget ``name``'s server (it also
    drops its handle of a stopped one). False if no hub runs."""
    path = StateLayout(settings.resolved_state_dir()).admin_socket
    return ask_hub_to_stop_server(path, name, timeout=settings.stop_grace + 60.0)


def run_passwd(args: argparse.Namespace) -> int:
    given = None if args.generate else read_password(args.stdin)
    with opened(args) as (users, _):
        chosen = asyncio.run(users.set_password(args.name, given))
    print(f"password of {args.name!r} changed.")
    if given is None:
        print(f"new password (shown once): {chosen}")
    return 0


def run_admin(args: argparse.Namespace) -> int:
    with opened(args) as (users, _):
        users.set_admin(args.name, args.flag == "on")
    print(f"{args.name!r} is {'now' if args.flag == 'on' else 'no longer'} an admin")
    return 0
