"""The features the reference detectors read, computed from the stored tables alone (what a bank has).

Handbook features (Le Borgne et al., *Reproducible Machine Learning for Credit Card Fraud Detection —
Practical Handbook*, 2022, chapter 3): the account's count and mean amount over 1, 7 and 30 days, the
merchant's (terminal's) fraud risk over 1, 7 and 30 days with a 7-day delay, weekend and night. Added here:
velocity (seconds since the account's previous payment, payments in the last hour), geography (distance
from home and from the previous payment, abroad), device (not the trusted phone that day, first use by the
account, how many accounts the device has served), payee (new, not saved, high risk) and amount against
habit and balance. Every feature of a row uses only rows up to its own time, and labels only once known.

Scored rows are payments out (debits): every fraud row is one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraud_pipeline.detection.windows import codes, distinct_so_far, first_seen, previous, rolling, times_ms
from fraud_pipeline.fraud.scenarios import km_between

MS_PER_DAY = 86_400_000
WINDOWS_DAYS = (1, 7, 30)
TERMINAL_DELAY_DAYS = 7  # the Handbook's delay before a terminal's frauds are known
NIGHT_HOURS = (22, 7)  # 22:00–06:59
CHANNELS = ("pos", "online", "atm", "transfer")

FEATURES = {
    "log_amount": "log(1 + amount)",
    "hour": "hour of the day (local)",
    "night": "22:00–06:59",
    "weekend": "Saturday or Sunday",
    **{f"channel_{c}": f"channel is {c}" for c in CHANNELS},
    **{f"account_count_{d}d": f"the account's payments over the last {d} day(s), this one included"
       for d in WINDOWS_DAYS},
    **{f"account_mean_{d}d": f"their mean amount over the last {d} day(s)" for d in WINDOWS_DAYS},
    "amount_over_mean_30d": "amount ÷ the account's mean payment over the 30 days before",
    "amount_over_avg_balance": "amount ÷ the account's avg_balance (seed 004's ratio)",
    **{f"merchant_risk_{d}d": f"share of the merchant's payments known as fraud, {d} day(s) ending 7 days ago"
       for d in WINDOWS_DAYS},
    **{f"merchant_count_{d}d": f"the merchant's payments over those {d} day(s)" for d in WINDOWS_DAYS},
    "log_seconds_since_previous": "log(1 + seconds since the account's previous payment)",
    "count_last_hour": "the account's payments in the last hour",
    "km_from_home": "distance from the customer's home (km)",
    "km_from_previous": "distance from the account's previous payment (km)",
    "abroad": "outside the region's country",
    "device_untrusted": "a digital payment from a device that is not the customer's trusted phone that day",
    "device_first_use": "the account's first payment from this device",
    "device_accounts": "accounts this device has paid from so far",
    "payee_new": "recipient_status is NEW_RECIPIENT",
    "payee_unsaved": "a payee not among the account's saved payees by that day",
    "payee_high_risk": "a high-risk payee (crypto, offshore, high-risk country)",
}


def labelled_stream(transactions: pd.DataFrame, fraud: pd.DataFrame) -> pd.DataFrame:
    """The union of genuine and fraud rows, payments out only, in time order (a fresh index)."""
    rows = pd.concat([transactions, fraud], ignore_index=True)
    rows = rows[rows["direction"] == "debit"]
    return rows.sort_values(["event_time", "transaction_id"], kind="stable").reset_index(drop=True)


def features(rows: pd.DataFrame, entities: dict[str, pd.DataFrame], country: str) -> pd.DataFrame:
    """One row of FEATURES per stream row (same index), from `rows` (a `labelled_stream`) and the entity tables
    customers, accounts, device_history, account_beneficiaries and beneficiaries. `country`: the region's ISO
    code (abroad). Merchant risk reads a fraud label only from its `label_available_at` on."""
    t = times_ms(rows["event_time"])
    day = rows["event_time"].dt.normalize()
    account = codes(rows["account_id"])
    amount = rows["amount"].to_numpy(float)
    hour = rows["event_time"].dt.hour.to_numpy()
    out = {"log_amount": np.log1p(amount), "hour": hour,
           "night": (hour >= NIGHT_HOURS[0]) | (hour < NIGHT_HOURS[1]),
           "weekend": rows["event_time"].dt.day_of_week.to_numpy() >= 5}
    for channel in CHANNELS:
        out[f"channel_{channel}"] = (rows["channel"] == channel).to_numpy()

    for d in WINDOWS_DAYS:
        count, total = rolling(account, t, amount, d * MS_PER_DAY)
        out[f"account_count_{d}d"] = count
        out[f"account_mean_{d}d"] = total / np.maximum(count, 1)
    before_count, before_total = rolling(account, t, amount, 30 * MS_PER_DAY, lag_ms=1)
    out["amount_over_mean_30d"] = np.where(before_count > 0, amount / np.maximum(before_total / np.maximum(
        before_count, 1), 0.01), 1.0)
    accounts = entities["accounts"].set_index("account_id")
    out["amount_over_avg_balance"] = amount / np.maximum(rows["account_id"].map(accounts["avg_balance"]).to_numpy(float),
                                                         1.0)

    merchant = codes(rows["merchant_id"])
    at_merchant = rows["merchant_id"].notna().to_numpy()
    # a past fraud counts once its label is known: a row in a delayed window is at least 7 days old, so counting
    # the frauds whose label came within 7 days of them never reads a label before it exists
    labelled = rows["label_available_at"].notna().to_numpy()
    known_by = np.where(labelled, times_ms(rows["label_available_at"].fillna(rows["event_time"])),
                        np.iinfo(np.int64).max)
    delay = TERMINAL_DELAY_DAYS * MS_PER_DAY
    known_fraud = (rows["is_fraud"].to_numpy() & (known_by <= t + delay)).astype(float)
    for d in WINDOWS_DAYS:
        count, _ = rolling(merchant, t, np.ones(len(t)), d * MS_PER_DAY, delay)
        _, risky = rolling(merchant, t, known_fraud, d * MS_PER_DAY, delay)
        out[f"merchant_count_{d}d"] = np.where(at_merchant, count, 0)
        out[f"merchant_risk_{d}d"] = np.where(at_merchant & (count > 0), risky / np.maximum(count, 1), 0.0)

    last = previous(account, t)
    has_last = last >= 0
    out["log_seconds_since_previous"] = np.where(has_last, np.log1p((t - t[np.maximum(last, 0)]) / 1000), 20.0)
    out["count_last_hour"] = rolling(account, t, np.ones(len(t)), 3_600_000)[0]
    customers = entities["customers"].set_index("customer_id")
    lat, lon = rows["lat"].to_numpy(float), rows["lon"].to_numpy(float)
    out["km_from_home"] = km_between(lat, lon, rows["customer_id"].map(customers["home_lat"]).to_numpy(float),
                                     rows["customer_id"].map(customers["home_lon"]).to_numpy(float))
    out["km_from_previous"] = np.where(has_last, km_between(lat, lon, lat[np.maximum(last, 0)],
                                                            lon[np.maximum(last, 0)]), 0.0)
    out["abroad"] = (rows["country"] != country).to_numpy()

    out["device_untrusted"] = _untrusted(rows, entities["device_history"])
    device = codes(rows["device_id"])
    digital = rows["device_id"].notna().to_numpy()
    out["device_first_use"] = digital & first_seen(account, device, t)
    out["device_accounts"] = np.where(digital, distinct_so_far(device, account, t), 0)

    out["payee_new"] = (rows["recipient_status"] == "NEW_RECIPIENT").to_numpy()
    links = entities["account_beneficiaries"]
    saved_on = pd.Series(pd.to_datetime(links["added_date"]).to_numpy(),
                         index=pd.MultiIndex.from_arrays([links["account_id"], links["beneficiary_id"]]))
    saved_on = saved_on[~saved_on.index.duplicated()]
    pair = pd.MultiIndex.from_arrays([rows["account_id"], rows["beneficiary_id"]])
    added = saved_on.reindex(pair).to_numpy()
    has_payee = rows["beneficiary_id"].notna().to_numpy()
    out["payee_unsaved"] = has_payee & ~(pd.notna(added) & (added <= day.to_numpy()))
    risky_payees = entities["beneficiaries"].set_index("beneficiary_id")["is_high_risk"]
    out["payee_high_risk"] = rows["beneficiary_id"].map(risky_payees).fillna(False).to_numpy(bool)
    frame = pd.DataFrame(out, index=rows.index)
    return frame[list(FEATURES)].astype(float)


def _untrusted(rows: pd.DataFrame, history: pd.DataFrame) -> np.ndarray:
    """Digital rows whose device is not the customer's trusted phone on the row's day (device_history)."""
    digital = rows[rows["device_id"].notna()]
    if digital.empty:
        return np.zeros(len(rows), bool)
    bound = history.assign(at=pd.to_datetime(history["trusted_from"]).astype("datetime64[ms]"))
    probe = digital[["customer_id", "device_id"]].assign(at=digital["event_time"].dt.normalize().astype("datetime64[ms]"),
                                                         row=digital.index)
    found = pd.merge_asof(probe.sort_values("at"), bound.sort_values("at")[["customer_id", "at", "device_id"]]
                          .rename(columns={"device_id": "trusted"}), on="at", by="customer_id", direction="backward")
    untrusted = np.zeros(len(rows), bool)
    untrusted[found["row"].to_numpy()] = (found["device_id"] != found["trusted"]).to_numpy()
    return untrusted
