"""Probe accounts: names a person cannot sign up, passwords from the shared secret."""

from __future__ import annotations

from stormproof.actions.accounts import USERNAME, reserved
from stormproof.status.identity import ProbeAccounts, is_probe, probe_token, system_password


def test_probe_accounts_are_valid_reserved_usernames_for_any_region_name() -> None:
    for region in ("us-east", "local", "a" * 64, "EU.West_2"):
        accounts = ProbeAccounts.of(region)
        for name in (accounts.prober, accounts.recipient):
            assert USERNAME.fullmatch(name) and reserved(name), name
        assert accounts.prober != accounts.recipient
    assert ProbeAccounts.of("us-east").prober == "probe.us_east"
    # Long names are cut and told apart by a hash of the whole name.
    assert ProbeAccounts.of("a" * 40 + "x") != ProbeAccounts.of("a" * 40 + "y")


def test_passwords_and_the_probe_token_derive_from_the_shared_secret() -> None:
    secret, other = b"s" * 32, b"o" * 32
    assert system_password(secret, "probe.a") == system_password(secret, "probe.a")
    assert system_password(secret, "probe.a") != system_password(secret, "probe.b")
    assert system_password(secret, "probe.a") != system_password(other, "probe.a")
    assert is_probe(secret, probe_token(secret))
    assert not is_probe(secret, probe_token(other))
    assert not is_probe(secret, None) and not is_probe(secret, "pr_\u00e9")
