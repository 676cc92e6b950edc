"""Transaction rows while a day is simulated: integer and numeric columns into the world, one array each.

Strings (ids, names, places) are gathered once, when the day's table is built, so generating,
authorising and sorting a million rows stays numpy work. Money is integer cents; times are int64
milliseconds on the region's wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pyarrow as pa

CHANNELS = ("pos", "online", "transfer", "atm", "branch")
POS, ONLINE, TRANSFER, ATM, BRANCH = range(5)
TYPES = ("purchase", "withdrawal", "transfer", "bill_payment", "salary", "transfer_in", "refund", "interest", "pension",
         "grant", "client_payment", "cash_deposit", "card_settlement")
(PURCHASE, WITHDRAWAL, TRANSFER_OUT, BILL, SALARY, TRANSFER_IN, REFUND, INTEREST, PENSION, GRANT, CLIENT_PAYMENT,
 CASH_DEPOSIT, CARD_SETTLEMENT) = range(13)
CREDIT_TYPES = (SALARY, TRANSFER_IN, REFUND, INTEREST, PENSION, GRANT, CLIENT_PAYMENT, CASH_DEPOSIT, CARD_SETTLEMENT)
NONE = -1
TRANSACTION_ID_SPACE = 10**8  # transaction numbers per arrival day


class Columns:
    """A dataclass of equally long numpy columns: rows taken or appended column by column."""

    @classmethod
    def empty(cls):
        return cls(*(np.zeros(0, np.int64) for _ in fields(cls)))

    def take(self, index: np.ndarray):
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def add(self, other):
        return type(self)(**{f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                             for f in fields(self)})


@dataclass
class Rows(Columns):
    account: np.ndarray
    channel: np.ndarray  # index into CHANNELS
    kind: np.ndarray  # index into TYPES
    event_ms: np.ndarray
    arrival_ms: np.ndarray
    cents: np.ndarray  # in the region's currency
    original_cents: np.ndarray  # in `currency`
    currency: np.ndarray  # index into World.currencies; NONE: the region's own
    merchant: np.ndarray  # merchant row or NONE
    payee: np.ndarray  # beneficiary row or NONE
    counterparty: np.ndarray  # account row or NONE
    place: np.ndarray  # merchant row, or World.n_merchants + city row
    device: np.ndarray  # device row or NONE
    ip: np.ndarray  # the bank's IP row (World.ip_text) or NONE
    card: np.ndarray  # whether the row carries the account's card
    scenario: np.ndarray  # fraud scenario index or NONE
    episode: np.ndarray  # global episode row or NONE
    label_ms: np.ndarray  # when the bank learns of the fraud, NONE for genuine rows
    aml_case: np.ndarray  # global laundering case number (`core.labels.episode_numbers` of AML_TYPOLOGIES) or NONE
    aml_role: np.ndarray  # the row's account's role in its case (index into `core.labels.AML_ROLES`) or NONE

    def __len__(self) -> int:
        return len(self.account)

    @property
    def credit(self) -> np.ndarray:
        return np.isin(self.kind, CREDIT_TYPES)

    def to_table(self) -> pa.Table:
        """The rows as an Arrow table (what a day carries to the next)."""
        return pa.table({f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def from_table(cls, table: pa.Table) -> "Rows":
        return cls(**{f.name: table[f.name].to_numpy() for f in fields(cls)})


def make(n: int, **columns) -> Rows:
    """Rows with the given columns; the others are NONE (False for `card`; `original_cents` defaults to `cents`)."""
    defaults = {f.name: np.full(n, NONE, np.int64) for f in fields(Rows)}
    defaults["card"] = np.zeros(n, bool)
    defaults["channel"] = np.zeros(n, np.int8)
    defaults["kind"] = np.zeros(n, np.int8)
    defaults.update({name: np.asarray(value) if np.ndim(value) else np.full(n, value)
                     for name, value in columns.items()})
    if "original_cents" not in columns:
        defaults["original_cents"] = defaults["cents"]
    for name in ("channel", "kind", "aml_role"):
        defaults[name] = defaults[name].astype(np.int8)
    defaults["card"] = defaults["card"].astype(bool)
    return Rows(**defaults)


def concat(parts: list[Rows]) -> Rows:
    parts = [p for p in parts if p is not None]
    if not parts:
        return make(0)
    return Rows(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Rows)})
