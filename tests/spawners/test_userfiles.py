"""read_user_file: the hub reads a user's files without following, blocking or overreading."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from courtyard.spawners import launch
from courtyard.spawners.userfiles import read_user_file

ME = os.geteuid()


def test_reads_a_regular_file_of_the_owner(tmp_path: Path) -> None:
    path = tmp_path / "endpoint.json"
    path.write_text('{"port": 4242}')
    assert read_user_file(path, ME, 4096) == '{"port": 4242}'


def test_missing_file_is_none(tmp_path: Path) -> None:
    assert read_user_file(tmp_path / "nothing", ME, 4096) is None


async def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "endpoint.json"
    os.mkfifo(fifo)  # nobody writes: a blocking open() would wait forever
    began = time.monotonic()
    text = await asyncio.wait_for(asyncio.to_thread(read_user_file, fifo, ME, 4096), 5)
    assert text is None
    assert time.monotonic() - began < 2


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$hash")
    (tmp_path / "to-secret").symlink_to(secret)
    (tmp_path / "to-zero").symlink_to("/dev/zero")
    assert read_user_file(tmp_path / "to-secret", ME, 4096) is None
    assert read_user_file(tmp_path / "to-zero", ME, 4096) is None


def test_device_is_refused() -> None:
    assert read_user_file("/dev/zero", ME, 4096) is None


def test_file_of_another_account_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "endpoint.json"
    path.write_text("{}")
    if ME == 0:  # root may give it away; root's own files count as trusted
        os.chown(path, 54321, 54321)
        assert read_user_file(path, 54322, 4096) is None
        assert read_user_file(path, 54321, 4096) == "{}"
    else:
        assert read_user_file(path, ME + 1, 4096) is None


def test_size_is_capped_from_the_start_or_the_end(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_bytes(b"a" * 100_000 + b"THE END")
    head = read_user_file(path, ME, 1000)
    tail = read_user_file(path, ME, 1000, tail=True)
    assert head == "a" * 1000
    assert tail is not None
    assert len(tail) == 1000
    assert tail.endswith("aTHE END")


def test_log_tail_reads_after_offset_and_at_most_64_kib(tmp_path: Path) -> None:
    path = tmp_path / "slurm-7.log"
    path.write_text("old line\n" + "x" * 200_000 + "\nlast line\n")
    assert launch.read_log_tail(path, 0, lines=1) == "last line"
    assert len(launch.read_log_tail(path, 0)) <= launch.LOG_TAIL_BYTES
    assert launch.read_log_tail(path, path.stat().st_size - 10) == "last line"
    assert "old line" not in launch.read_log_tail(path, 0)


def test_log_tail_of_a_symlink_names_the_refusal(tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text("root:$6$hash\n")
    link = tmp_path / "slurm-7.log"
    link.symlink_to(secret)
    tail = launch.read_log_tail(link, 0)
    assert "hash" not in tail
    assert "not a regular file" in tail
