"""The hashes a login's password last verified against in identity's process (passwords.VerifiedHashes)."""

from __future__ import annotations

from services.identity.passwords import VerifiedHashes


def test_the_most_recent_logins_are_kept_and_the_oldest_go_first() -> None:
    verified = VerifiedHashes(kept=2)
    verified.remember("anna", "hash-a")
    verified.remember("boris", "hash-b")
    verified.remember("anna", "hash-a2")  # anna's login is the most recent now
    verified.remember("vera", "hash-v")
    assert (verified.get("anna"), verified.get("boris"), verified.get("vera")) == ("hash-a2", None, "hash-v")


def test_a_forgotten_login_is_read_first_again() -> None:
    verified = VerifiedHashes()
    verified.remember("anna", "hash-a")
    verified.forget("anna")
    verified.forget("nobody")  # forgetting what is not kept changes nothing
    assert verified.get("anna") is None
