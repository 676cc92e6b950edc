"""A South African transaction-monitoring rule set: the scorecard's first AML reference detector.

The rules of `../shared/reference/aml-anchors.md` §8.3 (4): cash near the reporting threshold, structuring,
deposit-and-send, rapid pass-through, fan-in of unrelated senders and cross-border payments below the IFTR
threshold. Each reads `aml_features` of the row alone (so of its account's past), and fires on the row that
completes the pattern. The figures are typical of published rule sets (assumptions where no source gives one).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

IFTR_THRESHOLD = 19_999.99  # FIC Act s31: cross-border EFTs above this are reported (aml-anchors §7)
DEPOSIT_THEN_SEND = 10_000  # cash banked in 3 days before money leaves (assumption)
PASSED_ON = 0.8  # share of what came in that left within 3 days
TRANSFERRED_IN = 5_000  # transfers in over 3 days before a pass-through counts (assumption)
NEW_SENDERS = 3  # new paying parties in 7 days (assumption)
STRUCTURED = 3  # cash deposits in 30 days, each below the threshold, that together pass it


def rules(table: pd.DataFrame, cash_threshold: float) -> dict[str, np.ndarray]:
    """Per rule, whether it fires on each row of `table` (AML_FEATURES; `cash_threshold` in rand, scenario
    aml.cash_threshold). Rules and what they read:

    - near_threshold: a cash deposit at 80–100 % of the threshold;
    - structuring: a cash deposit that takes the account's 30-day cash past the threshold in STRUCTURED or more;
    - deposit_and_send: money out when R10,000+ cash came in over 3 days and 80 % of it has left;
    - rapid_pass_through: money out when R5,000+ was transferred in over 3 days and 80 % of what came in has left;
    - fan_in: a transfer in from the third or later new sender in 7 days;
    - cross_border_below_iftr: a payment abroad of 80–100 % of the IFTR threshold.
    """
    debit = table["debit"].to_numpy(bool)
    amount = np.expm1(table["log_amount"].to_numpy())
    deposit = table["type_cash_deposit"].to_numpy(bool) & ~table["declined"].to_numpy(bool)
    cash_3d, debits_3d = table["cash_in_3d"].to_numpy(), table["debits_3d"].to_numpy()
    return {
        "near_threshold": table["near_threshold"].to_numpy(bool),
        "structuring": deposit & (table["cash_in_count_30d"].to_numpy() >= STRUCTURED)
        & (table["cash_in_30d"].to_numpy() > cash_threshold) & (amount <= cash_threshold),
        "deposit_and_send": debit & (cash_3d >= DEPOSIT_THEN_SEND) & (debits_3d >= PASSED_ON * cash_3d),
        "rapid_pass_through": debit & (table["transfers_in_3d"].to_numpy() >= TRANSFERRED_IN)
        & (table["pass_through_3d"].to_numpy() >= PASSED_ON),
        "fan_in": ~debit & table["type_transfer_in"].to_numpy(bool)
        & (table["new_senders_7d"].to_numpy() >= NEW_SENDERS),
        "cross_border_below_iftr": debit & table["cross_border"].to_numpy(bool)
        & (amount >= 0.8 * IFTR_THRESHOLD) & (amount <= IFTR_THRESHOLD),
    }
