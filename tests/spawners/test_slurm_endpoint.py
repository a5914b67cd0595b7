"""The endpoint a Slurm job reports is the user's word: only its node's address and a user port."""

from __future__ import annotations

import json
import socket

import pytest

from courtyard.errors import SpawnError
from courtyard.spawners.slurm import expected_hosts, parse_endpoint


def facts(host: object = "127.0.0.1", port: object = 40000, job_id: str = "17") -> str:
    return json.dumps({"host": host, "port": port, "node": "n1", "job_id": job_id})


def test_the_jobs_endpoint_is_accepted() -> None:
    endpoint = parse_endpoint(facts(), "17", {"127.0.0.1"})
    assert endpoint is not None
    assert (endpoint.host, endpoint.port) == ("127.0.0.1", 40000)


def test_an_earlier_jobs_or_broken_file_is_ignored() -> None:
    assert parse_endpoint(facts(job_id="16"), "17", {"127.0.0.1"}) is None
    assert parse_endpoint("{not json", "17", {"127.0.0.1"}) is None
    assert parse_endpoint("[1, 2]", "17", {"127.0.0.1"}) is None


@pytest.mark.parametrize("host", ["169.254.169.254", "db.internal", "", None, ["127.0.0.1"]])
def test_another_host_is_refused(host: object) -> None:
    with pytest.raises(SpawnError) as caught:
        parse_endpoint(facts(host=host), "17", {"127.0.0.1"})
    assert "not one of 127.0.0.1" in caught.value.detail


@pytest.mark.parametrize("port", [22, 0, 1023, 65536, -1, "8080", True, 40000.5])
def test_a_privileged_or_invalid_port_is_refused(port: object) -> None:
    with pytest.raises(SpawnError):
        parse_endpoint(facts(port=port), "17", {"127.0.0.1"})


async def test_a_fixed_bind_ip_is_the_only_host() -> None:
    assert await expected_hosts("127.0.0.1", "n1") == {"127.0.0.1"}
    assert await expected_hosts("10.1.2.3", socket.gethostname()) == {"10.1.2.3"}


async def test_a_wildcard_bind_allows_the_node_and_its_addresses() -> None:
    node = socket.gethostname()
    hosts = await expected_hosts("", node)
    assert node in hosts
    assert socket.gethostbyname(node) in hosts  # what slurm_job binds for an empty bind_ip
    assert await expected_hosts("0.0.0.0", "no-such-node.invalid") == {"no-such-node.invalid"}
    assert await expected_hosts("", "") == frozenset()
