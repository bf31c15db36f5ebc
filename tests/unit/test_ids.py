from payments.core.ids import new_ulid


def test_ids_sort_by_time_and_use_crockford_base32() -> None:
    earlier, later = new_ulid(1_700_000_000_000), new_ulid(1_700_000_000_001)
    assert earlier < later
    assert len(earlier) == 26
    assert set(earlier) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
    assert new_ulid(0).startswith("0000000000")
