"""Customers in fixed blocks: a block's world is the bank's world over the block's customers, their accounts and
cards, re-indexed from 0, with the bank kept as its directory for what spans blocks (another customer's account as
a payee, a household member's phone). The day of a block is the same code as the day of a bank; its draws are keyed
by the block, so a block's rows do not depend on which other blocks run, where, or in what order.

Values the bank calibrates over its whole population once (each account's channel weights, the online split, the
cash tilt, the monthly budget) are the bank's, sliced: a block behaves as its customers do in the bank.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pyarrow as pa

from fraud_pipeline.money import budget
from fraud_pipeline.money.activity import channel_weights
from fraud_pipeline.world.build import Trips, World
from fraud_pipeline.world.habits import Habits


def block_world(world: World, block: int) -> World:
    """The world of block `block` (customers block × size … (block + 1) × size − 1 of the bank).

    Raises ValueError for a block outside the bank."""
    size = world.scenario.population.block_customers
    if not 0 <= block < world.n_blocks:
        raise ValueError(f"block {block} is outside the bank's {world.n_blocks} blocks")
    first, end = block * size, min((block + 1) * size, world.n_customers)
    customers = np.arange(first, end)
    accounts = np.flatnonzero((world.account_customer >= first) & (world.account_customer < end))
    local_account = np.full(world.n_accounts + 1, -1)  # the extra last entry maps -1 to -1
    local_account[accounts] = np.arange(len(accounts))
    cards = np.flatnonzero(local_account[world.card_account] >= 0)

    offsets = world.payee_offsets
    counts = np.diff(offsets)[accounts]
    payee_rows = np.repeat(offsets[accounts] - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts) + np.arange(
        counts.sum())
    key_account = world.known_at_start // world.key_space
    mine = local_account[key_account] >= 0
    bills = world.bills[local_account[world.bills["account"].to_numpy()] >= 0].reset_index(drop=True)
    bills["account"] = local_account[bills["account"].to_numpy()]
    ato = world.ato_plan[local_account[world.ato_plan["account"].to_numpy()] >= 0].reset_index(drop=True)
    ato["account"] = local_account[ato["account"].to_numpy()]
    t = world.trips
    on_block = (t.customer >= first) & (t.customer < end)

    def take(values, rows):
        return values.take(pa.array(rows)) if isinstance(values, (pa.Array, pa.ChunkedArray)) else values[rows]

    per_customer = ("customer_id", "age", "age_group", "income", "affluence", "schedule", "home_lat", "home_lon",
                    "home_city", "home_province", "category_weights", "basket", "avg_spend", "home_ip")
    per_account = ("account_id", "status", "closed_day", "salary", "credit", "limit", "opening", "activity", "buffer",
                   "sweep_payee", "card_bin")
    per_card = ("card_number", "card_issue_day", "card_expiry_month")
    per_payee = ("payee", "payee_added", "payee_first_paid", "payee_is_business")
    sliced = {name: take(getattr(world, name), customers) for name in per_customer}
    sliced |= {name: take(getattr(world, name), accounts) for name in per_account}
    sliced |= {name: take(getattr(world, name), cards) for name in per_card}
    sliced |= {name: getattr(world, name)[payee_rows] for name in per_payee}
    block = replace(
        world, **sliced,
        habits=Habits(local_shops=world.habits.local_shops[first:end], web_shops=world.habits.web_shops[first:end],
                      atms=world.habits.atms[first:end], web_popularity=world.habits.web_popularity),
        salary_of=local_account[world.salary_of[first:end]],
        account_customer=world.account_customer[accounts] - first,
        card_account=local_account[world.card_account[cards]],
        payee_offsets=np.concatenate([[0], np.cumsum(counts)]),
        bills=bills, ato_plan=ato,
        trips=Trips(customer=t.customer[on_block] - first, first_day=t.first_day[on_block],
                    last_day=t.last_day[on_block], abroad=t.abroad[on_block], destination=t.destination[on_block]),
        known_at_start=local_account[key_account[mine]] * world.key_space + world.known_at_start[mine] % world.key_space,
        caches={}, block_key=(block,), global_customers=customers, global_accounts=accounts, global_cards=cards,
        bank=world)
    block.caches[("channel_weights",)] = {channel: w[accounts] for channel, w in channel_weights(world).items()}
    whole = budget.of(world)
    block.caches[("budget",)] = budget.Budget(**{
        f.name: getattr(whole, f.name)[customers if f.name in budget.PER_CUSTOMER else accounts] for f in fields(whole)})
    return block
