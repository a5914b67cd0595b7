"""CSRF: derived session tokens, the signed double-submit login pair, same-origin checks."""

from __future__ import annotations

import pytest

from courtyard.auth.csrf import (
    cross_site,
    login_token,
    new_login_nonce,
    same_origin,
    session_token,
    verify_login_token,
    verify_session_token,
)

KEY = b"k" * 32
SESSION = "a" * 64
T0 = 1_700_000_000.0


def test_session_token_is_stable_and_verifies() -> None:
    token = session_token(KEY, SESSION)
    assert token == session_token(KEY, SESSION)
    assert verify_session_token(KEY, SESSION, token)


def test_session_token_differs_per_session_and_key() -> None:
    token = session_token(KEY, SESSION)
    assert token != session_token(KEY, "b" * 64)
    assert token != session_token(b"x" * 32, SESSION)
    assert SESSION not in token


@pytest.mark.parametrize("bad", [None, "", "x", "A" * 32, "A" * 5000])
def test_wrong_or_missing_session_tokens_fail(bad: str | None) -> None:
    assert not verify_session_token(KEY, SESSION, bad)


def test_token_of_another_session_fails() -> None:
    assert not verify_session_token(KEY, SESSION, session_token(KEY, "b" * 64))


def login_pair(now: float = T0, key: bytes = KEY) -> tuple[str, str]:
    nonce = new_login_nonce(now)
    return nonce, login_token(key, nonce)


def test_login_pair_verifies() -> None:
    nonce, token = login_pair()
    assert verify_login_token(KEY, nonce, token, now=T0)
    assert nonce != token


def test_login_pair_with_the_real_clock_verifies() -> None:
    nonce = new_login_nonce()
    assert verify_login_token(KEY, nonce, login_token(KEY, nonce))


def test_login_pairs_are_unique_and_do_not_mix() -> None:
    nonce_a, token_a = login_pair()
    nonce_b, token_b = login_pair()
    assert nonce_a != nonce_b
    assert not verify_login_token(KEY, nonce_a, token_b, now=T0)
    assert not verify_login_token(KEY, nonce_b, token_a, now=T0)


def test_login_token_without_its_cookie_fails() -> None:
    _nonce, token = login_pair()
    assert not verify_login_token(KEY, None, token, now=T0)
    assert not verify_login_token(KEY, "", token, now=T0)


def test_login_token_expires() -> None:
    nonce, token = login_pair()
    assert verify_login_token(KEY, nonce, token, now=T0 + 3600, max_age=3600)
    assert not verify_login_token(KEY, nonce, token, now=T0 + 3601, max_age=3600)


def test_login_token_from_the_future_fails() -> None:
    nonce, token = login_pair()
    assert not verify_login_token(KEY, nonce, token, now=T0 - 10)


def test_login_cookie_with_edited_time_fails() -> None:
    nonce, token = login_pair()
    random_part, _, issued = nonce.rpartition(".")
    edited = f"{random_part}.{int(issued) + 100}"
    assert not verify_login_token(KEY, edited, token, now=T0 + 200)


@pytest.mark.parametrize(
    ("nonce", "token"),
    [("abc", "x"), ("abc.notanumber", "x"), ("abc.-5", "x"), ("a." * 100, "x"), ("a.1", None)],
)
def test_malformed_login_pairs_fail(nonce: str, token: str | None) -> None:
    assert not verify_login_token(KEY, nonce, token, now=T0)


def test_login_token_signed_with_another_key_fails() -> None:
    nonce, token = login_pair(key=b"other" * 8)
    assert not verify_login_token(KEY, nonce, token, now=T0)


SAME = [
    {"Sec-Fetch-Site": "same-origin"},
    {"sec-fetch-site": "same-origin"},
    {"Sec-Fetch-Site": "none"},
    {"Origin": "http://hub.example:8000", "Host": "hub.example:8000"},
    {"origin": "http://127.0.0.1:8000", "host": "127.0.0.1:8000"},
    {"Origin": "https://hub.example", "Host": "hub.example"},
    {"Origin": "https://hub.example", "Host": "hub.example:443"},
    {"Origin": "http://hub.example", "Host": "hub.example:80"},
    {"Origin": "https://Hub.Example", "Host": "hub.example"},
    {"Origin": "http://[::1]:8000", "Host": "[::1]:8000"},
]

CROSS = [
    {},
    {"Host": "hub.example"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "https://hub.example", "Host": "hub.example"},
    {"Sec-Fetch-Site": "same-site", "Origin": "https://hub.example", "Host": "hub.example"},
    {"Origin": "https://evil.example", "Host": "hub.example"},
    {"Origin": "https://hub.example.evil.example", "Host": "hub.example"},
    {"Origin": "https://hub.example:8443", "Host": "hub.example"},
    {"Origin": "http://hub.example:8000", "Host": "hub.example:8001"},
    {"Origin": "null", "Host": "hub.example"},
    {"Origin": "https://hub.example/path", "Host": "hub.example"},
    {"Origin": "ftp://hub.example", "Host": "hub.example"},
    {"Origin": "hub.example", "Host": "hub.example"},
    {"Origin": "https://hub.example"},
    {"Origin": "http://[::1", "Host": "[::1"},
]


@pytest.mark.parametrize("headers", SAME)
def test_same_origin_requests_pass(headers: dict[str, str]) -> None:
    assert same_origin(headers)


@pytest.mark.parametrize("headers", CROSS)
def test_cross_origin_or_unknown_requests_fail(headers: dict[str, str]) -> None:
    assert not same_origin(headers)


@pytest.mark.parametrize("headers", [{}, {"Host": "hub.example"}, *SAME])
def test_a_request_that_names_no_other_site_is_not_cross_site(headers: dict[str, str]) -> None:
    assert not cross_site(headers)


@pytest.mark.parametrize("headers", [h for h in CROSS if "Origin" in h or "Sec-Fetch-Site" in h])
def test_a_foreign_origin_or_fetch_site_is_cross_site(headers: dict[str, str]) -> None:
    assert cross_site(headers)
