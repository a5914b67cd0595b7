"""The hub <-> worker link's pure parts: messages, activity ledgers, merging."""

from __future__ import annotations

import pytest

from courtyard.config.load import settings_from_data, settings_to_data
from courtyard.config.settings import CullerSettings, Settings, SlurmProfile, SlurmSettings
from courtyard.config.tables import RoleConfig, ServiceConfig
from courtyard.proxy import Route
from courtyard.proxy.wire import (
    StampLedger,
    decode,
    encode,
    merge_stamp,
    route_from_message,
    route_message,
)
from courtyard.spawners.base import Endpoint


def test_a_route_crosses_the_link_unchanged() -> None:
    for endpoint in (
        Endpoint(unix_path="/run/a/server.sock"),
        Endpoint(host="10.0.0.5", port=8888),
    ):
        route = Route("alice", endpoint, "s3cret", last_activity=100.5, activity_kind="GET lab")
        route.last_traffic = 101.25
        back = route_from_message(decode(encode(route_message(route))))
        assert (back.user, back.endpoint, back.secret) == ("alice", endpoint, "s3cret")
        assert (back.last_activity, back.activity_kind, back.last_traffic) == (
            100.5,
            "GET lab",
            101.25,
        )


@pytest.mark.parametrize("line", [b"[]", b'{"user": "x"}', b'{"op": 3}', b"not json"])
def test_a_garbled_line_is_refused(line: bytes) -> None:
    with pytest.raises(ValueError, match=r"not a link message|Expecting value"):
        decode(line)


def test_settings_survive_the_trip_to_a_worker() -> None:
    settings = Settings(
        port=0,
        workers=3,
        admin_users=["root"],
        environment={"A": "1"},
        services=[ServiceConfig(name="svc", command=["x"], api_token="t")],
        load_roles=[RoleConfig(name="r", scopes=["read:users"], users=["alice"])],
        culler=CullerSettings(timeout=60),
        slurm=SlurmSettings(profiles=[SlurmProfile(name="cpu", cpus=4)]),
    )
    data = decode(encode({"op": "init", "settings": settings_to_data(settings)}))["settings"]
    assert settings_from_data(data) == settings


def test_the_ledger_reports_only_what_moved() -> None:
    ledger = StampLedger()
    a = Route("alice", Endpoint(unix_path="/a"), "s", last_activity=10.0)
    b = Route("bob", Endpoint(unix_path="/b"), "s", last_activity=10.0)
    ledger.seen(a)
    ledger.seen(b)
    assert ledger.changes([a, b]) == {}
    a.last_traffic = 20.0  # a poll: traffic, not activity
    assert ledger.changes([a, b]) == {"alice": (10.0, "start", 20.0)}
    assert ledger.changes([a, b]) == {}
    b.touch(30.0, "POST api/contents")
    assert ledger.changes([a, b]) == {"bob": (30.0, "POST api/contents", b.last_traffic)}
    ledger.forget("bob")
    assert set(ledger.changes([a, b])) == {"bob"}  # a new route for bob: reported afresh


def test_merging_only_moves_time_forward() -> None:
    route = Route("alice", Endpoint(unix_path="/a"), "s", last_activity=50.0, activity_kind="x")
    route.last_traffic = 60.0
    merge_stamp(route, (40.0, "older", 55.0))  # another process saw less recent things
    assert (route.last_activity, route.activity_kind, route.last_traffic) == (50.0, "x", 60.0)
    merge_stamp(route, (70.0, "GET lab", 70.0))
    assert (route.last_activity, route.activity_kind, route.last_traffic) == (70.0, "GET lab", 70.0)
