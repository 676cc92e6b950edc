"""The scorecard's sample of the bank: whole customers, chosen by a keyed hash of the customer number.

Training a random forest on every payment of the bank was most of the time of a default run; on a sample of
customers it costs what the sample costs. The sample is of *whole customers* — every account, card and payment
(genuine and fraud) of each — because every feature a detector reads is of the row's account, card, customer or
device history (`features`): keeping a customer keeps all of their history, so a sampled customer's features are the
ones the whole bank gives them, and a card is either wholly in the sample or wholly out. The features that count
other customers' payments (a merchant's fraud risk and volume, how many accounts a shared device has served) are
measured within the sample, as a bank of that many customers would see them.

Membership is `keys.uniform(key, customer number) < share`: a pure function of the scenario's seed and the customer,
the same whichever days are read, in whatever order or partitioning, and independent of anything the customer did —
so the sample is unbiased: fraud victims and fraudulent rows are in it at the bank's rates, up to binomial noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import keys

PURPOSE = "detection_sample"
KEYED_ON = "customer_id"
ID_PREFIX = "C"  # customer ids are the prefix and the customer's number (world: columns.ids("C", number, width))


def customer_numbers(customer_ids: pa.Array | pa.ChunkedArray | pd.Series) -> np.ndarray:
    """The customer number in each id (C00000042 → 42). Raises ValueError for an id that is not the prefix and
    digits: membership must never depend on how an unexpected id happens to parse."""
    ids = pc.cast(customer_ids if isinstance(customer_ids, (pa.Array, pa.ChunkedArray)) else pa.array(customer_ids),
                  pa.string())
    digits = pc.utf8_slice_codeunits(ids, 1)
    valid = pc.fill_null(pc.and_(pc.starts_with(ids, ID_PREFIX), pc.utf8_is_digit(digits)), False)
    if not pc.all(valid).as_py():  # (true for no ids)
        raise ValueError(f"customer ids must be '{ID_PREFIX}' and digits (got {pc.filter(ids, pc.invert(valid))[0]})")
    return pc.cast(digits, pa.int64()).to_numpy(zero_copy_only=False)


def chosen(numbers: np.ndarray, seed: int, share: float) -> np.ndarray:
    """Whether each customer number is in the sample: its keyed uniform is below `share` (all of them at 1)."""
    numbers = np.asarray(numbers, np.int64)
    if share >= 1:
        return np.ones(len(numbers), bool)
    return keys.uniform(keys.label_key(seed, PURPOSE), numbers) < share


def in_sample(customer_ids: pa.Array | pa.ChunkedArray | pd.Series, seed: int, share: float) -> np.ndarray:
    """Whether each row's customer is in the scorecard's sample (a boolean per row)."""
    if share >= 1:
        return np.ones(len(customer_ids), bool)
    return chosen(customer_numbers(customer_ids), seed, share)


def keep_table(table: pa.Table, seed: int, share: float) -> pa.Table:
    """The rows of `table` (which has KEYED_ON) whose customer is in the sample."""
    return table if share >= 1 else table.filter(pa.array(in_sample(table[KEYED_ON], seed, share)))


def keep_frame(frame: pd.DataFrame, seed: int, share: float) -> pd.DataFrame:
    """The rows of `frame` (which has KEYED_ON) whose customer is in the sample, index kept."""
    return frame if share >= 1 else frame[in_sample(frame[KEYED_ON], seed, share)]


def top_cards(share: float, bank_top: int) -> int:
    """How many of the sample's highest-scoring cards stand for the bank's `bank_top`: the same share of the day's
    cards (25 of a 25 % sample for the bank's 100), so card precision and its ceiling keep their meaning."""
    return max(1, round(bank_top * share))
