"""What an AML monitoring system reads: the bank's money-movement rows and, per row, its account's aggregates and
simple graph features up to the row's own time (no label, no later row).

The stream is every transfer, cash and income row of card_transactions and fraud_transactions (card purchases,
refunds and interest are the card-fraud scorecard's, not AML's): the rows AMLworld's transactions stand for
(Altman et al., 2023). The features are the account aggregates and graph features of the issue's boosted reference
and of the Multi-GNN papers' LightGBM baseline (in/out degree, fan-in and fan-out, pass-through ratio, 2-cycles,
counterparty risk), plus what a South African rule set reads (cash near the reporting threshold, cash banked then
sent on). Every feature of a row is computed from rows up to and including it: of its own account, and for the graph
features of the other party's too — how many of the bank's accounts a payee has been paid by, or a sender has paid
(fan-in and fan-out seen from the other side: scatter-gather's and gather-scatter's hubs), and for a transfer
between two of the bank's accounts the other account's state then (`COUNTERPARTY`: AMLworld's graph features, and
what a layering hop's next account shows — money in, passed on, from new senders).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraud_pipeline.detection.windows import codes, distinct_so_far, first_seen, previous, rolling, times_ms

MS_PER_HOUR = 3_600_000
MS_PER_DAY = 24 * MS_PER_HOUR
NOT_MONEY_MOVEMENT = ("purchase", "refund", "interest")  # the card scorecard's rows, and the bank's own interest
INCOME = ("salary", "pension", "grant", "client_payment", "card_settlement")
TYPES = ("transfer", "transfer_in", "bill_payment", "cash_deposit", "withdrawal")
NEAR_THRESHOLD = 0.8  # a cash deposit at 80 %+ of the reporting threshold is "near" it (assumption; FIC guidance
# names no figure)
STREAM_COLUMNS = ("transaction_id", "event_time", "account_id", "customer_id", "channel", "transaction_type",
                  "direction", "beneficiary_id", "counterparty_account_id", "amount", "recipient_status", "status",
                  "aml_typology", "aml_case_id", "aml_role")

# the other account's state a transfer between two of the bank's accounts reads (AMLworld's counterparty features)
COUNTERPARTY = ("pass_through_3d", "credits_3d", "senders_so_far", "payees_so_far", "new_senders_7d", "cash_in_30d")

AML_FEATURES = {
    "log_amount": "log(1 + amount)",
    "hour": "hour of the day (local)",
    "night": "22:00–06:59",
    "weekend": "Saturday or Sunday",
    "debit": "money out",
    **{f"type_{t}": f"transaction_type is {t}" for t in TYPES},
    "type_income": "salary, pension, grant or a client's payment",
    "channel_branch": "at a branch counter",
    "channel_atm": "at an ATM",
    "declined": "declined",
    "amount_over_income": "amount ÷ the holder's monthly income",
    "amount_over_takings": "amount ÷ the holder's expected monthly takings (their business's monthly_turnover, else "
                           "their monthly income: what a bank's KYC records for the account)",
    "amount_over_avg_balance": "amount ÷ the account's avg_balance (seed 004's ratio)",
    "near_threshold": "a cash deposit at 80 % or more of the cash reporting threshold",
    **{f"cash_in_{d}d": f"the account's cash deposits over {d} days, rand" for d in (3, 30)},
    **{f"cash_in_count_{d}d": f"their number over {d} days" for d in (3, 30)},
    **{f"credits_{d}d": f"money in over {d} days, rand (every credit)" for d in (3, 30)},
    **{f"debits_{d}d": f"money out over {d} days, rand (transfers, bill payments, withdrawals)" for d in (3, 30)},
    "transfers_in_3d": "transfers in over 3 days, rand (from other banks' accounts or the bank's)",
    "pass_through_3d": "money out ÷ money in over 3 days (near 1: passed on)",
    "pass_through_30d": "money out ÷ money in over 30 days",
    "credits_30d_over_takings": "money in over 30 days ÷ the holder's expected monthly takings",
    "withdrawals_count_1d": "cash withdrawals over the day",
    "senders_so_far": "distinct parties that have paid the account (fan-in: in-degree)",
    "payees_so_far": "distinct parties the account has paid (fan-out: out-degree)",
    "new_senders_7d": "parties that paid the account for the first time in the last 7 days",
    "new_payees_7d": "parties the account paid for the first time in the last 7 days (fan-out)",
    "party_payers_so_far": "on money out: distinct accounts of the bank that have paid this payee so far (its "
                           "fan-in: a collector many strangers pay)",
    "party_payees_so_far": "on money in: distinct accounts of the bank this sender has paid so far (its fan-out: "
                           "a source that scatters)",
    "amount_over_credits_3d": "on money out: amount ÷ money in over 3 days (what came in, passed on)",
    "log_seconds_since_credit": "log(1 + seconds since the account's last approved credit)",
    **{f"counterparty_{f}": f"on a transfer with an account of the bank: that account's {f} as of its latest row at "
                            f"or before the row's time (0 before its first), −1 outside the bank (a counterparty "
                            f"that passes money on)" for f in COUNTERPARTY},
    "counterparty_account_age_days": "on a transfer with an account of the bank: days since that account opened, −1 "
                                     "outside the bank",
    "two_cycle": "a transfer with an account of the bank that has also paid this account, or been paid by it, "
                 "the other way (a 2-cycle)",
    "payee_new": "recipient_status is NEW_RECIPIENT",
    "payee_high_risk": "a high-risk party (crypto, offshore, high-risk country)",
    "cross_border": "a party in another country",
    "account_age_days": "days since the account opened",
    "log_seconds_since_previous": "log(1 + seconds since the account's previous money-movement row)",
    "holder_cdd_high": "the holder's risk_rating is high",
    "holder_pep": "the holder is a politically exposed person",
}


def money_stream(transactions: pd.DataFrame, fraud: pd.DataFrame) -> pd.DataFrame:
    """The union of genuine and fraud rows that move money between parties (not NOT_MONEY_MOVEMENT), in time order
    (a fresh index). Its `laundering` column: the row is part of a laundering case."""
    rows = pd.concat([transactions, fraud], ignore_index=True)
    rows = rows[~rows["transaction_type"].isin(NOT_MONEY_MOVEMENT)]
    rows = rows.sort_values(["event_time", "transaction_id"], kind="stable").reset_index(drop=True)
    return rows.assign(laundering=rows["aml_case_id"].notna())


def aml_features(rows: pd.DataFrame, entities: dict[str, pd.DataFrame], country: str,
                 cash_threshold: float) -> pd.DataFrame:
    """One row of AML_FEATURES per stream row (same index, floats), from `rows` (a `money_stream`) and the entity
    tables customers (customer_id, monthly_income, monthly_turnover, risk_rating, pep_flag), accounts (account_id,
    avg_balance, opened_date) and beneficiaries (beneficiary_id, country, is_high_risk). `country`: the region's ISO
    code; `cash_threshold`: the cash reporting threshold in rand (scenario aml.cash_threshold)."""
    t = times_ms(rows["event_time"])
    account = codes(rows["account_id"])
    amount = rows["amount"].to_numpy(float)
    kind = rows["transaction_type"]
    debit = (rows["direction"] == "debit").to_numpy()
    approved = (rows["status"] == "approved").to_numpy()
    hour = rows["event_time"].dt.hour.to_numpy()
    out = {"log_amount": np.log1p(amount), "hour": hour, "night": (hour >= 22) | (hour < 7),
           "weekend": rows["event_time"].dt.day_of_week.to_numpy() >= 5, "debit": debit,
           **{f"type_{k}": (kind == k).to_numpy() for k in TYPES}, "type_income": kind.isin(INCOME).to_numpy(),
           "channel_branch": (rows["channel"] == "branch").to_numpy(),
           "channel_atm": (rows["channel"] == "atm").to_numpy(),
           "declined": ~approved}
    customers = entities["customers"].set_index("customer_id")
    accounts = entities["accounts"].set_index("account_id")
    income = rows["customer_id"].map(customers["monthly_income"]).to_numpy(float)
    out["amount_over_income"] = amount / np.maximum(income, 100.0)
    takings = rows["customer_id"].map(customers["monthly_turnover"].fillna(customers["monthly_income"]))
    takings = np.maximum(takings.to_numpy(float), 100.0)
    out["amount_over_takings"] = amount / takings
    balance = rows["account_id"].map(accounts["avg_balance"]).to_numpy(float)
    out["amount_over_avg_balance"] = amount / np.maximum(balance, 1.0)
    cash_in = out["type_cash_deposit"] & approved
    out["near_threshold"] = cash_in & (amount >= NEAR_THRESHOLD * cash_threshold) & (amount <= cash_threshold)

    moved = np.where(approved, amount, 0.0)
    credit_amount, debit_amount = np.where(debit, 0.0, moved), np.where(debit, moved, 0.0)
    for d in (3, 30):
        window = d * MS_PER_DAY
        out[f"cash_in_{d}d"] = rolling(account, t, np.where(cash_in, amount, 0.0), window)[1]
        out[f"cash_in_count_{d}d"] = rolling(account, t, cash_in.astype(float), window)[1]
        credits = rolling(account, t, credit_amount, window)[1]
        debits = rolling(account, t, debit_amount, window)[1]
        out[f"credits_{d}d"], out[f"debits_{d}d"] = credits, debits
        out[f"pass_through_{d}d"] = debits / np.maximum(credits, 100.0)
    out["credits_30d_over_takings"] = out["credits_30d"] / takings
    transfer_in = out["type_transfer_in"] & approved
    out["transfers_in_3d"] = rolling(account, t, np.where(transfer_in, amount, 0.0), 3 * MS_PER_DAY)[1]
    out["withdrawals_count_1d"] = rolling(account, t, out["type_withdrawal"].astype(float), MS_PER_DAY)[1]

    party = _party(rows)
    has_party = party >= 0
    sender = np.where(~debit & has_party, party, -1)
    payee = np.where(debit & has_party, party, -1)
    out["senders_so_far"] = distinct_so_far(account, sender, t, counted=sender >= 0)
    out["payees_so_far"] = distinct_so_far(account, payee, t, counted=payee >= 0)
    first_from = (sender >= 0) & first_seen(account, sender, t)
    out["new_senders_7d"] = rolling(account, t, first_from.astype(float), 7 * MS_PER_DAY)[1]
    first_to = (payee >= 0) & first_seen(account, payee, t)
    out["new_payees_7d"] = rolling(account, t, first_to.astype(float), 7 * MS_PER_DAY)[1]
    by_party = np.where(has_party, party, party.max(initial=-1) + 1)
    for name, side in (("party_payers_so_far", debit), ("party_payees_so_far", ~debit)):
        counted = side & has_party
        # an account counts from its first row of this direction (one that was paid by the party before and now
        # pays it is a new payer)
        out[name] = np.where(counted, distinct_so_far(by_party, np.where(counted, account, -1), t, counted=counted),
                             0)
    out["amount_over_credits_3d"] = np.where(debit, amount / np.maximum(out["credits_3d"], 100.0), 0.0)
    since = t - _last(account, t, ~debit & approved)
    out["log_seconds_since_credit"] = np.where(since < t, np.log1p(since / 1000), 20.0)
    out["two_cycle"] = _two_cycle(rows, t)

    out["payee_new"] = (rows["recipient_status"] == "NEW_RECIPIENT").to_numpy()
    beneficiaries = entities["beneficiaries"].set_index("beneficiary_id")
    out["payee_high_risk"] = rows["beneficiary_id"].map(beneficiaries["is_high_risk"]).fillna(False).to_numpy(bool)
    abroad = rows["beneficiary_id"].map(beneficiaries["country"])
    out["cross_border"] = (abroad.notna() & (abroad != country)).to_numpy()
    opened = rows["account_id"].map(pd.to_datetime(accounts["opened_date"])).astype("datetime64[ms]")
    out["account_age_days"] = (t - times_ms(opened.fillna(rows["event_time"]))) / MS_PER_DAY
    last = previous(account, t)
    out["log_seconds_since_previous"] = np.where(last >= 0, np.log1p((t - t[np.maximum(last, 0)]) / 1000), 20.0)
    out["holder_cdd_high"] = (rows["customer_id"].map(customers["risk_rating"]) == "high").to_numpy()
    out["holder_pep"] = rows["customer_id"].map(customers["pep_flag"]).fillna(False).to_numpy(bool)
    out.update(_counterparty(rows, t, out))
    other_opened = rows["counterparty_account_id"].map(pd.to_datetime(accounts["opened_date"])).astype("datetime64[ms]")
    other_age = (t - times_ms(other_opened.fillna(rows["event_time"]))) / MS_PER_DAY
    out["counterparty_account_age_days"] = np.where(other_opened.notna().to_numpy(), other_age, -1.0)
    return pd.DataFrame(out, index=rows.index)[list(AML_FEATURES)].astype(float)


def _party(rows: pd.DataFrame) -> np.ndarray:
    """Per row, a code for the party on the other side (a beneficiary or an account of the bank), −1 for none."""
    return pd.factorize(rows["beneficiary_id"].fillna(rows["counterparty_account_id"]), use_na_sentinel=True)[0]


def _last(group: np.ndarray, t: np.ndarray, marked: np.ndarray) -> np.ndarray:
    """Per row, the time (ms) of its group's latest marked row up to and including it, 0 for none."""
    order = np.lexsort((t, group))
    latest = pd.Series(np.where(marked, t, np.nan)[order]).groupby(group[order]).ffill().to_numpy()
    found = np.empty(len(t))
    found[order] = np.nan_to_num(latest, nan=0.0)
    return found.astype(np.int64)


def _counterparty(rows: pd.DataFrame, t: np.ndarray, features: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """COUNTERPARTY features of a transfer's other account of the bank, as of that account's latest row at or
    before the row's time (its last movement: a window's sum then, not now), 0 before its first row, −1 where the
    other party is outside the bank."""
    other = rows["counterparty_account_id"]
    inside = np.flatnonzero(other.notna().to_numpy())
    out = {f"counterparty_{f}": np.full(len(rows), -1.0) for f in COUNTERPARTY}
    if not len(inside):
        return out
    # integer codes of the accounts on both sides, so the two keys always have one type
    code = codes(pd.concat([rows["account_id"], other.iloc[inside]], ignore_index=True))
    ask = pd.DataFrame({"t": t[inside], "account": code[len(rows):], "row": inside})
    known = pd.DataFrame({"t": t, "account": code[:len(rows)], **{f: features[f] for f in COUNTERPARTY}})
    # merge_asof needs both sides sorted by time; at the same millisecond the other account's last row is taken,
    # before or after this one in the stream (both are at the row's time)
    found = pd.merge_asof(ask.iloc[np.argsort(ask["t"].to_numpy(), kind="stable")],
                          known.iloc[np.argsort(t, kind="stable")], on="t", by="account")
    for f in COUNTERPARTY:
        out[f"counterparty_{f}"][found["row"].to_numpy()] = found[f].fillna(0.0).to_numpy()
    return out


def _two_cycle(rows: pd.DataFrame, t: np.ndarray) -> np.ndarray:
    """Rows between two accounts of the bank where money has already gone the other way between them."""
    inside = rows["counterparty_account_id"].notna().to_numpy()
    debit = (rows["direction"] == "debit").to_numpy()
    payer = np.where(debit, rows["account_id"], rows["counterparty_account_id"])
    payee = np.where(debit, rows["counterparty_account_id"], rows["account_id"])
    flows = pd.DataFrame({"payer": payer, "payee": payee, "t": t})[inside]
    first = flows.groupby(["payer", "payee"])["t"].min()
    back = pd.MultiIndex.from_arrays([flows["payee"], flows["payer"]])
    reverse_first = first.reindex(back).to_numpy()
    found = np.zeros(len(rows), bool)
    found[np.flatnonzero(inside)] = ~np.isnan(reverse_first) & (reverse_first < flows["t"].to_numpy())
    return found
