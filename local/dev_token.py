"""``make token USER=alice KYC=BASIC [ROLES=user,admin] [SECRET=...]``: print a JWT the local
stack accepts, or, with ``SECRET`` (the value of a deployed stack's ``JwtSecretArn`` secret), one
that stack accepts - for ``make smoke``."""

from __future__ import annotations

import argparse
from datetime import timedelta

from local.stack import local_jwt_secret
from payments.core.caller import KycLevel
from payments.http.auth import issue_token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.dev_token", description=__doc__)
    parser.add_argument("--user", required=True)
    parser.add_argument("--kyc", default="BASIC", type=str.upper, choices=[level.value for level in KycLevel])
    parser.add_argument("--roles", default="user", help="comma-separated, e.g. user,admin")
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--secret", default="", help="HS256 key of a deployed stack (default: the local one)")
    args = parser.parse_args(argv)
    roles = tuple(role for role in args.roles.split(",") if role)
    secret = args.secret or local_jwt_secret()
    print(issue_token(secret, args.user, KycLevel(args.kyc), roles, timedelta(hours=args.hours)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
