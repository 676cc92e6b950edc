"""The day's card_transactions and ledger checks: keys, foreign keys, arrival times, balances that chain, and the card
and account lifecycle respected.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import schemas
from fraud_pipeline.core.findings import SAMPLE, Finding, Findings, foreign_key_findings, key_findings, time_findings
from fraud_pipeline.scenario import Scenario


CARD_CHECKS = {
    "transaction_id_unique": "transaction_id is complete and unique.",
    "foreign_keys_valid": "Every card (or replacement card), account, customer, merchant, beneficiary, counterparty "
                          "account and device exists.",
    "times_in_partition_day": "Rows arrive on the partition's day, after they happen, in their batch.",
    "ledger_balances": "Each account's rows (genuine and fraud, in arrival order) chain from its opening balance to its "
                       "end-of-day balance; approved debits never take it below its overdraft or credit limit; declined "
                       "rows carry a reason and leave the balance as it was; no row is on an account before it opens.",
    "lifecycle_respected": "No approved debit on a frozen or closed account, and no approved card payment on a "
                           "blocked or expired card.",
}


def card_findings(scenario: Scenario, table: pa.Table, day: date, entities: dict[str, pa.Table],
                  spec: schemas.TableSpec = schemas.CARD_TRANSACTIONS, cards: pa.Array | None = None) -> Findings:
    """Keys, foreign keys and times of a day's transactions; `cards`: every card number issued so far (entity cards
    and replacements), by default the entity cards."""
    references = {**entities, "cards": pa.table({"card_number": cards if cards is not None
                                                 else entities["cards"]["card_number"]})}
    return {
        "transaction_id_unique": key_findings(table, spec.primary_key),
        "foreign_keys_valid": foreign_key_findings(spec, table, references),
        "times_in_partition_day": time_findings(table, day, scenario.card_transactions.arrival_lag_seconds),
    }


def ledger_findings(stream: pa.Table, balances: pa.Table, opening: pa.Table, accounts: pa.Table) -> list[Finding]:
    """The day's labelled stream (genuine and fraud rows) against the balances it starts from (`opening`:
    account_id, balance) and ends in (`balances`), and each account's limits. Rows are taken by account, arrival
    and event time (a stable sort); examples are account ids in that order. Arrays throughout: a range holds
    hundreds of thousands of rows, and ids as Python strings cost seconds and hundreds of MB."""
    columns = ["account_id", "arrival_time", "event_time", "direction", "amount", "status", "decline_reason",
               "balance_after"]
    rows = stream.select(columns)
    rows = rows.take(pc.sort_indices(rows, [(c, "ascending") for c in columns[:3]]))
    account = rows["account_id"].combine_chunks()
    n = len(account)
    first = np.ones(n, bool)  # each account's first row
    first[1:] = pc.not_equal(account.slice(1), account.slice(0, max(n - 1, 0))).to_numpy(zero_copy_only=False)
    group = np.cumsum(first) - 1
    ids = account.filter(pa.array(first))  # the accounts with rows, sorted
    start = _by_account(account, opening["account_id"], opening["balance"])
    unopened = np.isnan(start)  # `opening` holds the accounts open on the day: none opens later with a row today
    limits = accounts["overdraft_limit"].to_numpy(zero_copy_only=False) + accounts["credit_limit"].to_numpy(
        zero_copy_only=False)
    floor = _by_account(account, accounts["account_id"], pa.array(-limits))
    approved = _is(rows["status"], "approved")
    credit, debit = _is(rows["direction"], "credit"), _is(rows["direction"], "debit")  # neither: counted as a debit
    amount, after = _floats(rows["amount"]), _floats(rows["balance_after"])
    signed = np.where(credit, amount, -amount) * approved
    before = np.full(n, np.nan)
    before[1:] = np.where(first[1:], np.nan, after[:-1])
    before = np.where(np.isnan(before), start, before)  # the row before, else the opening balance
    chain = _cents(after) != _cents(before) + _cents(signed)
    below = approved & debit & (_cents(after) < _cents(floor))
    reason = pc.is_valid(rows["decline_reason"]).to_numpy(zero_copy_only=False)
    reasons = (~approved & ~reason) | (approved & reason)
    # each account's last known balance_after, and the opening balance plus its approved rows
    known = np.maximum.accumulate(np.where(np.isnan(after), -1, np.arange(n)))
    ends = np.flatnonzero(np.append(first[1:], True)) if n else np.zeros(0, np.int64)
    last = np.where(known[ends] >= np.flatnonzero(first), after[np.maximum(known[ends], 0)], np.nan)
    every = pc.unique(pa.concat_arrays([opening["account_id"].combine_chunks().cast(pa.string()),
                                        ids.cast(pa.string())]))
    every = every.take(pc.sort_indices(every))
    total = np.bincount(group, weights=signed, minlength=len(ids)) if n else np.zeros(0)
    opened = _by_account(every, opening["account_id"], opening["balance"])
    moved = _by_account(every, ids, pa.array(total))
    expected = np.where(np.isnan(opened), 0.0, opened) + np.where(np.isnan(moved), 0.0, moved)
    wrong_total = _cents(_by_account(every, balances["account_id"], balances["balance"])) != _cents(expected)
    wrong_last = _cents(_by_account(ids, balances["account_id"], balances["balance"])) != _cents(last)
    wrong_end = every.filter(pa.array(wrong_total)).to_pylist() + ids.filter(pa.array(wrong_last)).to_pylist()
    return [Finding("each row's balance_after is the one before plus the row (approved) or unchanged (declined)",
                    int(chain.sum()), account.filter(pa.array(chain)).slice(0, SAMPLE).to_pylist()),
            Finding("approved debits stay within the overdraft or credit limit", int(below.sum()),
                    account.filter(pa.array(below)).slice(0, SAMPLE).to_pylist()),
            Finding("declined rows, and only they, carry a decline_reason", int(reasons.sum()), []),
            Finding("account_balances equals the opening balance plus the day's approved rows, and each account's "
                    "last balance_after", len(wrong_end), wrong_end[:SAMPLE]),
            Finding("no row is on an account before the day it opens", int(unopened.sum()),
                    account.filter(pa.array(unopened)).slice(0, SAMPLE).to_pylist())]


def _by_account(wanted: pa.Array, ids: pa.ChunkedArray | pa.Array, values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """`values` (aligned with `ids`) of each of the `wanted` accounts, NaN for an account `ids` lacks."""
    at = pc.index_in(wanted, ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids)
    return np.append(_floats(values), np.nan)[pc.fill_null(at, len(ids)).to_numpy(zero_copy_only=False)]


def _is(values: pa.ChunkedArray | pa.Array, label: str) -> np.ndarray:
    """Per row: whether `values` is `label` (null is not)."""
    return pc.fill_null(pc.equal(values, label), False).to_numpy(zero_copy_only=False)


def _floats(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False).astype(float)


def _cents(values: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(values, float) * 100)


def lifecycle_findings(stream: pa.Table, balances: pa.Table, blocked: pa.Table, expiry: pa.Table) -> list[Finding]:
    """Approved debits against the account's status that day and the card's block (`blocked`: card_number,
    blocked_at) and expiry (`expiry`: card_number, expires_at: the first instant it no longer works)."""
    debits = stream.filter(pc.and_(pc.equal(stream["status"], "approved"), pc.equal(stream["direction"], "debit")))
    status = balances.select(["account_id", "status"]).to_pandas().set_index("account_id")["status"]
    stopped = pd.Series(debits["account_id"].to_numpy(zero_copy_only=False)).map(status).isin(["frozen", "closed"])
    rows = debits.filter(pc.not_equal(debits["channel"], "transfer"))  # a card stops card payments, not transfers
    at = _ms(rows["arrival_time"])

    def after(times: pa.Table, column: str) -> np.ndarray:
        """Rows whose card has a time in `times` at or before the row's arrival."""
        position = pd.Index(times["card_number"].to_numpy(zero_copy_only=False)).get_indexer(
            rows["card_number"].to_numpy(zero_copy_only=False))
        limit = np.append(_ms(times[column]), np.iinfo(np.int64).max)[position]  # -1 (no such card): never
        return at >= limit

    on_blocked, on_expired = after(blocked, "blocked_at"), after(expiry, "expires_at")
    card = rows["card_number"].to_numpy(zero_copy_only=False)
    return [Finding("no approved debit on a frozen or closed account", int(stopped.sum()), []),
            Finding("no approved card payment on a card after it was blocked", int(on_blocked.sum()),
                    list(card[on_blocked][:SAMPLE])),
            Finding("no approved card payment on a card after it expired", int(on_expired.sum()),
                    list(card[on_expired][:SAMPLE]))]


def _ms(times: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return pc.cast(times, pa.int64()).to_numpy(zero_copy_only=False).astype(np.int64)
