"""Roles, password hashes and session tokens."""

from __future__ import annotations

import pytest

from callcenter.users.model import (
    InvalidUser,
    Principal,
    Role,
    TokenClaims,
    TokenSigner,
    check_user,
    hash_password,
    verify_password,
)

KEY = b"k" * 32


def test_roles_are_ordered_and_agents_act_only_on_themselves() -> None:
    assert Role.ADMIN.at_least(Role.SUPERVISOR) and not Role.AGENT.at_least(Role.SUPERVISOR)
    agent = Principal("li", Role.AGENT, "1001")
    assert agent.may_act_for("1001") and not agent.may_act_for("1002")
    assert not Principal("x", Role.AGENT, "").may_act_for("")
    assert Principal("boss", Role.SUPERVISOR).may_act_for("1002")


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and first.startswith("scrypt$")
    assert verify_password("correct horse", first)
    assert not verify_password("wrong horse", first)
    assert not verify_password("correct horse", "md5$abc")
    assert not verify_password("correct horse", "garbage")


def test_a_token_is_read_back_until_it_expires() -> None:
    signer = TokenSigner(KEY)
    token = signer.sign(TokenClaims("li", 3, 1000))
    assert signer.read(token, 999.0) == TokenClaims("li", 3, 1000)
    assert signer.read(token, 1000.0) is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
        lambda t: "eyJ1IjoiYm9zcyIsInYiOjMsImUiOjEwMDB9" + t[t.index(".") :],  # payload swapped
        lambda t: t.replace(".", ""),
        lambda t: t + ".x",
        lambda t: "x" * 600,
        lambda t: "",
    ],
)
def test_a_forged_token_is_refused(tamper: object) -> None:
    signer = TokenSigner(KEY)
    token = signer.sign(TokenClaims("li", 3, 1000))
    assert callable(tamper)
    assert signer.read(tamper(token), 0.0) is None
    assert TokenSigner(b"o" * 32).read(token, 0.0) is None  # another key


def test_user_fields_are_checked() -> None:
    assert check_user("li", "agent", "1001") == ("li", Role.AGENT, "1001")
    for name, role, agent in [
        ("li wei", "agent", "1001"),
        ("li", "boss", ""),
        ("li", "agent", ""),
        ("li", "supervisor", "10;01"),
    ]:
        with pytest.raises(InvalidUser):
            check_user(name, role, agent)
