"""The Lambda authorizer with the secret read from Secrets Manager (moto), as deployed."""

from datetime import timedelta
from typing import Any

import jwt
import pytest

from local.runtime import FunctionError
from payments.core.caller import KycLevel
from payments.http.auth import issue_token
from tests.support.fixtures import load_event, make_token


def _authorize(aws: Any, header: str) -> dict:
    event = load_event("authorizer")
    event["authorizationToken"] = header
    return aws.runtime.invoke("AuthorizerFunction", event)


def test_valid_token_is_allowed_for_every_route_with_the_caller_in_context(aws: Any, user_id: str) -> None:
    policy = _authorize(aws, f"Bearer {make_token(user_id, KycLevel.INTERMEDIATE, ('user', 'admin'))}")
    assert policy["principalId"] == user_id
    statement = policy["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/*/*"]
    assert policy["context"] == {"user_id": user_id, "kyc_level": "INTERMEDIATE", "roles": "admin,user"}


def test_the_secret_comes_from_secrets_manager(aws: Any, monkeypatch: pytest.MonkeyPatch, user_id: str) -> None:
    """JWT_SECRET_KEY is not what the deployed authorizer trusts: the stack's secret is."""
    import os

    assert os.environ["JWT_SECRET_ARN"].startswith("arn:aws:secretsmanager:")
    token = make_token(user_id)  # signed with the value the stack stored in the secret
    monkeypatch.setenv("JWT_SECRET_KEY", "x" * 40)
    assert _authorize(aws, f"Bearer {token}")["principalId"] == user_id


SECRET = "test-only-secret-0123456789abcdef"


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        f"Token {issue_token(SECRET, 'u1')}",
        f"Bearer {issue_token(SECRET, 'u1', ttl=timedelta(minutes=-5))}",
        f"Bearer {issue_token('wrong-secret-0123456789abcdef-0123456789', 'u1')}",
        f"Bearer {jwt.encode({'sub': 'u1', 'exp': 4102444800}, '', algorithm='none')}",
    ],
    ids=["empty", "bare", "blank", "basic", "scheme", "expired", "forged", "alg-none"],
)
def test_bad_credentials_are_unauthorized(aws: Any, header: str) -> None:
    with pytest.raises(FunctionError, match=r"^Unauthorized$"):
        _authorize(aws, header)
