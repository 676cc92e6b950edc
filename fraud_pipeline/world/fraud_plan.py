"""Fraud planned ahead: how many episodes a day should hold, and the account takeovers of the whole horizon.

Account takeovers are planned for the horizon because a stealthy one saves its mule payee days
before it drains the account, and that payee belongs in `account_beneficiaries` (an entity table).
Pure functions of the scenario and the entity tables.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from fraud_pipeline.core.streams import stream
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.world import calendar
from fraud_pipeline.world.devices import day_number
from fraud_pipeline.world.layout import Layout, kept


def rows_per_episode(scenario: Scenario, name: str) -> float:
    """The mean number of rows an episode of scenario `name` attempts, over its stealth mix."""
    f = scenario.fraud
    bounds = {"card_fraud_chain": f.card_fraud_chain.length, "atm_abroad": f.atm_abroad.withdrawals,
              "high_velocity": f.high_velocity.transactions, "account_takeover": f.account_takeover.transfers}[name]
    stealthy = {"card_fraud_chain": f.card_fraud_chain.stealth_length,
                "account_takeover": f.account_takeover.stealth_transfers}.get(name, bounds)
    share = getattr(f, name).stealth
    return (1 - share) * (bounds.min + bounds.max) / 2 + share * (stealthy.min + stealthy.max) / 2


def mean_episodes(scenario: Scenario, name: str, day: date) -> float:
    """The day's expected episodes of scenario `name`: its rate of the day's expected genuine payments."""
    config = getattr(scenario.fraud, name)
    if not config.enabled:
        return 0.0
    return config.rate * calendar.expected_volume(scenario, day) / rows_per_episode(scenario, name)


_KEPT: dict = {}  # (what, scenario hash) -> value: what every block of a bank asks for the same


def _kept(what: str, scenario: Scenario, make):
    return kept(_KEPT, (what, scenario.content_hash), make, 8)


_MULES: list = []  # per process: [(beneficiaries, scenario hash, mules)], the last table's (held: never another's)


def mules(scenario: Scenario, beneficiaries: pa.Table) -> np.ndarray:
    """(rings, mules.max) beneficiary rows: each ring's mule payees (individuals and crypto wallets). Kept for the
    last beneficiaries table (every block's takeovers pay them). Read-only."""
    if not (_MULES and _MULES[0][0] is beneficiaries and _MULES[0][1] == scenario.content_hash):
        found = _mules(scenario, beneficiaries)
        found.flags.writeable = False
        _MULES[:] = [(beneficiaries, scenario.content_hash, found)]
    return _MULES[0][2]


def _mules(scenario: Scenario, beneficiaries: pa.Table) -> np.ndarray:
    r = scenario.fraud.rings
    rng = stream(scenario.seed, "fraud", "mules")
    kind = beneficiaries["beneficiary_type"].to_numpy(zero_copy_only=False)
    pool = np.flatnonzero(np.isin(kind, ["individual", "crypto"]))
    pool = pool if len(pool) else np.arange(beneficiaries.num_rows)
    return pool[rng.integers(0, len(pool), (r.count, r.mules.max))]


def ato_plan(scenario: Scenario, accounts: pa.Table) -> pd.DataFrame:
    """The bank's account takeovers over the horizon: each block's (`ato_plan_of_block`), one block after another;
    `account`: the bank's account numbers."""
    layout = Layout.of(scenario)
    spans = layout.account_spans()
    return pd.concat([ato_plan_of_block(scenario, b, accounts.slice(first, end - first))
                      for b, (first, end) in enumerate(spans)], ignore_index=True)


def ato_plan_of_block(scenario: Scenario, block: int, accounts: pa.Table) -> pd.DataFrame:
    """Block `block`'s account takeovers over the horizon (`accounts`: the block's), planned ahead because a
    stealthy one saves its mule payee days before: per day a Poisson number of episodes, the bank's expected
    number times the block's share of the customers (as a block's day takes its share of the bank's episodes);
    victims are the block's open salary accounts (likelier the higher the balance). `account`: the bank's number."""
    c = scenario.fraud.account_takeover
    if not c.enabled:
        return pd.DataFrame({name: np.zeros(0, np.int64) for name in ("day", "account", "ring", "mule_slot",
                                                                       "saved_day")}).assign(stealth=np.zeros(0, bool))
    layout = Layout.of(scenario)
    first_customer, end_customer = layout.customer_span(block)
    share = (end_customer - first_customer) / layout.customers
    rng = stream(scenario.seed, "fraud", "ato_plan", block)
    first, last = day_number(scenario.start_date), day_number(scenario.horizon_end)
    days = [scenario.start_date + timedelta(days=i) for i in range(last - first + 1)]
    means = _kept("takeover_means", scenario,
                  lambda: np.array([mean_episodes(scenario, "account_takeover", d) for d in days]))
    salary = accounts["salary_account"].to_numpy(zero_copy_only=False).astype(bool)
    opening = np.maximum(accounts["avg_balance"].to_numpy(), 0)
    weight = salary * np.sqrt(opening + 1.0)
    counts = rng.poisson(means * share) * (weight.sum() > 0)  # a block without a salary account has no victim
    day = np.repeat(np.arange(first, last + 1), counts)
    account = np.minimum(np.searchsorted(np.cumsum(weight) / max(weight.sum(), 1e-300), rng.random(len(day))),
                         len(weight) - 1)
    stealth = rng.random(len(day)) < c.stealth
    r = scenario.fraud.rings
    ring = rng.integers(0, r.count, len(day))
    slot = rng.integers(0, r.mules.min, len(day))  # the ring's first mules are its busiest
    # a stealthy takeover's mule was saved days before; a plain one's is added in the session, on the day
    saved = np.where(stealth, day - rng.integers(c.payee_saved_days.min, c.payee_saved_days.max + 1, len(day)), day)
    return pd.DataFrame({"day": day, "account": layout.account_span(block)[0] + account, "stealth": stealth,
                         "ring": ring, "mule_slot": slot, "saved_day": saved})


def inside_slots(scenario: Scenario, day: date) -> np.ndarray:
    """(`fraud.rings.count`, `fraud.rings.mules.max`) bool: which of the rings' mule slots hold an account of ours in
    `day`'s month (`aml.mule.inside_share` of them, none while `aml.mule` is off; which accounts:
    `fraud.mule_accounts`). From a stream keyed by the seed and the month alone, so the entities know it too."""
    first = date(day.year, day.month, 1)
    r = scenario.fraud.rings
    share = scenario.aml.mule.inside_share if scenario.aml.mule.enabled else 0.0
    g = stream(scenario.seed, "aml", "inside_mules", first.isoformat(), "slots")
    return g.random((r.count, r.mules.max)) < share


def ato_payee_saves(scenario: Scenario, accounts: pa.Table, beneficiaries: pa.Table, block: int | None = None
                    ) -> pa.Table:
    """The mule payees takeovers save (for account_beneficiaries): days before a stealthy one drains the account, in
    the session of a plain one — but for a plain one whose mule holds an account of ours (`inside_slots`: it pays
    that account, not a payee elsewhere). Genuine activity never pays them (World marks them). `accounts`: the
    bank's, or block `block`'s."""
    plan = ato_plan(scenario, accounts) if block is None else ato_plan_of_block(scenario, block, accounts)
    day = plan["day"].to_numpy(np.int64).astype("datetime64[D]")
    month = day.astype("datetime64[M]")
    ours = np.zeros(len(plan), bool)
    for m in np.unique(month):  # a month of the calendar at a time
        here = np.flatnonzero(month == m)
        ours[here] = inside_slots(scenario, m.astype(date))[plan["ring"].to_numpy(np.int64)[here],
                                                            plan["mule_slot"].to_numpy(np.int64)[here]]
    plan = plan[~ours | plan["stealth"].to_numpy(bool)]
    first = 0 if block is None else Layout.of(scenario).account_span(block)[0]
    rings = mules(scenario, beneficiaries)
    return pa.table({"account_id": accounts["account_id"].take(pa.array(plan["account"].to_numpy(np.int64) - first)),
                     "beneficiary_id": beneficiaries["beneficiary_id"].take(pa.array(
                         rings[plan["ring"].to_numpy(np.int64), plan["mule_slot"].to_numpy(np.int64)])),
                     "added_date": plan["saved_day"].to_numpy(np.int64).astype("datetime64[D]")})
