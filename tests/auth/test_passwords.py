"""argon2id hashing and generated passwords."""

from __future__ import annotations

from argon2 import PasswordHasher

from courtyard.auth.passwords import (
    ALPHABET,
    generate_password,
    hash_password,
    needs_rehash,
    verify_password,
)


def test_hash_is_argon2id_and_verifies() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "correct horsE")
    assert not needs_rehash(hashed)


def test_same_password_hashes_differently() -> None:
    assert hash_password("pw-123456") != hash_password("pw-123456")


def test_unreadable_hash_verifies_false_and_needs_rehash() -> None:
    assert not verify_password("not-a-hash", "pw")
    assert needs_rehash("not-a-hash")


def test_weak_parameters_need_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("pw")
    assert verify_password(weak, "pw")
    assert needs_rehash(weak)


def test_generated_passwords_are_long_unambiguous_and_unique() -> None:
    made = {generate_password() for _ in range(50)}
    assert len(made) == 50
    for password in made:
        assert len(password) == 20
        assert set(password) <= set(ALPHABET)
    assert not set("0O1lI") & set(ALPHABET)
