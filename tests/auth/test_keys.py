"""The secret key file: made once, 0600, 32 bytes, damage reported."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from courtyard.auth.keys import load_or_create_secret
from courtyard.errors import AuthError


def test_secret_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "secret"
    key = load_or_create_secret(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_secret(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["secret"]  # no temp files left


def test_two_secret_files_differ(tmp_path: Path) -> None:
    assert load_or_create_secret(tmp_path / "a") != load_or_create_secret(tmp_path / "b")


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    key = load_or_create_secret(path)
    os.chmod(path, 0o644)
    assert load_or_create_secret(path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("content", ["", "zz" * 32, "ab" * 16, "ab" * 40])
def test_damaged_secret_file_is_reported(tmp_path: Path, content: str) -> None:
    path = tmp_path / "secret"
    path.write_text(content)
    os.chmod(path, 0o600)
    with pytest.raises(AuthError, match="damaged"):
        load_or_create_secret(path)
