"""Which KYC level is in force for a user: the one an admin stored on the wallet, else the claim."""

from __future__ import annotations

from payments.core.caller import KycLevel
from payments.core.clock import utcnow
from payments.store.ledger_table import WALLET_SK, WalletItem, user_pk


def effective_level(wallet: WalletItem | None, claimed: KycLevel) -> KycLevel:
    """The KYC level in force: the one an admin stored on the wallet, else the token's claim."""
    if wallet is not None and wallet.kyc_level:
        return KycLevel(wallet.kyc_level)
    return claimed


def stored_level(user_id: str) -> KycLevel | None:
    """The level an admin stored for ``user_id``, if any (one GetItem of one attribute)."""
    try:
        stored = WalletItem.get(user_pk(user_id), WALLET_SK, attributes_to_get=["kyc_level"]).kyc_level
    except WalletItem.DoesNotExist:
        return None
    return KycLevel(stored) if stored else None


def set_kyc_level(user_id: str, level: KycLevel) -> None:
    """An admin's decision; creates the wallet item if the user never moved money. Audited in the
    same write (``kyc_level_changed``, from and to, by the admin acting)."""
    from pynamodb.transactions import TransactWrite

    from payments.audit import records

    before = stored_level(user_id)
    record = records.build(
        "kyc_level_changed",
        chain=records.user_chain(user_id),
        user_id=user_id,
        status=str(level),
        details={"from": str(before) if before else "token claim", "to": str(level)},
    )

    def change(tx: TransactWrite) -> None:
        tx.update(
            WalletItem(user_pk(user_id), WALLET_SK),
            actions=[
                WalletItem.kyc_level.set(str(level)),
                WalletItem.user_id.set(user_id),
                WalletItem.updated_at.set(utcnow()),
            ],
        )

    records.commit_with(record, change)
