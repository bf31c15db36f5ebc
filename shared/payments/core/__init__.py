"""Vocabulary every other package uses: money, ids, time, the caller, the base errors. No AWS."""
