"""Who pays through which channel: each account's share of the day's point-of-sale, online, transfer and ATM rows
before the day's noise, paydays and trips.

A customer's activity (purchases a month, from their budget) is shared by their accounts. Online and
point-of-sale purchases split it: younger and more affluent customers buy a larger share online
(`online_by_age`, `online_by_affluence`), but not more in all — the split preserves each customer's
purchase count, so the online tilt moves purchases between channels, never beyond the budget. ATM use
tilts the same way (`atm_by_age`, `atm_by_affluence`) and carries its cash with it (`budget`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fraud_pipeline.core.rows import ATM, ONLINE, POS, TRANSFER
from fraud_pipeline.world.layout import Layout, blockwise_sum

BISECTION_STEPS = 60


def channel_weights(world) -> dict[int, np.ndarray]:
    """Per channel: each account's relative weight (unnormalised; the day's draws normalise it)."""
    key = ("channel_weights",)
    if key in world.caches:
        return world.caches[key]
    c = world.scenario.card_transactions
    customer = world.account_customer
    base = world.activity
    pos, online = c.channels.get("pos", 0.0), c.channels.get("online", 0.0)
    share = online / (pos + online) if pos + online > 0 else 0.0
    tilt = online_tilt(world)[customer]
    online_share = np.empty(len(base))
    ends = Layout.of(world.scenario).account_ends() if world.bank is None else np.array([len(base)])
    for first, end in zip(np.r_[0, ends[:-1]], ends):  # each block calibrated on its own accounts
        online_share[first:end] = _split(base[first:end], tilt[first:end], share)
    found = {POS: base * (1 - online_share), ONLINE: base * online_share, TRANSFER: base,
             ATM: base * atm_tilt(world)[customer]}
    world.caches[key] = found
    return found


def online_tilt(world) -> np.ndarray:
    """Per customer: how much likelier than others they are to buy online (age and affluence)."""
    c = world.scenario.card_transactions
    return np.asarray(c.online_by_age)[world.age_group] * world.affluence ** c.online_by_affluence


def atm_tilt(world) -> np.ndarray:
    """Per customer: how much more than others they use ATMs (age and affluence)."""
    c = world.scenario.card_transactions
    return np.asarray(c.atm_by_age)[world.age_group] * world.affluence ** c.atm_by_affluence


def cash_tilt(world) -> np.ndarray:
    """Per customer: the ATM tilt over its income-weighted mean, so the population's cash stays
    `money.cash_share_of_income` of its income while older and poorer customers take more of theirs in cash."""
    tilt = atm_tilt(world)
    totals = bank_totals(world)
    mean = totals.tilted_income / max(totals.income, 1e-12)
    return tilt / mean if mean > 0 else np.ones(len(tilt))


@dataclass(frozen=True)
class Totals:
    """The bank's totals a block's calibrations are shares of (each `layout.blockwise_sum`: the blocks' sums added
    in block order, so a driver that holds one `block_totals` per block adds up the same floats).

    `channels`: the accounts' channel weights (`channel_weights`), by channel number; `activity`: the accounts' card
    activity (the fraud episodes' shares); `tilted_income`, `income`: the customers' ATM tilt × income and income
    (the cash tilt's mean)."""

    channels: tuple[float, float, float, float]
    activity: float
    tilted_income: float
    income: float

    def plus(self, other: "Totals") -> "Totals":
        """These totals with another block's added (the driver's sum, in block order)."""
        return Totals(tuple(a + b for a, b in zip(self.channels, other.channels)), self.activity + other.activity,
                      self.tilted_income + other.tilted_income, self.income + other.income)


NO_TOTALS = Totals((0.0, 0.0, 0.0, 0.0), 0.0, 0.0, 0.0)


def block_totals(world) -> Totals:
    """A block's world's own sums (float: one numpy sum each), the partials `Totals.plus` adds up in block order."""
    weights = channel_weights(world)
    return Totals(tuple(float(np.sum(weights[c])) for c in (POS, ONLINE, TRANSFER, ATM)),
                  float(np.sum(world.activity)), float(np.sum(atm_tilt(world) * world.income)),
                  float(np.sum(world.income)))


def bank_totals(world) -> Totals:
    """The bank's `Totals`: those its stored directory carries, else added up over the bank's blocks (kept in the
    bank's caches)."""
    bank = world.directory
    if bank.totals is not None:
        return bank.totals
    key = ("bank_totals",)
    if key not in bank.caches:
        layout = Layout.of(bank.scenario)
        accounts, customers = layout.account_ends(), layout.customer_ends()
        weights = channel_weights(bank)
        bank.caches[key] = Totals(tuple(blockwise_sum(weights[c], accounts) for c in (POS, ONLINE, TRANSFER, ATM)),
                                  blockwise_sum(bank.activity, accounts),
                                  blockwise_sum(atm_tilt(bank) * bank.income, customers),
                                  blockwise_sum(bank.income, customers))
    return bank.caches[key]


def _split(base: np.ndarray, tilt: np.ndarray, share: float) -> np.ndarray:
    """Per account, the share of its purchases made online: `g × tilt` capped at 1, with g such that the
    base-weighted mean is `share` (bisection: the capped mean grows with g)."""
    if share <= 0 or base.sum() <= 0:
        return np.full(len(base), share)
    if share >= 1:
        return np.ones(len(base))
    tilt = np.maximum(tilt, 1e-12)
    low, high = 0.0, 1.0 / tilt.min()
    for _ in range(BISECTION_STEPS):
        g = (low + high) / 2
        if (base * np.minimum(g * tilt, 1.0)).sum() < share * base.sum():
            low = g
        else:
            high = g
    return np.minimum((low + high) / 2 * tilt, 1.0)
