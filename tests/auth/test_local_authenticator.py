"""Courtyard's own accounts: argon2id hashes in the store."""

from __future__ import annotations

import logging

import pytest
from argon2 import PasswordHasher

from courtyard.auth.authenticators import LocalAuthenticator, make_authenticator
from courtyard.auth.passwords import needs_rehash
from courtyard.config.settings import Settings
from courtyard.errors import AuthError, UnknownUserError, UserExistsError
from courtyard.store import Store


@pytest.fixture
def local(store: Store) -> LocalAuthenticator:
    return LocalAuthenticator(Settings(auth="local"), store)


async def test_created_account_logs_in_with_its_generated_password(
    local: LocalAuthenticator, store: Store
) -> None:
    password = await local.create_user("Ada", admin=True)
    assert len(password) == 20
    user = store.get_user("ada")
    assert user.admin is True
    assert user.password_hash.startswith("$argon2id$")
    assert await local.authenticate("ada", password) == "ada"
    assert await local.authenticate("  ADA ", password) == "ada"


async def test_wrong_password_and_unknown_user_are_refused(local: LocalAuthenticator) -> None:
    await local.create_user("ada", "first-password")
    assert await local.authenticate("ada", "first-passwordx") is None
    assert await local.authenticate("nobody", "first-password") is None


async def test_user_row_without_password_cannot_log_in_until_given_one(
    local: LocalAuthenticator, store: Store
) -> None:
    store.add_user("ada")
    assert await local.authenticate("ada", "anything-at-all") is None
    assert await local.create_user("ada", "now-a-password") == "now-a-password"
    assert await local.authenticate("ada", "now-a-password") == "ada"


async def test_create_user_twice_raises(local: LocalAuthenticator) -> None:
    await local.create_user("ada", "first-password")
    with pytest.raises(UserExistsError):
        await local.create_user("ada", "other-password")


async def test_set_password_replaces_the_old_one(local: LocalAuthenticator) -> None:
    await local.create_user("ada", "first-password")
    await local.set_password("ada", "second-password")
    assert await local.authenticate("ada", "first-password") is None
    assert await local.authenticate("ada", "second-password") == "ada"
    with pytest.raises(UnknownUserError):
        await local.set_password("nobody", "second-password")


async def test_delete_user_removes_credentials_only(
    local: LocalAuthenticator, store: Store
) -> None:
    await local.create_user("ada", "first-password")
    await local.delete_user("ada")
    assert await local.authenticate("ada", "first-password") is None
    assert store.get_user("ada") is not None  # the hub deletes the row


@pytest.mark.parametrize("name", ["", "9lives", "a b", "../etc", "ada/x", "a" * 65, "ädä"])
async def test_invalid_new_names_are_refused(local: LocalAuthenticator, name: str) -> None:
    with pytest.raises(AuthError, match="not a valid user name"):
        await local.create_user(name, "good-password")


@pytest.mark.parametrize("password", ["short", "x" * 1025])
async def test_password_length_is_enforced(local: LocalAuthenticator, password: str) -> None:
    with pytest.raises(AuthError, match="8 to 1024"):
        await local.create_user("ada", password)


async def test_oversized_input_is_refused_and_logged_only_as_a_prefix(
    local: LocalAuthenticator, caplog: pytest.LogCaptureFixture
) -> None:
    password = await local.create_user("ada", "first-password")
    caplog.set_level(logging.INFO, logger="courtyard.auth")
    huge_name = "ada" + "Z" * 100_000
    assert await local.authenticate(huge_name, password) is None
    assert await local.authenticate("ada", password + "x" * 1024) is None
    assert "out of bounds" in caplog.text
    assert "Z" * 40 not in caplog.text
    assert password not in caplog.text


async def test_allowed_users_limit_local_logins(store: Store) -> None:
    settings = Settings(auth="local", allowed_users=["bob"], admin_users=["root"])
    local = LocalAuthenticator(settings, store)
    await local.create_user("ada", "ada-password")
    await local.create_user("bob", "bob-password")
    await local.create_user("root", "root-password")
    assert await local.authenticate("ada", "ada-password") is None
    assert await local.authenticate("bob", "bob-password") == "bob"
    assert await local.authenticate("root", "root-password") == "root"
    assert "only" in local.describe_policy()


async def test_weak_hash_is_upgraded_on_login(local: LocalAuthenticator, store: Store) -> None:
    store.add_user("ada")
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("old-password")
    store.set_password_hash("ada", weak)
    assert await local.authenticate("ada", "old-password") == "ada"
    upgraded = store.get_user("ada").password_hash
    assert upgraded != weak
    assert not needs_rehash(upgraded)


def test_make_authenticator_follows_the_auth_setting(store: Store) -> None:
    assert make_authenticator(Settings(auth="local"), store).kind == "local"
    assert make_authenticator(Settings(auth="system"), store).kind == "system"
