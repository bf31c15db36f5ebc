"""The fraud engine: the spec's indicators fire, steady users are left alone."""

from datetime import timedelta

from payments.guards.risk import DEFAULTS, Decision, PastMovement, assess
from tests.support.population import NOW, detection_rates, false_positive_rate

SINGLE, DAILY = 2_500_000, 5_000_000  # INTERMEDIATE, in paise


def _steady(count: int = 12, amount: int = 100_000) -> list[PastMovement]:
    return [
        PastMovement("DEPOSIT", amount + (i % 3) * 5_000, NOW - timedelta(days=i + 1), "COMPLETED")
        for i in range(count)
    ]


def test_a_steady_users_usual_deposit_is_allowed() -> None:
    result = assess("DEPOSIT", 105_000, NOW, _steady(), SINGLE, DAILY)
    assert (result.decision, result.indicators) == (Decision.ALLOW, ())


def test_rapid_successive_deposits_are_flagged() -> None:
    burst = [PastMovement("DEPOSIT", 100_000, NOW - timedelta(minutes=m), "COMPLETED") for m in (1, 2, 4)]
    result = assess("DEPOSIT", 100_000, NOW, _steady() + burst, SINGLE, DAILY)
    assert "rapid_successive_transactions" in result.indicators
    assert result.decision is Decision.REVIEW


def test_a_large_amount_relative_to_history_goes_to_review() -> None:
    result = assess("DEPOSIT", 2_000_000, NOW, _steady(), SINGLE, DAILY)
    assert {"unusual_amount", "large_amount"} <= set(result.indicators)
    assert result.decision in (Decision.REVIEW, Decision.BLOCK)


def test_too_little_history_does_not_judge_amounts() -> None:
    result = assess("DEPOSIT", 900_000, NOW, _steady(count=3), SINGLE, DAILY)
    assert "unusual_amount" not in result.indicators


def test_cash_out_after_a_deposit_is_flagged() -> None:
    deposit = PastMovement("DEPOSIT", 1_000_000, NOW - timedelta(minutes=5), "COMPLETED")
    result = assess("WITHDRAWAL", 950_000, NOW, [*_steady(), deposit], SINGLE, DAILY)
    assert "cash_out" in result.indicators


def test_a_new_method_for_a_large_withdrawal_is_flagged() -> None:
    result = assess("WITHDRAWAL", 1_000_000, NOW, _steady(), SINGLE, DAILY, method_created_at=NOW - timedelta(hours=1))
    assert "new_method_large_withdrawal" in result.indicators


def test_thresholds_are_configuration() -> None:
    relaxed = {**DEFAULTS, "rapid_count": 50}
    burst = [PastMovement("DEPOSIT", 100_000, NOW - timedelta(minutes=m), "COMPLETED") for m in (1, 2, 4)]
    assert (
        "rapid_successive_transactions"
        not in assess("DEPOSIT", 100_000, NOW, burst, SINGLE, DAILY, settings=relaxed).indicators
    )


def test_false_positives_on_1000_ordinary_users_stay_under_2_percent() -> None:
    assert false_positive_rate(users=1000) < 0.02


def test_injected_fraud_patterns_are_detected() -> None:
    rates = detection_rates(per_pattern=250)
    assert all(rate >= 0.9 for rate in rates.values()), rates
