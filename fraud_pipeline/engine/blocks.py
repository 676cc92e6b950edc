"""Customers in fixed blocks: a block's world is the bank's world over the block's customers, their accounts and
cards, re-indexed from 0, with the bank kept as its directory for what spans blocks (another customer's account as
a payee, a household member's phone). The day of a block is the same code as the day of a bank; its draws are keyed
by the block, so a block's rows do not depend on which other blocks run, where, or in what order.

Values the bank calibrates over its whole population once (each account's channel weights, the online split, the
cash tilt, the monthly budget) are the bank's, sliced: a block behaves as its customers do in the bank.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pyarrow as pa

from fraud_pipeline.core.columns import spans
from fraud_pipeline.money import budget
from fraud_pipeline.money.activity import channel_weights
from fraud_pipeline.world.build import Trips, World
from fraud_pipeline.world.habits import Habits


PER_CUSTOMER = ("customer_id", "age", "age_group", "income", "turnover", "affluence", "schedule", "occupation", "pep",
                "home_country", "family_abroad", "remittance_share", "home_lat", "home_lon", "home_city",
                "home_province", "category_weights", "basket", "avg_spend", "home_ip")
PER_ACCOUNT = ("account_id", "status", "opened_day", "closed_day", "salary", "credit", "savings", "business", "limit",
               "opening", "activity", "buffer", "sweep_payee", "card_bin")
PER_CARD = ("card_number", "card_issue_day", "card_expiry_month")
PER_PAYEE = ("payee", "payee_added", "payee_first_paid", "payee_is_business")
# What a block's world has of its own (`block_fields`, but the caches and the bank): every other field is the bank's.
OWN_FIELDS = (*PER_CUSTOMER, *PER_ACCOUNT, *PER_CARD, *PER_PAYEE, "habits", "salary_of", "account_customer",
              "card_account", "payee_offsets", "bills", "ato_plan", "trips", "known_at_start", "block_key",
              "global_customers", "global_accounts", "global_cards", "devices", "ip_rows", "ip_address")


def block_world(world: World, block: int) -> World:
    """The world of block `block` (customers block × size … (block + 1) × size − 1 of the bank). Its cost follows
    the block, not the bank: what is grouped by block is looked up in the bank's `_BlockIndex` (made once).

    Raises ValueError for a block outside the bank."""
    return replace(world, **block_fields(world, block))


def block_fields(world: World, block: int) -> dict:
    """What the world of block `block` has of its own (every other field is the bank's): its customers', accounts',
    cards' and payees' rows, its habits, trips, debit orders and takeovers, its keys, caches and maps to the bank's
    rows, and `bank`. See `block_world`."""
    size = world.scenario.population.block_customers
    if not 0 <= block < world.n_blocks:
        raise ValueError(f"block {block} is outside the bank's {world.n_blocks} blocks")
    first, end = block * size, min((block + 1) * size, world.n_customers)
    index = _block_index(world)
    accounts = index.accounts[index.account_offsets[block]:index.account_offsets[block + 1]]  # ascending
    cards = index.cards[index.card_offsets[block]:index.card_offsets[block + 1]]

    def local(account: np.ndarray) -> np.ndarray:
        """The block's row of each of the bank's accounts (-1: another block's, or none)."""
        if len(accounts) == 0:
            return np.full(len(account), -1)
        at = np.minimum(np.searchsorted(accounts, account), len(accounts) - 1)
        return np.where((account >= 0) & (accounts[at] == account), at, -1)

    offsets = world.payee_offsets
    counts = np.diff(offsets)[accounts]
    payee_rows = spans(offsets[accounts], counts)
    # an account's keys are consecutive in the bank's sorted keys, and the block's accounts ascend: so do its keys
    known = world.known_at_start[spans(*_key_spans(world, accounts))]
    bills = world.bills.iloc[index.bills[index.bill_offsets[block]:index.bill_offsets[block + 1]]].reset_index(
        drop=True)
    bills["account"] = local(bills["account"].to_numpy())
    ato = world.ato_plan[local(world.ato_plan["account"].to_numpy()) >= 0].reset_index(drop=True)
    ato["account"] = local(ato["account"].to_numpy())
    t = world.trips
    on_block = slice(*np.searchsorted(t.customer, [first, end]))  # trips are sorted by customer

    def take(values, rows):
        return values.take(pa.array(rows)) if isinstance(values, (pa.Array, pa.ChunkedArray)) else values[rows]

    sliced = {name: _customers(getattr(world, name), first, end) for name in PER_CUSTOMER}
    sliced |= {name: take(getattr(world, name), accounts) for name in PER_ACCOUNT}
    sliced |= {name: take(getattr(world, name), cards) for name in PER_CARD}
    sliced |= {name: getattr(world, name)[payee_rows] for name in PER_PAYEE}
    found = dict(
        **sliced,
        habits=Habits(local_shops=world.habits.local_shops[first:end], web_shops=world.habits.web_shops[first:end],
                      atms=world.habits.atms[first:end], web_popularity=world.habits.web_popularity),
        salary_of=local(world.salary_of[first:end]),
        account_customer=world.account_customer[accounts] - first,
        card_account=local(world.card_account[cards]),
        payee_offsets=np.concatenate([[0], np.cumsum(counts)]),
        bills=bills, ato_plan=ato,
        trips=Trips(customer=t.customer[on_block] - first, first_day=t.first_day[on_block],
                    last_day=t.last_day[on_block], abroad=t.abroad[on_block], destination=t.destination[on_block]),
        known_at_start=local(known // world.key_space) * world.key_space + known % world.key_space,
        caches={}, block_key=(block,), global_customers=np.arange(first, end), global_accounts=accounts,
        global_cards=cards, bank=world)
    found["devices"] = world.devices.of_customers(first, end)
    found["ip_rows"] = _ip_rows(world, first, end)
    found["ip_address"] = world.ip_address.take(pa.array(found["ip_rows"]))
    found["caches"][("channel_weights",)] = {channel: w[accounts] for channel, w in channel_weights(world).items()}
    whole = budget.of(world)
    found["caches"][("budget",)] = budget.Budget(**{
        f.name: _customers(getattr(whole, f.name), first, end) if f.name in budget.PER_CUSTOMER
        else getattr(whole, f.name)[accounts] for f in fields(whole)})
    return found


def _ip_rows(world: World, first: int, end: int) -> np.ndarray:
    """The bank's IP rows customers `first` … `end` − 1 can use, ascending: their home addresses (a household's is
    one member's, of the same block: `world.devices`), the addresses of the shared and public computers they use
    (each used by one block's customers), and the pools every block draws from (mobile carriers, VPN exits, abroad,
    the rings')."""
    plan = world.devices
    computer = np.concatenate([plan.shared_computer[first:end], plan.public_computer[first:end]])
    computer = np.searchsorted(plan.computer_rows, computer[computer >= 0])
    return np.unique(np.concatenate([world.home_ip[first:end], world.computer_ip[computer], world.mobile_ips,
                                     world.vpn_ips, *world.foreign_ips, world.ring_ips.ravel()]))


def _customers(values, first: int, end: int):
    """Rows first … end − 1 of a per-customer column: a view, not a copy (a process keeps its blocks' worlds), and
    read-only, so a write meant for the block cannot change the bank."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.slice(first, end - first)
    view = values[first:end]
    view.flags.writeable = False
    return view


@dataclass(frozen=True)
class _BlockIndex:
    """The bank's accounts, cards and debit orders grouped by block (each group ascending), with each block's
    offsets into them: made once per bank, so a block's world costs its own size."""

    accounts: np.ndarray
    account_offsets: np.ndarray
    cards: np.ndarray
    card_offsets: np.ndarray
    bills: np.ndarray
    bill_offsets: np.ndarray


def _block_index(world: World) -> _BlockIndex:
    key = ("block_index",)
    if key not in world.caches:
        account_block = world.account_customer // world.scenario.population.block_customers

        def grouped(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """Rows grouped by block; group `n_blocks` (rows of no account) comes last and belongs to no block."""
            return (np.argsort(block, kind="stable"),
                    np.concatenate([[0], np.cumsum(np.bincount(block, minlength=world.n_blocks + 1))]))

        card = world.card_account
        world.caches[key] = _BlockIndex(
            *grouped(account_block),
            *grouped(np.where(card >= 0, account_block[np.maximum(card, 0)], world.n_blocks)),
            *grouped(account_block[world.bills["account"].to_numpy()]))
    return world.caches[key]


def _key_spans(world: World, accounts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each account's keys start in the bank's sorted `known_at_start`, and how many it has."""
    bounds = np.searchsorted(world.known_at_start, np.stack([accounts, accounts + 1]) * world.key_space)
    return bounds[0], bounds[1] - bounds[0]
