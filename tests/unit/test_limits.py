import pytest

from payments.core.caller import KycLevel
from payments.kyc.tiers import DEFAULT_LIMITS, TierLimits, _parse_overrides


def test_defaults_are_the_spec_table_in_paise() -> None:
    assert DEFAULT_LIMITS[KycLevel.BASIC] == TierLimits(1_000_000, 10_000_000, 500_000)
    assert DEFAULT_LIMITS[KycLevel.INTERMEDIATE] == TierLimits(5_000_000, 100_000_000, 2_500_000)
    assert DEFAULT_LIMITS[KycLevel.ADVANCED] == TierLimits(50_000_000, 500_000_000, 10_000_000)


def test_overrides_change_only_what_they_name() -> None:
    limits = _parse_overrides('{"basic": {"daily_limit": "20000.50"}}')
    assert limits[KycLevel.BASIC] == TierLimits(2_000_050, 10_000_000, 500_000)
    assert limits[KycLevel.ADVANCED] == DEFAULT_LIMITS[KycLevel.ADVANCED]


@pytest.mark.parametrize(
    "raw",
    ['{"GOLD": {}}', '{"BASIC": {"weekly_limit": "1"}}', '{"BASIC": {"daily_limit": "-1"}}', "not json"],
)
def test_bad_overrides_fail_loudly(raw: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any of several parse errors
        _parse_overrides(raw)
