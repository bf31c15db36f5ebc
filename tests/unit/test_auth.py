from datetime import timedelta

import jwt
import pytest

from payments.core.caller import Caller, KycLevel
from payments.core.errors import Unauthorized
from payments.http.auth import JwtSettings, issue_token, verify_token

SECRET = "unit-test-secret-" + "0123456789abcdef" * 3
SETTINGS = JwtSettings(secret=SECRET)


def test_valid_token_gives_the_caller() -> None:
    token = issue_token(SECRET, "user_1", KycLevel.INTERMEDIATE, ("user", "admin"))
    caller = verify_token(token, SETTINGS)
    assert caller == Caller("user_1", KycLevel.INTERMEDIATE, frozenset({"user", "admin"}))
    assert caller.is_admin


def test_authorizer_context_round_trip() -> None:
    caller = Caller("user_1", KycLevel.ADVANCED, frozenset({"user", "admin"}))
    assert Caller.from_authorizer_context(caller.to_authorizer_context()) == caller


def test_missing_context_is_unauthorized() -> None:
    with pytest.raises(Unauthorized):
        Caller.from_authorizer_context({})


def _forge(claims: dict, key: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


@pytest.mark.parametrize(
    "token",
    [
        issue_token(SECRET, "user_1", ttl=timedelta(seconds=-120)),  # expired beyond leeway
        issue_token("another-secret-" + "0123456789abcdef" * 3, "user_1"),  # wrong signature
        issue_token(SECRET, "user_1", algorithm="HS512"),  # not the configured algorithm
        _forge({"sub": "user_1", "exp": 4102444800}, key="", algorithm="none"),  # alg none
        _forge({"sub": "user_1"}),  # no exp
        _forge({"exp": 4102444800}),  # no sub
        _forge({"sub": "", "exp": 4102444800}),
        _forge({"sub": "USER#other", "exp": 4102444800}),  # key-like ids could escape the partition
        _forge({"sub": "user_1", "exp": 4102444800, "kyc_level": "PLATINUM"}),
        _forge({"sub": "user_1", "exp": 4102444800, "roles": "admin"}),  # roles must be a list
        "not.a.jwt",
        "",
    ],
)
def test_bad_tokens_are_refused(token: str) -> None:
    with pytest.raises(Unauthorized):
        verify_token(token, SETTINGS)


def test_kyc_level_defaults_to_basic() -> None:
    caller = verify_token(_forge({"sub": "user_1", "exp": 4102444800}), SETTINGS)
    assert caller.kyc_level is KycLevel.BASIC
    assert caller.roles == frozenset()


def test_audience_and_issuer_are_checked_when_configured() -> None:
    settings = JwtSettings(secret=SECRET, audience="wallet-api", issuer="https://idp.example")
    good = _forge({"sub": "u", "exp": 4102444800, "aud": "wallet-api", "iss": "https://idp.example"})
    assert verify_token(good, settings).user_id == "u"
    with pytest.raises(Unauthorized):
        verify_token(_forge({"sub": "u", "exp": 4102444800, "aud": "other", "iss": "https://idp.example"}), settings)
