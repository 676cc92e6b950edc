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
                       "rows carry a reason and leave the balance as it was.",
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
    account_id, balance) and ends in (`balances`), and each account's limits."""
    columns = ["account_id", "arrival_time", "event_time", "direction", "amount", "status", "decline_reason",
               "balance_after"]
    rows = stream.select(columns).to_pandas().sort_values(["account_id", "arrival_time", "event_time"], kind="stable")
    limits = accounts.select(["account_id", "overdraft_limit", "credit_limit"]).to_pandas().set_index("account_id")
    floor = -(limits["overdraft_limit"] + limits["credit_limit"])
    start = opening.to_pandas().set_index("account_id")["balance"]
    approved = rows["status"] == "approved"
    signed = np.where(rows["direction"] == "credit", rows["amount"], -rows["amount"]) * approved
    before = rows.groupby("account_id")["balance_after"].shift(1)
    before = before.fillna(rows["account_id"].map(start))
    cents = lambda values: np.round(np.asarray(values, float) * 100)  # noqa: E731
    chain = cents(rows["balance_after"]) != cents(before) + cents(signed)
    below = approved & (rows["direction"] == "debit") & (cents(rows["balance_after"]) < cents(rows["account_id"].map(floor)))
    reasons = (~approved & rows["decline_reason"].isna()) | (approved & rows["decline_reason"].notna())
    last = rows.groupby("account_id")["balance_after"].last()
    end = balances.to_pandas().set_index("account_id")["balance"]
    expected_end = start.add(pd.Series(signed, index=rows.index).groupby(rows["account_id"]).sum(), fill_value=0)
    wrong_total = cents(end.reindex(expected_end.index)) != cents(expected_end)
    wrong_last = cents(end.reindex(last.index)) != cents(last)
    wrong_end = list(expected_end.index[wrong_total]) + list(last.index[wrong_last])
    return [Finding("each row's balance_after is the one before plus the row (approved) or unchanged (declined)",
                    int(chain.sum()), rows.loc[chain, "account_id"].head(SAMPLE).tolist()),
            Finding("approved debits stay within the overdraft or credit limit", int(below.sum()),
                    rows.loc[below, "account_id"].head(SAMPLE).tolist()),
            Finding("declined rows, and only they, carry a decline_reason", int(reasons.sum()), []),
            Finding("account_balances equals the opening balance plus the day's approved rows, and each account's "
                    "last balance_after", len(wrong_end), wrong_end[:SAMPLE])]


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
