"""Where each customer usually pays: their shops near home, the web shops they return to, and their ATMs.

A pure function of the customers, the merchants and the scenario's streams, so the entity table
`customer_merchants` (what the data shows a customer knew at the start) and the daily generator
agree on every customer's habits without storing more than that table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.core import schemas
from fraud_pipeline.core.streams import stream
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.world.layout import Layout
from fraud_pipeline.world.spatial import SpatialIndex

WORK_RADIUS_DEG = 0.25  # where a customer works or shops, around home (assumption: a commute of ~25 km)


@dataclass(frozen=True)
class Habits:
    """Merchant rows per customer; -1 pads the rows of customers with fewer."""

    local_shops: np.ndarray  # (customers, categories, k): each category's k shops nearest home, nearest first
    web_shops: np.ndarray  # (customers, online_favourites.max)
    atms: np.ndarray  # (customers, atms.max): near home first, then near work or shopping
    web_popularity: np.ndarray  # per merchant row: how many customers' favourite it is likely to be (0: not a web shop)


def merchant_rows(merchants: pa.Table, terminal: str, country: str | None = None, foreign: bool = False) -> np.ndarray:
    """Rows of merchants of a terminal type, at home (`country`) or abroad (`foreign`)."""
    mask = pc.equal(merchants["terminal_type"], terminal)
    if country is not None:
        mask = pc.and_(mask, pc.not_equal(merchants["country"], country) if foreign
                       else pc.equal(merchants["country"], country))
    return np.flatnonzero(mask.to_numpy(zero_copy_only=False))


def category_rows(merchants: pa.Table, rows: np.ndarray, categories: list[str]) -> list[np.ndarray]:
    """`rows` split by merchant category, in the scenario's category order."""
    category = merchants["category"].take(pa.array(rows)).to_numpy(zero_copy_only=False)
    return [rows[category == name] for name in categories]


def habits(scenario: Scenario, customers: pa.Table, merchants: pa.Table) -> Habits:
    """The bank's customers' habits: each block's (`block_habits`) one after another."""
    layout = Layout.of(scenario)
    spans = layout.customer_spans()
    found = [block_habits(scenario, b, customers.slice(first, end - first), merchants)
             for b, (first, end) in enumerate(spans)]
    return Habits(*(np.concatenate([getattr(h, name) for h in found]) for name in ("local_shops", "web_shops", "atms")),
                  found[0].web_popularity)


@dataclass(frozen=True)
class _Terminals:
    """What every block's habits look up among the merchants: the shops of each category and the ATMs with their
    spatial indexes, the web shops and how popular each is (the bank's stream)."""

    shops: list[np.ndarray]
    shop_index: list[SpatialIndex]
    web: np.ndarray
    popularity: np.ndarray
    atm_rows: np.ndarray
    atm_index: SpatialIndex


_TERMINALS: list = []  # [(merchants, scenario hash, _Terminals)]: the last table's, kept while blocks are generated


def _terminals(scenario: Scenario, merchants: pa.Table) -> _Terminals:
    """The merchants' `_Terminals`, worked out once for a merchants table (each block of a bank reads the same)."""
    if _TERMINALS and _TERMINALS[0][0] is merchants and _TERMINALS[0][1] == scenario.content_hash:
        return _TERMINALS[0][2]
    country = scenario.geography.country_code
    lat, lon = merchants["lat"].to_numpy(), merchants["lon"].to_numpy()
    shops = category_rows(merchants, merchant_rows(merchants, "pos", country), list(scenario.merchants.categories))
    web = np.concatenate([merchant_rows(merchants, "ecommerce", country),
                          merchant_rows(merchants, "ecommerce", country, foreign=True)])
    atm_rows = merchant_rows(merchants, "atm", country)
    found = _Terminals(shops, [SpatialIndex(lat[rows], lon[rows]) for rows in shops], web,
                       stream(scenario.seed, "habits", "web_popularity").pareto(1.5, len(web)) + 1, atm_rows,
                       SpatialIndex(lat[atm_rows], lon[atm_rows]))
    _TERMINALS[:] = [(merchants, scenario.content_hash, found)]
    return found


def block_habits(scenario: Scenario, block: int, customers: pa.Table, merchants: pa.Table) -> Habits:
    """Block `block`'s customers' (`customers`) usual shops, web shops and ATMs, from the block's streams; how
    popular each web shop is belongs to the merchants (the bank's streams)."""
    h, seed = scenario.card_transactions.habits, scenario.seed
    rng = lambda purpose: stream(seed, "habits", purpose, block)  # noqa: E731
    n = customers.num_rows
    home_lat, home_lon = customers["home_lat"].to_numpy(), customers["home_lon"].to_numpy()
    terminals = _terminals(scenario, merchants)

    local = np.full((n, len(terminals.shops), h.local_merchants), -1, np.int64)
    for c, (rows, index) in enumerate(zip(terminals.shops, terminals.shop_index)):
        k = min(h.local_merchants, len(rows))
        local[:, c, :k] = rows[index.nearest(home_lat, home_lon, k=k)]

    web, popularity = terminals.web, terminals.popularity  # a few web shops are where most people buy
    count = rng("web_count").integers(h.online_favourites.min, h.online_favourites.max + 1, n)
    picks = np.searchsorted(np.cumsum(popularity) / popularity.sum(), rng("web_pick").random((n, h.online_favourites.max)))
    web_shops = np.where(np.arange(h.online_favourites.max)[None, :] < count[:, None],
                         web[np.minimum(picks, len(web) - 1)], -1)

    atm_rows, index = terminals.atm_rows, terminals.atm_index
    wanted = rng("atm_count").integers(h.atms.min, h.atms.max + 1, n)
    atms = np.full((n, h.atms.max), -1, np.int64)
    atms[:, 0] = atm_rows[index.nearest(home_lat, home_lon, k=1)[:, 0]]
    for slot in range(1, h.atms.max):  # near work or a shopping centre: around home, within a commute
        offset = rng(f"atm_place_{slot}").uniform(-WORK_RADIUS_DEG, WORK_RADIUS_DEG, (n, 2))
        nearest = atm_rows[index.nearest(home_lat + offset[:, 0], home_lon + offset[:, 1], k=h.atms.max)]
        # the nearest ATM there that is not already one of the customer's (two places can share their nearest)
        fresh = ~(nearest[:, :, None] == atms[:, None, :slot]).any(axis=2)
        first = np.argmax(fresh, axis=1)
        chosen = np.where(fresh.any(axis=1), nearest[np.arange(n), first], -1)
        atms[:, slot] = np.where(slot < wanted, chosen, -1)
    web_popularity = np.zeros(merchants.num_rows)
    web_popularity[web] = popularity
    return Habits(local, web_shops, atms, web_popularity)


def customer_merchants(scenario: Scenario, customers: pa.Table, merchants: pa.Table) -> pa.Table:
    """The bank's customers' usual merchants: each block's (`customer_merchants_of_block`) one after another."""
    layout = Layout.of(scenario)
    spans = layout.customer_spans()
    return pa.concat_tables([customer_merchants_of_block(scenario, b, customers.slice(first, end - first), merchants)
                             for b, (first, end) in enumerate(spans)])


def customer_merchants_of_block(scenario: Scenario, block: int, customers: pa.Table, merchants: pa.Table) -> pa.Table:
    """Each of block `block`'s customers' usual shops, web shops and ATMs at the start: what the bank's history
    shows they had paid."""
    found = block_habits(scenario, block, customers, merchants)
    n = customers.num_rows
    # A shop can be usual for two reasons (a web shop drawn twice, the nearest shops of a category fewer than
    # asked): list it once, where it first appears. Repeats lie within a customer's row of one role and category
    # (the roles' terminal types and the categories' shops are disjoint), so each row is checked on its own.
    parts = [(_first_in_row(found.local_shops).reshape(n, -1), "shop"), (_first_in_row(found.web_shops), "web_shop"),
             (_first_in_row(found.atms), "atm")]
    merchant = np.concatenate([rows.ravel().astype(np.int32) for rows, _ in parts])  # rows: dozens per customer
    keep = merchant >= 0
    customer = np.concatenate([np.repeat(np.arange(n, dtype=np.int32), rows.shape[1]) for rows, _ in parts])[keep]
    role = np.concatenate([np.full(rows.size, i, np.int8) for i, (rows, _) in enumerate(parts)])[keep]
    return schemas.CUSTOMER_MERCHANTS.build({
        "customer_id": customers["customer_id"].take(pa.array(customer)),
        "merchant_id": merchants["merchant_id"].take(pa.array(merchant[keep])),
        "role": pa.array([name for _, name in parts]).take(pa.array(role)),
    })


def _first_in_row(rows: np.ndarray) -> np.ndarray:
    """`rows` (…, k merchant rows, -1 for none) with a merchant that repeats an earlier one of its row set to -1."""
    k = rows.shape[-1]
    repeated = np.zeros(rows.shape, bool)
    for slot in range(1, k):
        repeated[..., slot] = (rows[..., slot:slot + 1] == rows[..., :slot]).any(axis=-1)
    return np.where(repeated, -1, rows)
