"""KYC tiers and their limits, usage counters charged inside the ledger write, levels, resets."""
