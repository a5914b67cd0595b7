"""CSRF: derived session tokens, the signed double-submit login pair, same-origin checks."""

from __future__ import annotations

import pytest

from courtyard.auth.csrf import CsrfTokens, same_origin

KEY = b"k" * 32
SESSION = "a" * 64


@pytest.fixture
def tokens(clock) -> CsrfTokens:
    return CsrfTokens(KEY, now=clock, login_max_age=3600)


def test_session_token_is_stable_and_verifies(tokens: CsrfTokens) -> None:
    token = tokens.for_session(SESSION)
    assert token == tokens.for_session(SESSION)
    assert tokens.verify_session(SESSION, token)


def test_session_token_differs_per_session_and_key(tokens: CsrfTokens) -> None:
    token = tokens.for_session(SESSION)
    assert token != tokens.for_session("b" * 64)
    assert token != CsrfTokens(b"x" * 32).for_session(SESSION)
    assert SESSION not in token


@pytest.mark.parametrize("bad", [None, "", "x", "A" * 32, "A" * 5000])
def test_wrong_or_missing_session_tokens_fail(tokens: CsrfTokens, bad: str | None) -> None:
    assert not tokens.verify_session(SESSION, bad)


def test_token_of_another_session_fails(tokens: CsrfTokens) -> None:
    assert not tokens.verify_session(SESSION, tokens.for_session("b" * 64))


def test_login_pair_verifies(tokens: CsrfTokens) -> None:
    cookie, token = tokens.issue_login()
    assert tokens.verify_login(cookie, token)
    assert cookie != token


def test_login_pairs_are_unique_and_do_not_mix(tokens: CsrfTokens) -> None:
    cookie_a, token_a = tokens.issue_login()
    cookie_b, token_b = tokens.issue_login()
    assert cookie_a != cookie_b
    assert not tokens.verify_login(cookie_a, token_b)
    assert not tokens.verify_login(cookie_b, token_a)


def test_login_token_expires(tokens: CsrfTokens, clock) -> None:
    cookie, token = tokens.issue_login()
    clock.advance(3600)
    assert tokens.verify_login(cookie, token)
    clock.advance(1)
    assert not tokens.verify_login(cookie, token)


def test_login_token_from_the_future_fails(tokens: CsrfTokens, clock) -> None:
    cookie, token = tokens.issue_login()
    clock.advance(-10)
    assert not tokens.verify_login(cookie, token)


def test_login_cookie_with_edited_time_fails(tokens: CsrfTokens, clock) -> None:
    cookie, token = tokens.issue_login()
    nonce, _, issued = cookie.rpartition(".")
    assert not tokens.verify_login(f"{nonce}.{int(issued) + 100}", token)


@pytest.mark.parametrize(
    ("cookie", "token"),
    [(None, "x"), ("", "x"), ("abc", "x"), ("abc.notanumber", "x"), ("a." * 100, "x")],
)
def test_malformed_login_pairs_fail(tokens: CsrfTokens, cookie: str | None, token: str) -> None:
    assert not tokens.verify_login(cookie, token)


def test_login_token_signed_with_another_key_fails(tokens: CsrfTokens, clock) -> None:
    cookie, token = CsrfTokens(b"other" * 8, now=clock).issue_login()
    assert not tokens.verify_login(cookie, token)


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
