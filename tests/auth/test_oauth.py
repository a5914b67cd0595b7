"""The OAuth provider's rules (auth/oauth.py), with a clock passed in: codes are single-use
and short-lived, the redirect URI is exactly the registered one, state passes through, the
client's secret and PKCE verifier are checked, scopes are cut to what may be granted."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from courtyard.api.setup import oauth_clients
from courtyard.auth.oauth import (
    CODE_TTL,
    FatalClientError,
    OAuthError,
    OAuthProvider,
    RedirectedError,
    client_of,
    grantable,
    s256,
)
from courtyard.auth.roles import RoleBook
from courtyard.config.tables import ServiceConfig
from courtyard.errors import ConfigError
from courtyard.hub.services import ServiceManager
from courtyard.proxy.server import service_endpoints
from courtyard.spawners.base import Endpoint

SECRET = "the-services-api-token"
CALLBACK = "/services/whoami/oauth_callback"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def provider(clock: Clock) -> OAuthProvider:
    whoami = ServiceConfig(
        name="whoami", url="http://127.0.0.1:9", oauth_client_allowed_scopes=["read:users"]
    )
    return OAuthProvider([client_of(whoami, SECRET)], now=clock)


def ask(provider: OAuthProvider, **extra: str) -> tuple[str, str]:
    """(code, state) from a full authorize round for alice."""
    params = {"client_id": "service-whoami", "response_type": "code", "state": "st/=+ é", **extra}
    request = provider.validate_authorize(params)
    url = provider.issue_code(request, "alice", request.scopes)
    parts = urlsplit(url)
    assert parts.path == CALLBACK
    query = parse_qs(parts.query)
    return query["code"][0], query["state"][0]


def redeem_form(code: str, **extra: str) -> dict[str, str]:
    return {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, **extra}


def test_a_services_client_has_jupyterhubs_defaults() -> None:
    client = client_of(ServiceConfig(name="whoami", url="http://127.0.0.1:9"), SECRET)
    assert client.client_id == "service-whoami"
    assert client.redirect_uri == CALLBACK
    assert client.access_scope == "access:services!service=whoami"
    assert not client.no_confirm
    assert client.secret_matches(SECRET)
    assert not client.secret_matches("")
    assert not client.secret_matches(SECRET + "x")


def test_state_passes_through_untouched_and_the_code_redeems_once(
    provider: OAuthProvider,
) -> None:
    code, state = ask(provider)
    assert state == "st/=+ é"
    grant = provider.redeem("service-whoami", SECRET, redeem_form(code))
    assert grant.user == "alice"
    assert "access:services!service=whoami" in grant.scopes
    assert "read:users:name!user" in grant.scopes
    with pytest.raises(OAuthError) as again:
        provider.redeem("service-whoami", SECRET, redeem_form(code))
    assert again.value.error == "invalid_grant"


def test_a_code_expires(provider: OAuthProvider, clock: Clock) -> None:
    code, _ = ask(provider)
    clock.now += CODE_TTL + 1
    with pytest.raises(OAuthError) as late:
        provider.redeem("service-whoami", SECRET, redeem_form(code))
    assert late.value.error == "invalid_grant"
    assert provider.codes == {}


def test_a_wrong_secret_is_refused_and_leaves_the_code_usable(provider: OAuthProvider) -> None:
    code, _ = ask(provider)
    for client_id, secret in (("service-whoami", "guess"), ("service-whoami", None),
                              ("service-other", SECRET)):  # fmt: skip
        with pytest.raises(OAuthError) as refused:
            provider.redeem(client_id, secret, redeem_form(code))
        assert (refused.value.error, refused.value.status) == ("invalid_client", 401)
    assert provider.redeem("service-whoami", SECRET, redeem_form(code)).user == "alice"


def test_the_redirect_uri_must_be_exactly_the_registered_one(provider: OAuthProvider) -> None:
    for uri in ("http://evil.example" + CALLBACK, CALLBACK + "/", CALLBACK + "?x=1", "/"):
        with pytest.raises(FatalClientError, match="Mismatching redirect URI"):
            provider.validate_authorize(
                {"client_id": "service-whoami", "response_type": "code", "redirect_uri": uri}
            )
    code, _ = ask(provider, redirect_uri=CALLBACK)
    with pytest.raises(OAuthError, match="Mismatching redirect URI"):
        provider.redeem("service-whoami", SECRET, redeem_form(code, redirect_uri="/elsewhere"))


def test_an_unknown_client_is_refused_without_a_redirect(provider: OAuthProvider) -> None:
    with pytest.raises(FatalClientError):
        provider.validate_authorize({"client_id": "service-nope", "response_type": "code"})
    with pytest.raises(FatalClientError):
        provider.validate_authorize({"response_type": "code"})


def test_other_faults_go_back_to_the_registered_uri_with_the_state(
    provider: OAuthProvider,
) -> None:
    with pytest.raises(RedirectedError) as bad_type:
        provider.validate_authorize(
            {"client_id": "service-whoami", "response_type": "token", "state": "s"}
        )
    query = parse_qs(urlsplit(bad_type.value.location()).query)
    assert urlsplit(bad_type.value.location()).path == CALLBACK
    assert query["error"] == ["unsupported_response_type"]
    assert query["state"] == ["s"]
    with pytest.raises(RedirectedError) as bad_scope:
        provider.validate_authorize(
            {"client_id": "service-whoami", "response_type": "code", "scope": "admin:users"}
        )
    assert bad_scope.value.error == "invalid_scope"


def test_scopes_asked_are_cut_to_what_the_client_may_ask_and_the_user_holds(
    provider: OAuthProvider,
) -> None:
    default = provider.validate_authorize({"client_id": "service-whoami", "response_type": "code"})
    assert "read:users" in default.scopes  # none asked: the client's allowed scopes
    scope = "identify read:users!user=alice"
    narrow = provider.validate_authorize(
        {"client_id": "service-whoami", "response_type": "code", "scope": scope}
    )
    assert "read:users!user=alice" in narrow.scopes
    assert "identify" not in narrow.scopes
    granted, withheld = grantable(default, lambda scope: False)
    assert withheld == ("read:users",)
    assert set(granted) == set(default.client.required_scopes)


def test_pkce_s256_verifier_is_checked(provider: OAuthProvider) -> None:
    verifier = "a-long-random-code-verifier-0123456789"
    code, _ = ask(provider, code_challenge=s256(verifier), code_challenge_method="S256")
    with pytest.raises(OAuthError, match="verifier"):
        provider.redeem("service-whoami", SECRET, redeem_form(code, code_verifier="wrong"))
    code, _ = ask(provider, code_challenge=s256(verifier), code_challenge_method="S256")
    grant = provider.redeem("service-whoami", SECRET, redeem_form(code, code_verifier=verifier))
    assert grant.user == "alice"
    with pytest.raises(RedirectedError):
        ask(provider, code_challenge=verifier, code_challenge_method="plain")


def clients_of(*configs: ServiceConfig) -> list[str]:
    services = ServiceManager(list(configs), lambda name: f"token-of-{name}")
    return [c.client_id for c in oauth_clients(services, RoleBook.build([]))]


def test_services_with_a_url_are_clients_and_bad_oauth_settings_are_refused() -> None:
    plain = ServiceConfig(name="culler", command=["true"])
    web = ServiceConfig(name="web", url="http://127.0.0.1:9", oauth_roles=["user"])
    assert clients_of(plain, web) == ["service-web"]
    bad_id = ServiceConfig(name="x", url="http://127.0.0.1:9", oauth_client_id="x")
    with pytest.raises(ConfigError, match=r"services\[0\].oauth_client_id .* 'service-'"):
        clients_of(bad_id)
    bad_scope = ServiceConfig(name="x", url="http://h:9", oauth_client_allowed_scopes=["rd"])
    with pytest.raises(ConfigError, match="unknown scopes"):
        clients_of(bad_scope)
    with pytest.raises(ConfigError, match="no such roles"):
        clients_of(ServiceConfig(name="x", url="http://h:9", oauth_roles=["nope"]))
    for url in ("https://127.0.0.1:9", "http://127.0.0.1", "http://127.0.0.1:9/sub"):
        with pytest.raises(ConfigError, match=r"services\[0\].url"):
            service_endpoints([ServiceConfig(name="x", url=url)])
    assert service_endpoints([web, plain]) == {"web": Endpoint(host="127.0.0.1", port=9)}
