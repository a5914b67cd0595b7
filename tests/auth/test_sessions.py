"""Session cookies: create, look up (cached), revoke, forgeries and expiry; and the Gate."""

from __future__ import annotations

import hashlib

import pytest

from courtyard.auth.principal import Principal
from courtyard.auth.sessions import (
    CACHE_TTL,
    SECURE_COOKIE_NAME,
    TOUCH_EVERY,
    SessionGate,
    SessionManager,
    cookie_value,
)
from courtyard.config.settings import Settings
from courtyard.store import Store

KEY = b"s" * 32
MAX_AGE = 3600


@pytest.fixture
def sessions(store: Store, clock) -> SessionManager:
    store.add_user("ada")
    store.add_user("bob")
    return SessionManager(store, KEY, MAX_AGE, now=clock)


def test_created_session_is_found_and_only_its_hash_is_stored(
    sessions: SessionManager, store: Store
) -> None:
    cookie = sessions.create("ada", user_agent="Firefox", ip="192.0.2.1")
    token, _, _signature = cookie.partition(".")
    found = sessions.lookup(cookie)
    assert found is not None
    assert (found.user, found.user_agent, found.ip) == ("ada", "Firefox", "192.0.2.1")
    assert found.id_hash == hashlib.sha256(token.encode()).hexdigest()
    assert store.get_session(token) is None
    assert sessions.session_hash(cookie) == found.id_hash


def test_fresh_manager_finds_session_in_the_database(
    sessions: SessionManager, store: Store, clock
) -> None:
    cookie = sessions.create("ada")
    other_worker = SessionManager(store, KEY, MAX_AGE, now=clock)
    found = other_worker.lookup(cookie)
    assert found is not None
    assert found.user == "ada"


def test_cookies_are_unique(sessions: SessionManager) -> None:
    assert sessions.create("ada") != sessions.create("ada")


def test_wrong_signature_is_refused_even_for_a_stored_token(
    sessions: SessionManager, store: Store, clock
) -> None:
    cookie = sessions.create("ada")
    token, _, signature = cookie.partition(".")
    fresh = SessionManager(store, KEY, MAX_AGE, now=clock)  # nothing cached
    forged = "A" * len(signature) if signature[0] != "A" else "B" * len(signature)
    assert fresh.lookup(f"{token}.{forged}") is None
    assert fresh.lookup(token) is None
    assert SessionManager(store, b"x" * 32, MAX_AGE, now=clock).lookup(cookie) is None
    assert fresh.lookup(cookie) is not None


@pytest.mark.parametrize("bad", ["", ".", "abc", "abc.", ".abc", "a.b.c", "x" * 5000])
def test_malformed_cookies_are_refused(sessions: SessionManager, bad: str) -> None:
    assert sessions.lookup(bad) is None
    assert sessions.revoke(bad) is False


def test_session_expires_after_max_age(sessions: SessionManager, clock) -> None:
    cookie = sessions.create("ada")
    clock.advance(MAX_AGE - 1)
    assert sessions.lookup(cookie) is not None
    clock.advance(1)
    assert sessions.lookup(cookie) is None


def test_revoke_logs_out_at_once_here_and_within_the_cache_ttl_elsewhere(
    sessions: SessionManager, store: Store, clock
) -> None:
    cookie = sessions.create("ada")
    other_worker = SessionManager(store, KEY, MAX_AGE, now=clock)
    assert other_worker.lookup(cookie) is not None
    assert sessions.revoke(cookie) is True
    assert sessions.lookup(cookie) is None
    assert sessions.revoke(cookie) is False
    assert other_worker.lookup(cookie) is not None  # cached for a few seconds
    clock.advance(CACHE_TTL)
    assert other_worker.lookup(cookie) is None


def test_revoke_user_ends_all_their_sessions_only(sessions: SessionManager) -> None:
    first, second = sessions.create("ada"), sessions.create("ada")
    bobs = sessions.create("bob")
    assert sessions.revoke_user("ada") == 2
    assert sessions.lookup(first) is None
    assert sessions.lookup(second) is None
    assert sessions.lookup(bobs) is not None


def test_last_seen_is_written_at_most_once_a_minute(
    sessions: SessionManager, store: Store, clock
) -> None:
    cookie = sessions.create("ada")
    created = sessions.lookup(cookie).last_seen
    clock.advance(CACHE_TTL)
    assert sessions.lookup(cookie).last_seen == created
    clock.advance(TOUCH_EVERY)
    sessions.lookup(cookie)
    stored = store.get_session(sessions.session_hash(cookie))
    assert stored.last_seen.timestamp() == clock()


def test_purge_expired_removes_old_rows(sessions: SessionManager, store: Store, clock) -> None:
    old = sessions.create("ada")
    clock.advance(MAX_AGE)
    new = sessions.create("ada")
    assert sessions.purge_expired() == 1
    assert store.get_session(sessions.session_hash(old)) is None
    assert store.get_session(sessions.session_hash(new)) is not None


# the Gate -------------------------------------------------------------------------------


def gate_for(sessions: SessionManager, **settings: object) -> SessionGate:
    return SessionGate(sessions, sessions.store, Settings(**settings))  # type: ignore[arg-type]


def test_gate_turns_a_session_cookie_into_a_principal(sessions: SessionManager) -> None:
    cookie = sessions.create("ada")
    gate = gate_for(sessions, admin_access=True)
    principal = gate.identify(f"theme=dark; courtyard-session={cookie}; x=1", None)
    assert principal == Principal(
        name="ada", admin=False, admin_access=True, session_id=sessions.session_hash(cookie)
    )


def test_gate_reuses_the_principal_on_a_cache_hit(sessions: SessionManager) -> None:
    cookie = sessions.create("ada")
    gate = gate_for(sessions)
    first = gate.identify(f"courtyard-session={cookie}", None)
    assert gate.identify(f"courtyard-session={cookie}", None) is first


@pytest.mark.parametrize(
    "header", [None, "", "other=1", "courtyard-session=", "courtyard-session=nope.nope"]
)
def test_gate_without_a_valid_cookie_is_anonymous(
    sessions: SessionManager, header: str | None
) -> None:
    assert gate_for(sessions).identify(header, "token abc") is None


def test_gate_with_secure_cookie_name_ignores_the_plain_one(sessions: SessionManager) -> None:
    cookie = sessions.create("ada")
    gate = SessionGate(sessions, sessions.store, Settings(), cookie_name=SECURE_COOKIE_NAME)
    assert gate.identify(f"courtyard-session={cookie}", None) is None
    assert gate.identify(f"__Host-courtyard-session={cookie}", None).name == "ada"


def test_gate_forgets_revoked_sessions(sessions: SessionManager) -> None:
    cookie = sessions.create("ada")
    gate = gate_for(sessions)
    assert gate.identify(f"courtyard-session={cookie}", None) is not None
    sessions.revoke(cookie)
    assert gate.identify(f"courtyard-session={cookie}", None) is None


def test_gate_sees_a_new_admin_flag_after_forget_user(
    sessions: SessionManager, store: Store
) -> None:
    cookie = sessions.create("ada")
    gate = gate_for(sessions)
    assert gate.identify(f"courtyard-session={cookie}", None).admin is False
    store.set_admin("ada", True)
    sessions.forget_user("ada")
    assert gate.identify(f"courtyard-session={cookie}", None).admin is True


def test_cookie_header_parsing() -> None:
    assert cookie_value('a=1; courtyard-session="v.1"; b=2', "courtyard-session") == "v.1"
    header = 'a=1; courtyard-session="v.1"; courtyard-session=second'
    assert cookie_value(header, "courtyard-session") is None  # which one was meant is unknown
    assert cookie_value("xcourtyard-session=1", "courtyard-session") is None
    assert cookie_value("courtyard-session", "courtyard-session") is None


@pytest.mark.parametrize("planted", ["first", "second", "same"])
def test_gate_with_two_session_cookies_is_anonymous(sessions: SessionManager, planted: str) -> None:
    """A script on a user's server can plant a shadowing cookie (document.cookie, a more
    specific Path): with two cookies of the session's name the gate trusts neither."""
    victim = sessions.create("ada")
    attacker = sessions.create("bob")
    gate = gate_for(sessions)
    pairs = {
        "first": f"courtyard-session={attacker}; courtyard-session={victim}",
        "second": f"courtyard-session={victim}; x=1; courtyard-session={attacker}",
        "same": f"courtyard-session={victim};courtyard-session={victim}",
    }
    assert gate.identify(pairs[planted], None) is None
    assert gate.identify(f"courtyard-session={victim}", None).name == "ada"


def test_secure_gate_with_two_host_cookies_is_anonymous(sessions: SessionManager) -> None:
    cookie = sessions.create("ada")
    gate = SessionGate(sessions, sessions.store, Settings(), cookie_name=SECURE_COOKIE_NAME)
    plain_too = f"courtyard-session=x; __Host-courtyard-session={cookie}"
    assert gate.identify(plain_too, None).name == "ada"  # another name does not count
    twice = f"__Host-courtyard-session={cookie}; __Host-courtyard-session={cookie}"
    assert gate.identify(twice, None) is None
