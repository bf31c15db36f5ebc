from payments.core.ids import new_ulid


def test_ids_sort_by_time_and_use_crockford_base32() -> None:
    earlier, later = new_ulid(1_700_000_000_000), new_ulid(1_700_000_000_001)
    assert earlier < later
    assert len(earlier) == 26
    assert set(earlier) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert new_ulid(0).startswith("0000000000")


def test_test_ids_joined_with_numbers_never_read_as_card_numbers() -> None:
    """The session-end card-data scan reads digit groups across "_" as one number; ids the tests
    make are joined with numbers ("txn_busy_<user>_00024"), so they must break every digit run."""
    from payments.guards.card_data import contains_card_number
    from tests.support.fixtures import unique_id

    for n in range(2000):
        joined = f"{n:05d}_{unique_id('user')}_{n:05d}_{unique_id('txn')}_{n:05d}"
        assert not contains_card_number(joined), joined
    all_digits = "user_123456789012x_4111"  # the worst case: twelve random hex digits that are all digits
    assert not contains_card_number(all_digits)
