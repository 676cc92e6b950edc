"""Fraud hidden in genuine life: four scenarios, every row labelled with its scenario and episode.

Each day a scenario starts a Poisson number of episodes with mean rate × the day's expected genuine
volume ÷ its mean rows per episode, so rates hold at any volume and a small bank still sees every
enabled scenario in expectation. Fraud rows go through the same paths as genuine rows of their
channel — the same web shops, ATMs, devices' and addresses' pools, price model, time profiles — and
through the same ledger: they are authorised against the victim's balance and card (a card the bank
has blocked declines them). What a scenario is defined by overlaps genuine life: genuine travellers
withdraw abroad, genuine customers shop at night, change phones and pay new payees. A `stealth`
share of episodes imitates its victim (their hours, amounts, country or device).

Shared infrastructure: points of compromise (skimmed terminals and breached web shops) steal the
card data of a share of the cards used there, and fraud on those cards starts days later; fraud
rings reuse their devices, IP addresses and mule payees across victims.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa

from fraud_pipeline.core import schemas
from fraud_pipeline.core.columns import in_pools, nullable, positions, sorted_unique
from fraud_pipeline.core.labels import ABROAD, CHAIN, SCENARIOS, TAKEOVER, VELOCITY, episode_ids, episode_numbers
from fraud_pipeline.core.rows import ATM, NONE, ONLINE, POS, TRANSFER, TRANSFER_OUT, WITHDRAWAL, Rows, concat, make
from fraud_pipeline.core.streams import stream
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR, arrival_lag_ms, day_start_ms, times_in_hours
from fraud_pipeline.fraud.mule_accounts import inside_mules
from fraud_pipeline.life.genuine import (digital, draw, in_local_currency, purchase_rows, session_city, shops_near,
                                         web_shop, weights)
from fraud_pipeline.money import budget
from fraud_pipeline.money.activity import bank_totals
from fraud_pipeline.money.budget import CASH_SIGMA
from fraud_pipeline.money.ledger import card_catalogue, card_in_use, post
from fraud_pipeline.money.state import Blocks, Pool, State
from fraud_pipeline.world import spending
from fraud_pipeline.world.devices import day_number
from fraud_pipeline.world.fraud_plan import mean_episodes

EARTH_RADIUS_KM = 6371.0
ATO_LEAST = 10_000  # cents: a takeover transfer is at least R100 (typed like any transfer)
POOL_DAYS = 60  # stolen card data not used within this long is abandoned
RESALE_AFFLUENCE = 6.0  # a fraudster buys what resells: the category mix of a very affluent customer
SKIMMED, BREACHED = 0, 1
ABROAD_GAP_MINUTES = (8, 60)
SKIMMED_PREFERENCE = 1000.0  # a skimmed card withdrawing today is far likelier than anyone to be cashed out abroad


def km_between(lat1, lon1, lat2, lon2) -> np.ndarray:
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, float)) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


@dataclass
class Attempted:
    rows: Rows
    records: pd.DataFrame  # one row per episode: what `episode_table` publishes
    blocks: Blocks
    used_pool: np.ndarray  # rows of the state's pool used today
    takeover_share: np.ndarray  # per row: a takeover transfer's share of the account's available balance (else 0)
    takeover_typing: np.ndarray  # per row: the draw that picks how a takeover transfer's amount is typed

    def resized(self, dropped: np.ndarray, sized: pd.DataFrame) -> "Attempted":
        """The attempt with rows `dropped` and takeover episodes re-recorded from `sized` (episode, available,
        total, transfers): an episode left without rows is gone, with its block; one whose last transfers were
        dropped ends, and is reported, that much earlier."""
        keep = np.ones(len(self.rows), bool)
        keep[dropped] = False
        rows = self.rows.take(np.flatnonzero(keep))
        records = self.records.copy()
        at = records.set_index("episode").index.get_indexer(sized["episode"])
        delay = records["known"].to_numpy() - records["end"].to_numpy()
        last = pd.Series(rows.event_ms).groupby(rows.episode).max()
        end = last.reindex(records["episode"]).to_numpy()
        gone = np.isnan(end)
        records["end"] = np.where(gone, records["end"], end).astype(np.int64)
        records["known"] = records["end"].to_numpy() + delay
        records.loc[records.index[at], "total"] = sized["total"].to_numpy()
        records.loc[records.index[at], "transactions"] = sized["transfers"].to_numpy()
        records["parameters"] = [dict(p) for p in records["parameters"]]
        for i, available, total, transfers in zip(at, sized["available"], sized["total"], sized["transfers"]):
            records.at[records.index[i], "parameters"] = {
                **records.at[records.index[i], "parameters"], "transfers": int(transfers),
                "available": round(float(available), 2), "drain_share": round(float(total / max(available, 0.01)), 4)}
        known = pd.Series(records["known"].to_numpy(), index=records["episode"].to_numpy())
        rows.label_ms = np.where(rows.scenario >= 0, known.reindex(rows.episode).fillna(-1).to_numpy(np.int64), -1)
        kept = records.loc[~gone].reset_index(drop=True)
        blocks = self.blocks.take(np.flatnonzero(np.isin(self.blocks.episode, kept["episode"])))
        blocks.block_ms = known.reindex(blocks.episode).to_numpy(np.int64)
        return Attempted(rows=rows, records=kept, blocks=blocks, used_pool=self.used_pool,
                         takeover_share=self.takeover_share[keep], takeover_typing=self.takeover_typing[keep])


@dataclass
class Episodes:
    """One scenario's episodes of the day, before they become rows."""

    scenario: int
    account: np.ndarray
    stealth: np.ndarray
    ring: np.ndarray
    pool: np.ndarray  # row of the state's pool the card data came from, -1 for none
    rows: Rows
    parameters: list[dict]
    drain_share: np.ndarray | None = None  # takeovers, per row: its share of the account's available balance
    typing: np.ndarray | None = None  # takeovers, per row: how its amount is typed


def episode_share(world) -> float:
    """The world's share of the bank's episodes: its share of the bank's card activity (1 for the bank). Each block
    draws its own Poisson count, and Poisson counts add up: the bank's is the same model whatever the blocks."""
    if world.bank is None:
        return 1.0
    key = ("episode_share",)
    if key not in world.caches:
        whole = bank_totals(world).activity
        world.caches[key] = float(world.activity.sum() / max(whole, 1e-12))
    return world.caches[key]


def rings(world) -> dict:
    """The rings' devices, addresses and mule payees (fixed by the seed). `devices`: (copies, rings, devices.max)
    device rows, one copy unless the bank has more blocks than the rings have devices (`DevicePlan.ring_replicas`).
    Worked out once for the bank (kept in its caches): every input is the bank's."""
    key, world = ("rings",), world.directory
    if key not in world.caches:
        r = world.scenario.fraud.rings
        rng = stream(world.scenario.seed, "fraud", "rings")
        devices = world.devices.ring_devices.reshape(world.devices.ring_replicas, r.count, r.devices.max)
        count = {name: rng.integers(getattr(r, name).min, getattr(r, name).max + 1, r.count)
                 for name in ("devices", "ips", "mules")}
        individuals = np.flatnonzero(np.isin(world.beneficiary_type, ["individual", "crypto"]))
        pool = individuals if len(individuals) else np.arange(len(world.beneficiary_id))
        mules = pool[rng.integers(0, len(pool), (r.count, r.mules.max))]
        world.caches[key] = {"devices": devices, "ips": world.ring_ips, "mules": mules, "count": count}
    return world.caches[key]


def rings_on(world, day: date) -> np.ndarray:
    """The rings this world's block works with on `day`, as (copy, ring) rows of `rings(world)["devices"]`. A ring
    works one block's stolen cards a day, from all its devices: the day's keyed shuffle of the rings (the same in
    every block, read from nothing but the seed and the day) deals them out to the blocks in turn, so each block
    holds the same number of them (give or take one; at least one: `DevicePlan.ring_replicas`) and no ring device
    opens web sessions for two blocks on one day — a block's day never sees another's, so two blocks on one device
    at one shop would be two sessions of one visit. Over the days every ring works every block."""
    copies, count = rings(world)["devices"].shape[:2]
    order = stream(world.scenario.seed, "fraud", "ring_days", day.isoformat()).permutation(copies * count)
    held = order[np.arange(len(order)) % world.n_blocks == world.block_number]
    return np.stack([held // count, held % count], axis=1)


def _ring_device_and_ip(world, rng: np.random.Generator, ring: np.ndarray, vpn_share: float = 0.5,
                        copy: np.ndarray | None = None):
    """A device and IP address of ring `ring`, per row: one of the ring's devices (of copy `copy`, or of any)."""
    found = rings(world)
    n = len(ring)
    copies = found["devices"].shape[0]
    per_ring = found["count"]["devices"][ring]
    slot = (rng.random(n) * per_ring * (1 if copy is not None else copies)).astype(np.int64)
    device = found["devices"][slot // per_ring if copy is None else copy, ring, slot % per_ring]
    own_ip = found["ips"][ring, (rng.random(n) * found["count"]["ips"][ring]).astype(np.int64)]
    vpn = world.vpn_ips[rng.integers(0, len(world.vpn_ips), n)]
    return device, np.where(rng.random(n) < vpn_share, vpn, own_ip)


def _held_rings(world, rng: np.random.Generator, day: date, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A ring for each of `n` episodes, uniformly among those the block works with today: (copy, ring)."""
    held = rings_on(world, day)
    pick = held[rng.integers(0, len(held), n)]
    return pick[:, 0], pick[:, 1]


def _end_before_midnight(begin: np.ndarray, count: np.ndarray, gap: np.ndarray, start_ms: int, lag_max_s: float,
                         where: np.ndarray) -> np.ndarray:
    """Episode starts moved earlier where `where` so the episode's last row (after the gaps between its `count`
    rows) arrives before midnight: the ring may work for another block the next day."""
    if len(count) == 0:
        return begin
    first = np.cumsum(count) - count
    span = np.add.reduceat(np.where(positions(count) > 0, gap, 0), first)
    latest = start_ms + MS_PER_DAY - 1 - span - int(lag_max_s * 1000)
    return np.where(where, np.minimum(begin, latest), begin)


def _victims(world, state: State, rng: np.random.Generator, weight: np.ndarray, n: int, start_ms: int) -> np.ndarray:
    """`n` accounts weighted by `weight`, whose card works at the day's start (issued, not blocked, the account
    open)."""
    card = card_in_use(world, state, np.arange(world.n_accounts), np.full(world.n_accounts, start_ms))
    _, _, expiry, blocked = card_catalogue(world, state)
    today = start_ms // MS_PER_DAY
    usable = (card >= 0) & (blocked[card] > start_ms) & (expiry[card] > start_ms) & (world.opened_day <= today) & (
        world.closed_day > today)
    return draw(rng, weight * usable, n)


def _times(rng: np.random.Generator, start: np.ndarray, count: np.ndarray, gap_ms: np.ndarray) -> tuple:
    """Rows of episodes of `count` attempts, `gap_ms` (per row) apart after each episode's `start`."""
    episode = np.repeat(np.arange(len(count)), count)
    first = (np.cumsum(count) - count).astype(np.int64)
    gap = np.where(np.arange(len(episode)) == np.repeat(first, count), 0, gap_ms)
    elapsed = np.cumsum(gap) - np.repeat(np.cumsum(gap)[first] - gap[first], count)
    return episode, start[episode] + elapsed


def _web_rows(world, rng, day, account, event, category, scale, abroad_share, device, ip,
              popular: np.ndarray | None = None, own_shop_share: float = 0.0) -> Rows:
    """Card-not-present purchases at web shops, built like genuine online rows: any web shop of the category, or
    where `popular`, a web shop drawn by popularity (the big shops many customers already use) — and, for
    `own_shop_share` of them, one of the victim's own web shops, through their shop account taken over."""
    customer = world.account_customer[account]
    abroad = rng.random(len(account)) < abroad_share
    merchant = web_shop(world, rng, category, abroad)
    if popular is not None and popular.any():
        merchant[popular] = _popular_web_shop(world, rng, abroad[popular])
    favourites = world.habits.web_shops[customer]
    count = (favourites >= 0).sum(axis=1)
    own = (rng.random(len(account)) < own_shop_share) & (count > 0)
    pick = np.minimum((rng.random(len(account)) * count).astype(np.int64), favourites.shape[1] - 1)
    merchant = np.where(own, favourites[np.arange(len(account)), pick], merchant)
    return purchase_rows(world, lambda purpose: rng, day, ONLINE, account, customer, world.merchant_category[merchant],
                          merchant, event, device, ip, scale=scale)


def _popular_web_shop(world, rng: np.random.Generator, abroad: np.ndarray) -> np.ndarray:
    """A web shop per row, at home or abroad, drawn by popularity (as customers pick their favourites)."""
    merchant = np.empty(len(abroad), np.int64)
    home = ~world.merchant_abroad()
    for foreign in (False, True):
        rows = np.flatnonzero(abroad == foreign)
        weight = world.habits.web_popularity * (home != foreign)
        if not weight.any():
            weight = world.habits.web_popularity
        cumulative = np.cumsum(weight) / weight.sum()
        merchant[rows] = np.minimum(np.searchsorted(cumulative, rng.random(len(rows))), len(weight) - 1)
    return merchant


def _burner_device_and_ip(world, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A fresh device (rarely seen twice) on a mobile network, per episode: what a careful fraudster uses. A
    block's own share of the burners: no two blocks' sessions share one."""
    burners = world.devices.block_burners(world.block_number)
    return (burners[rng.integers(0, len(burners), n)],
            world.mobile_ips[rng.integers(0, len(world.mobile_ips), n)])


def _chains(world, state: State, day: date, rng: np.random.Generator, start_ms: int) -> Episodes:
    """Card-not-present purchases (and some cloned-card purchases at shops) with stolen card data: breached web
    shops' cards first, then card data from elsewhere. A ring's burst of resellable goods from its devices — or,
    stealthily, a few purchases hours apart at popular web shops in the victim's categories and amounts, from a
    fresh device."""
    s = world.scenario
    c = s.fraud.card_fraud_chain
    n = rng.poisson(mean_episodes(s, "card_fraud_chain", day) * episode_share(world))
    ready = np.flatnonzero((state.pool.kind == BREACHED) & (state.pool.onset_ms < start_ms + MS_PER_DAY))
    from_pool = ready[:n]
    account = np.concatenate([state.pool.account[from_pool],
                              _victims(world, state, rng, weights(world, day)[ONLINE] + 1e-9, n - len(from_pool),
                                       start_ms)])
    n = len(account)
    stealth = rng.random(n) < c.stealth
    length = np.where(stealth, rng.integers(c.stealth_length.min, c.stealth_length.max + 1, n),
                      rng.integers(c.length.min, c.length.max + 1, n))
    begin = times_in_hours(rng, n, 0, s.card_transactions.hourly["online"], start_ms)
    gap = np.where(np.repeat(stealth, length), rng.uniform(c.stealth_gap_minutes.min, c.stealth_gap_minutes.max,
                                                            length.sum()) * 60_000,
                   rng.uniform(c.gap_seconds.min, c.gap_seconds.max, length.sum()) * 1000).astype(np.int64)
    begin = _end_before_midnight(begin, length, gap, start_ms, s.card_transactions.arrival_lag_seconds.max, ~stealth)
    episode, event = _times(rng, begin, length, gap)
    customer = world.account_customer[account]
    resale = spending.category_weights(s, np.array([RESALE_AFFLUENCE]))[0]
    mix = np.where(stealth[episode, None], world.category_weights[customer[episode]], resale[None, :])
    category = (np.cumsum(mix, axis=1) < rng.random(len(episode))[:, None]).sum(axis=1).clip(0, mix.shape[1] - 1)
    scale = np.where(stealth[episode], world.basket[customer[episode]], 1.0)
    copy, ring = _held_rings(world, rng, day, n)
    ring = np.where(stealth, -1, ring)
    online = rng.random(len(episode)) < c.online_share
    ring_device, ring_ip = _ring_device_and_ip(world, rng, np.maximum(ring, 0)[episode], copy=copy[episode])
    burner, burner_ip = _burner_device_and_ip(world, rng, n)
    stealthy = stealth[episode]
    device = np.where(stealthy, burner[episode], ring_device)
    ip = np.where(stealthy, burner_ip[episode], ring_ip)
    # stealthy: popular web shops, abroad as often as customers shop abroad
    abroad_share = np.where(stealthy, s.card_transactions.habits.foreign_online_share, c.foreign_share)
    web = _web_rows(world, rng, day, account[episode], event, category, scale, abroad_share, device, ip,
                    popular=stealthy, own_shop_share=c.shop_account_share)
    # cloned cards at shops: around another province's hub — or, stealthily, near the victim's home
    hubs = np.array([(p.hub.lat, p.hub.lon) for p in s.geography.provinces])
    home = np.stack([world.home_lat[customer[episode]], world.home_lon[customer[episode]]], axis=1)
    where = np.where(stealthy[:, None], home, hubs[rng.integers(0, len(hubs), n)][episode]) + rng.uniform(
        -0.3, 0.3, (len(episode), 2))
    shop = shops_near(world, rng, category, where[:, 0], where[:, 1], 12)
    cloned = purchase_rows(world, lambda purpose: rng, day, POS, account[episode], customer[episode], category, shop,
                            event, scale=scale)
    rows = concat([web.take(np.flatnonzero(online)), cloned.take(np.flatnonzero(~online))])
    order = np.argsort(np.concatenate([np.flatnonzero(online), np.flatnonzero(~online)]), kind="stable")
    rows = rows.take(order)
    pool = np.concatenate([from_pool, np.full(n - len(from_pool), -1)])
    parameters = [{"length": int(k), "stealth": bool(x)} for k, x in zip(length, stealth)]
    return Episodes(CHAIN, account, stealth, ring, pool, _label(rows, episode), parameters)


def _label(rows: Rows, episode: np.ndarray) -> Rows:
    rows.episode = episode.astype(np.int64)  # local episode index until numbered
    return rows


def _abroad(world, state: State, day: date, rng: np.random.Generator, start_ms: int,
            genuine: Rows) -> Episodes:
    """Counterfeit cards (skimmed at home) cashed out at ATMs abroad, in local notes: hours after a withdrawal at
    home and far away (impossible travel) — or, stealthily, in the country the victim is visiting."""
    s = world.scenario
    c = s.fraud.atm_abroad
    n = rng.poisson(mean_episodes(s, "atm_abroad", day) * episode_share(world))
    today = day_number(day)
    trip = world.trips.on(today, world.n_customers)
    stealthy = rng.random(n) < c.stealth
    travellers = np.flatnonzero((trip[world.account_customer] >= 0))
    travellers = travellers[world.trips.abroad[trip[world.account_customer[travellers]]]
                            & (weights(world, day)[ATM][travellers] > 0)]  # accounts in use (not dormant)
    ages = world.age[world.account_customer]
    susceptibility = np.zeros(world.n_accounts)
    for band in c.age_susceptibility:
        susceptibility[(ages >= band.min_age) & (ages <= band.max_age)] = band.weight
    # non-stealth episodes start from a genuine withdrawal at home today: by a card skimmed at a point of compromise
    # when one is withdrawing today, else by a susceptible victim
    home = np.flatnonzero((genuine.kind == WITHDRAWAL) & (genuine.currency < 0) & (genuine.scenario < 0))
    skimmed = _from_pool(state, genuine.account[home], SKIMMED, start_ms) >= 0
    anchor_weight = (susceptibility[genuine.account[home]] + SKIMMED_PREFERENCE * skimmed) * (
        weights(world, day)[ATM][genuine.account[home]] > 0)
    anchors = home[_pick(rng, anchor_weight, int((~stealthy).sum()))]
    stealth_accounts = travellers[_pick(rng, np.ones(len(travellers)), int(stealthy.sum()))] if len(travellers) else \
        np.zeros(0, np.int64)
    account = np.concatenate([genuine.account[anchors], stealth_accounts])
    stealth = np.concatenate([np.zeros(len(anchors), bool), np.ones(len(stealth_accounts), bool)])
    n = len(account)
    count = rng.integers(c.withdrawals.min, c.withdrawals.max + 1, n)
    anchor_ms = np.concatenate([genuine.event_ms[anchors], np.zeros(len(stealth_accounts), np.int64)])
    begin = np.where(stealth, times_in_hours(rng, n, 0, s.card_transactions.hourly["atm"], start_ms),
                     anchor_ms + (rng.uniform(c.delay_hours.min, c.delay_hours.max, n) * MS_PER_HOUR).astype(np.int64))
    destinations = s.geography.destinations
    anchor_place = np.concatenate([genuine.place[anchors], np.zeros(len(stealth_accounts), np.int64)])
    last_place = np.where(stealth, anchor_place, _last_home_place(genuine, home, account, begin, start_ms))
    far = nearest_atm_km(world, last_place) >= c.min_distance_km
    travel = np.array([d.weight for d in destinations])
    chosen = np.array([_pick(rng, travel * f, 1)[0] if f.any() else -1 for f in far], np.int64) if n else \
        np.zeros(0, np.int64)
    on_trip = trip[world.account_customer[account]]
    visiting = np.where(on_trip >= 0, world.trips.destination[np.maximum(on_trip, 0)] if len(world.trips.destination)
                        else -1, -1)
    where = np.where(stealth, visiting, chosen)
    ok = where >= 0
    account, stealth, count, begin, where, anchor_ms = (x[ok] for x in (account, stealth, count, begin, where, anchor_ms))
    n = len(account)
    gap = (rng.uniform(*ABROAD_GAP_MINUTES, count.sum()) * 60_000).astype(np.int64)
    episode, event = _times(rng, begin, count, gap)
    atm = in_pools(world.foreign_atms, where[episode], rng.random(len(episode))).astype(np.int64)
    atm_config = s.card_transactions.atm
    usual = budget.of(world).cash_median[account[episode]] / 100 * rng.lognormal(0, CASH_SIGMA, len(episode))
    most = atm_config.max_amount * rng.uniform(0.6, 1.0, len(episode))
    cents = np.round(np.where(stealth[episode], np.minimum(usual, atm_config.max_amount), most) * 100).astype(np.int64)
    currency = world.merchant_currency[atm]
    original, cents = in_local_currency(world, rng, day, cents, currency, np.full(len(atm), -1), note=True)
    rows = make(len(episode), account=account[episode], channel=ATM, kind=WITHDRAWAL, event_ms=event, cents=cents,
                original_cents=original, currency=currency, merchant=atm, place=atm, card=True)
    pool_rows = _from_pool(state, account, SKIMMED, start_ms)
    parameters = [{"withdrawals": int(k), "stealth": bool(x), "destination": destinations[w].city.name,
                   "anchor_hours_before": None if x else round((b - a) / MS_PER_HOUR, 3)}
                  for k, x, w, b, a in zip(count, stealth, where, begin, anchor_ms)]
    return Episodes(ABROAD, account, stealth, rng.integers(0, s.fraud.rings.count, n), pool_rows,
                    _label(rows, episode), parameters)


def _last_home_place(genuine: Rows, home: np.ndarray, account: np.ndarray, before_ms: np.ndarray,
                     start_ms: int) -> np.ndarray:
    """Per episode: the place of its account's last withdrawal at home (rows `home` of `genuine`) before `before_ms`
    (the anchor, or a later one: an account may withdraw again before the cash-out, and the distance is kept from
    where the card was last seen); -1 where there is none. Times within a month of `start_ms`."""
    if not len(home):
        return np.full(len(account), -1, np.int64)
    rows = home[np.lexsort((genuine.event_ms[home], genuine.account[home]))]
    span, middle = np.int64(1) << 33, np.int64(1) << 32  # 99 days of ms per account: keys of (account, time)
    keys = genuine.account[rows] * span + (genuine.event_ms[rows] - start_ms + middle)
    at = np.searchsorted(keys, account * span + (before_ms - start_ms + middle)) - 1  # the last one before
    last = rows[np.maximum(at, 0)]
    return np.where((at >= 0) & (genuine.account[last] == account), genuine.place[last], -1)


def nearest_atm_km(world, place: np.ndarray) -> np.ndarray:
    """(len(place), destinations): km from each place to the destination's nearest ATM (0 where it has none). Every
    ATM a cash-out may use, not the city's centre: the ATMs lie around it (a 200,000-customer bank once cashed out
    at a Maseru ATM 497 km from the withdrawal at home, its city centre 500 km away)."""
    lat, lon = world.merchant_lat[place][:, None], world.merchant_lon[place][:, None]
    nearest = [km_between(lat, lon, world.merchant_lat[atms][None, :], world.merchant_lon[atms][None, :]).min(axis=1)
               if len(atms) else np.zeros(len(place)) for atms in world.foreign_atms]
    return np.stack(nearest, axis=1) if nearest else np.zeros((len(place), 0))


def _pick(rng: np.random.Generator, weight: np.ndarray, n: int) -> np.ndarray:
    """`n` distinct positions drawn by weight (fewer if fewer have weight)."""
    candidates = np.flatnonzero(weight > 0)
    n = min(n, len(candidates))
    if n == 0:
        return np.zeros(0, np.int64)
    p = weight[candidates] / weight[candidates].sum()
    return np.sort(rng.choice(candidates, n, replace=False, p=p))


def _from_pool(state: State, account: np.ndarray, kind: int, start_ms: int) -> np.ndarray:
    """For each victim, an entry of the pool of stolen card data of `kind` ready today for its account, else -1."""
    ready = np.flatnonzero((state.pool.kind == kind) & (state.pool.onset_ms < start_ms + MS_PER_DAY))
    found = np.full(len(account), -1)
    if len(ready):
        first = pd.Series(ready).groupby(state.pool.account[ready]).first()
        found = first.reindex(account).fillna(-1).to_numpy().astype(np.int64)
    return found


def _velocity(world, state: State, day: date, rng: np.random.Generator, start_ms: int) -> Episodes:
    """A burst of card-not-present payments from a ring's device: at night and far above habit — or, stealthily,
    by day at popular web shops within the victim's usual amounts, from a fresh device (the pace gives it away)."""
    s = world.scenario
    c = s.fraud.high_velocity
    n = rng.poisson(mean_episodes(s, "high_velocity", day) * episode_share(world))
    account = _victims(world, state, rng, weights(world, day)[ONLINE] + 1e-9, n, start_ms)
    n = len(account)
    stealth = rng.random(n) < c.stealth
    count = rng.integers(c.transactions.min, c.transactions.max + 1, n)
    first, last = c.hours
    night = start_ms + rng.integers(first * MS_PER_HOUR, (last + 1) * MS_PER_HOUR, n)
    begin = np.where(stealth, times_in_hours(rng, n, 0, s.card_transactions.hourly["online"], start_ms), night)
    gap = (rng.uniform(c.gap_seconds.min, c.gap_seconds.max, count.sum()) * 1000).astype(np.int64)
    begin = _end_before_midnight(begin, count, gap, start_ms, s.card_transactions.arrival_lag_seconds.max, ~stealth)
    episode, event = _times(rng, begin, count, gap)
    customer = world.account_customer[account[episode]]
    multiplier = rng.uniform(c.spend_multiplier.min, c.spend_multiplier.max, len(episode))
    category = (np.cumsum(world.category_weights[customer], axis=1) < rng.random(len(episode))[:, None]).sum(
        axis=1).clip(0, len(s.merchants.categories) - 1)
    copy, ring = _held_rings(world, rng, day, n)
    ring = np.where(stealth, -1, ring)
    ring_device, ring_ip = _ring_device_and_ip(world, rng, np.maximum(ring, 0)[episode], copy=copy[episode])
    burner, burner_ip = _burner_device_and_ip(world, rng, n)
    stealthy = stealth[episode]
    device = np.where(stealthy, burner[episode], ring_device)
    ip = np.where(stealthy, burner_ip[episode], ring_ip)
    scale = np.where(stealthy, world.basket[customer] * rng.uniform(1.0, 2.0, len(episode)), 1.0)
    abroad_share = np.where(stealthy, s.card_transactions.habits.foreign_online_share, 0.5)
    rows = _web_rows(world, rng, day, account[episode], event, category, scale, abroad_share, device, ip,
                     popular=stealthy, own_shop_share=c.shop_account_share)
    big = ~stealth[episode]
    avg = world.avg_spend[customer]
    rows.cents = np.where(big, np.round(avg * multiplier * 100).astype(np.int64), rows.cents)
    rows.original_cents = np.where(big & (rows.currency < 0), rows.cents, rows.original_cents)
    foreign = big & (rows.currency >= 0)
    if foreign.any():
        rows.original_cents[foreign], rows.cents[foreign] = in_local_currency(
            world, rng, day, rows.cents[foreign], rows.currency[foreign], world.merchant_category[rows.merchant[foreign]])
    parameters = [{"transactions": int(k), "stealth": bool(x)} for k, x in zip(count, stealth)]
    return Episodes(VELOCITY, account, stealth, ring, np.full(n, -1), _label(rows, episode), parameters)


def _takeovers(world, state: State, day: date, rng: np.random.Generator, start_ms: int) -> Episodes:
    """Sessions that drain an account to a ring's mule: from an unknown device (often a tampered one) to a payee
    added in the session — or, stealthily, from the victim's own phone (social engineering, an authorised push
    payment) to a mule saved days before. The amounts are set once the day's other rows are known
    (`size_takeovers`): a drain takes its share of what the account holds at the session's first transfer, and a
    session ends before midnight, so the whole drain is decided on one day's balances."""
    s = world.scenario
    c = s.fraud.account_takeover
    plan = world.ato_plan
    today = plan[plan["day"] == day_number(day)]
    account = today["account"].to_numpy(np.int64)
    stealth = today["stealth"].to_numpy(bool)
    ring = today["ring"].to_numpy(np.int64)
    n = len(account)
    count = np.where(stealth, rng.integers(c.stealth_transfers.min, c.stealth_transfers.max + 1, n),
                     rng.integers(c.transfers.min, c.transfers.max + 1, n))
    begin = times_in_hours(rng, n, 0, s.card_transactions.hourly["transfer"], start_ms)
    slow = np.repeat(stealth, count)
    gap = np.where(slow, rng.uniform(c.stealth_gap_minutes.min, c.stealth_gap_minutes.max, count.sum()) * 60_000,
                   rng.uniform(c.gap_seconds.min, c.gap_seconds.max, count.sum()) * 1000).astype(np.int64)
    first = np.cumsum(count) - count
    span = np.add.reduceat(np.where(positions(count) > 0, gap, 0), first) if n else np.zeros(0, np.int64)
    latest = start_ms + MS_PER_DAY - 1 - span - int(s.card_transactions.arrival_lag_seconds.max * 1000)
    episode, event = _times(rng, np.minimum(begin, latest), count, gap)
    drain = rng.uniform(c.drain_share.min, c.drain_share.max, n)
    split = rng.dirichlet(np.ones(max(c.transfers.max, c.stealth_transfers.max)), n)[episode, positions(count)]
    split /= np.bincount(episode, weights=split, minlength=n)[episode]
    customer = world.account_customer[account]
    trip = world.trips.on(day_number(day), world.n_customers)
    own_device, own_ip = digital(world, rng, day, customer, trip)
    ring_device, ring_ip = _ring_device_and_ip(world, rng, ring, vpn_share=0.3)
    risky = world.device_risky[ring_device]
    device = np.where(stealth, own_device, ring_device)
    ip = np.where(stealth, own_ip, ring_ip)
    slot = today["mule_slot"].to_numpy(np.int64)
    # a plain takeover's mule, added in the session, may hold an account of ours (`fraud.mule_accounts`): the drain is
    # a transfer to it, which it launders once the money settles (`aml.mules`); another of ours for a victim who holds
    # it. A stealthy one's was saved days before, as a payee elsewhere
    bank = world.directory
    first, other = inside_mules(world, day)[:, ring, slot]
    victim = bank.account_customer[world.bank_accounts(account)]
    ours = np.where(bank.account_customer[np.maximum(first, 0)] == victim, other, first)
    ours = np.where(stealth | (bank.account_customer[np.maximum(ours, 0)] == victim), NONE, ours)
    mule = np.where(ours >= 0, NONE, world.mules[ring, slot])
    place = len(world.merchant_id) + np.where(stealth, session_city(world, customer, trip),
                                              rng.integers(0, len(world.city_lat), n))
    rows = make(len(episode), account=account[episode], channel=TRANSFER, kind=TRANSFER_OUT, event_ms=event,
                cents=0, payee=mule[episode], counterparty=ours[episode], place=place[episode],
                device=device[episode], ip=ip[episode], card=True)
    parameters = [{"transfers": int(k), "stealth": bool(x), "risky_device": bool(r and not x)}
                  for k, x, r in zip(count, stealth, risky)]
    found = Episodes(TAKEOVER, account, stealth, ring, np.full(n, -1), _label(rows, episode), parameters)
    found.drain_share = drain[episode] * split  # per row: its share of what the account holds at the first transfer
    found.typing = rng.random(len(episode))
    return found


def size_takeovers(world, state: State, day: date, others: Rows, attempted: "Attempted") -> "Attempted":
    """The takeovers' transfers sized on what each account holds at the session's first transfer: its available
    balance (balance plus overdraft or credit limit) after every other row that reaches the account before it —
    the day's genuine life, scheduled payments and other fraud, posted as the ledger posts them. The drain is its
    share of that, up to the bank's daily limit on transfers from the app (`daily_limit`). Each transfer is its
    share of the drain, typed like any transfer (at least R100) and never more than the account holds; a
    session finds fewer transfers' worth when the account holds little, and nothing to take below R100. The
    episode records what the rows do: `available`, `drain_share` (requested ÷ available) and `transfers`."""
    rows = attempted.rows
    takeover = np.flatnonzero(rows.scenario == TAKEOVER)
    if len(takeover) == 0:
        return attempted
    ato = rows.take(takeover)
    accounts = sorted_unique(ato.account)
    today = others.arrival_ms < day_start_ms(day) + MS_PER_DAY
    mine = others.take(np.flatnonzero(np.isin(others.account, accounts) & today))
    # the takeover rows at 0 cents (all of them arrive today): they move nothing, and show the balance before them
    posted = post(world, state, concat([mine, ato]), day)
    is_ato = posted.order >= len(mine)
    at = np.full(len(ato), -1, np.int64)
    at[posted.order[is_ato] - len(mine)] = np.flatnonzero(is_ato)
    episode = ato.episode
    number, local = np.unique(episode, return_inverse=True)
    first_at = np.full(len(number), np.iinfo(np.int64).max)
    np.minimum.at(first_at, local, at)  # the session's first transfer in arrival order
    available = np.maximum(posted.balance_after[first_at] + world.limit[posted.rows.account[first_at]], 0)
    share = attempted.takeover_share[takeover]
    wanted = np.bincount(local, weights=share, minlength=len(number)) * available  # the drain ...
    limit = world.scenario.fraud.account_takeover.daily_limit * 100
    target = share * available[local] * np.minimum(1.0, limit / np.maximum(wanted, 1e-9))[local]  # ... within the limit
    # as many transfers of at least R100 as the drain holds, in the session's order
    position = np.empty(len(ato), np.int64)
    position[np.lexsort((ato.event_ms, local))] = positions(np.bincount(local, minlength=len(number)))
    drained = np.bincount(local, weights=target, minlength=len(number))
    allowed = np.floor(drained / ATO_LEAST).astype(np.int64)
    keep = position < allowed[local]
    target = np.where(keep, target, 0.0)
    scale = drained / np.maximum(np.bincount(local, weights=target, minlength=len(number)), 1e-9)
    target = target * scale[local]  # the dropped transfers' share goes to the kept ones
    cents = spending.typed_from(attempted.takeover_typing[takeover], target, least=ATO_LEAST)
    over = np.bincount(local, weights=cents, minlength=len(number)) > available
    cents = np.where(over[local], np.maximum(np.floor(target / 1000) * 1000, 1000), cents).astype(np.int64)
    cents = np.where(keep, cents, 0)
    rows.cents[takeover] = cents
    rows.original_cents[takeover] = cents
    dropped = takeover[~keep]
    total = np.bincount(local, weights=cents, minlength=len(number))
    sized = pd.DataFrame({"episode": number, "available": available / 100, "total": total / 100,
                          "transfers": np.bincount(local, weights=keep, minlength=len(number)).astype(np.int32)})
    return attempted.resized(dropped, sized)


def _at(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[index], -1 where index is -1."""
    found = np.full(len(index), -1, np.int64)
    found[index >= 0] = values[index[index >= 0]]
    return found


def fraud_day(world, state: State, day: date, genuine: Rows) -> Attempted:
    """The day's fraud: each enabled scenario's episodes as rows (labelled, with when the bank will learn of them),
    their records, and the cards to block then."""
    s = world.scenario
    start = day_start_ms(day)
    makers = {CHAIN: lambda rng: _chains(world, state, day, rng, start),
              ABROAD: lambda rng: _abroad(world, state, day, rng, start, genuine),
              VELOCITY: lambda rng: _velocity(world, state, day, rng, start),
              TAKEOVER: lambda rng: _takeovers(world, state, day, rng, start)}
    parts, records, blocks, used, shares, typing = [], [], [], [], [], []
    lag = s.card_transactions.arrival_lag_seconds
    for scenario, name in enumerate(SCENARIOS):
        if not getattr(s.fraud, name).enabled:
            continue
        rng = stream(s.seed, "fraud", name, day.isoformat(), *world.block_key)
        found = makers[scenario](rng)
        n = len(found.account)
        if n == 0:
            continue
        rows, local = found.rows, found.rows.episode
        number = episode_numbers(day_number(day), scenario, world.block_number, n)
        end = np.full(n, np.iinfo(np.int64).min)
        np.maximum.at(end, local, rows.event_ms)
        begin = np.full(n, np.iinfo(np.int64).max)
        np.minimum.at(begin, local, rows.event_ms)
        delay = getattr(s.fraud, name).label_delay_days
        known = end + (rng.uniform(delay.min, delay.max, n) * MS_PER_DAY).astype(np.int64)
        rows.scenario = np.full(len(rows), scenario, np.int64)
        rows.episode = number[local]
        rows.label_ms = known[local]
        rows.arrival_ms = rows.event_ms + arrival_lag_ms(rng, len(rows), lag.median, lag.sigma, lag.max)
        card = card_in_use(world, state, found.account, begin)
        pooled = found.pool >= 0
        records.append(pd.DataFrame({
            "episode": number, "scenario": name, "card": card, "account": found.account, "begin": begin, "end": end,
            "transactions": np.bincount(local, minlength=n).astype(np.int32),
            "total": np.bincount(local, weights=rows.cents, minlength=n) / 100, "known": known,
            "stealth": found.stealth, "ring": found.ring,
            "compromise": _at(state.pool.merchant, found.pool),
            "captured": _at(state.pool.captured_ms, found.pool),
            "parameters": found.parameters}))
        if scenario != TAKEOVER:  # a takeover is stopped by resetting the customer's app credentials, not their card
            blocks.append(Blocks(account=found.account, card=card, block_ms=known, episode=number))
        used.append(found.pool[pooled])
        parts.append(rows)
        shares.append(found.drain_share if found.drain_share is not None else np.zeros(len(rows)))
        typing.append(found.typing if found.typing is not None else np.zeros(len(rows)))
    columns = ("episode", "scenario", "card", "account", "begin", "end", "transactions", "total", "known", "stealth",
               "ring", "compromise", "captured", "parameters")
    return Attempted(rows=concat(parts),
                     records=pd.concat(records, ignore_index=True) if records else pd.DataFrame(columns=columns),
                     blocks=Blocks(*(np.concatenate([getattr(b, f) for b in blocks]) if blocks else np.zeros(0, np.int64)
                                     for f in ("account", "card", "block_ms", "episode"))),
                     used_pool=np.concatenate(used) if used else np.zeros(0, np.int64),
                     takeover_share=np.concatenate(shares) if shares else np.zeros(0),
                     takeover_typing=np.concatenate(typing) if typing else np.zeros(0))


def episode_table(world, numbers: pa.Array, e: pd.DataFrame) -> pa.Table:
    """The episodes as the `fraud_episodes` table; `numbers`: the card number of every card reference."""
    if e.empty:
        return schemas.FRAUD_EPISODES.arrow_schema.empty_table()
    e = e.sort_values(["begin", "episode"], kind="stable")
    account = e["account"].to_numpy(np.int64)
    compromise = e["compromise"].to_numpy(np.int64)
    captured = e["captured"].to_numpy(np.int64)
    ring = e["ring"].to_numpy(np.int64)
    return schemas.FRAUD_EPISODES.build({
        "episode_id": episode_ids(e["episode"].to_numpy(np.int64)),
        "scenario": e["scenario"].to_numpy(object),
        "card_number": numbers.take(pa.array(e["card"].to_numpy(np.int64))),
        "account_id": world.account_id.take(pa.array(account)),
        "customer_id": world.customer_id.take(pa.array(world.account_customer[account])),
        "start_time": pa.array(e["begin"].to_numpy(np.int64), pa.timestamp("ms")),
        "end_time": pa.array(e["end"].to_numpy(np.int64), pa.timestamp("ms")),
        "transactions": e["transactions"].to_numpy(np.int32),
        "total_amount": np.round(e["total"].to_numpy(float), 2),
        "label_available_at": pa.array(e["known"].to_numpy(np.int64), pa.timestamp("ms")),
        "stealth": e["stealth"].to_numpy(bool),
        "compromise_merchant_id": world.merchant_id.take(nullable(compromise)),
        "compromised_at": pa.array(captured, pa.timestamp("ms"), mask=captured < 0),
        "ring_id": pa.array([f"RING-{r:03d}" if r >= 0 else None for r in ring], pa.string()),
        "parameters": [json.dumps(p, sort_keys=True) for p in e["parameters"]],
    })


def compromise_points(world, day: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points of compromise active on `day`: merchant rows, the window each steals in (ms), planned per week."""
    s = world.scenario
    c = s.fraud.compromise
    monday = day - timedelta(days=day.weekday())
    merchants, begin, end = [], [], []
    for week in (monday - timedelta(days=7 * k) for k in range(0, (c.window_days.max + 6) // 7 + 1)):
        key = ("compromise", week)
        if key not in world.caches:
            rng = stream(s.seed, "fraud", "compromise", week.isoformat())
            n = rng.poisson(c.points_per_week)
            kind = rng.choice(3, n, p=[0.4, 0.3, 0.3])
            pools = [np.concatenate(world.shops), world.atms, np.concatenate(world.web_shops)]
            merchant = np.array([pools[k][rng.integers(0, len(pools[k]))] for k in kind], np.int64)
            first = day_start_ms(week) + rng.integers(0, 7 * MS_PER_DAY, n)
            length = rng.integers(c.window_days.min, c.window_days.max + 1, n) * MS_PER_DAY
            world.caches[key] = (merchant, first, first + length)
        m, b, e = world.caches[key]
        merchants.append(m), begin.append(b), end.append(e)
    return np.concatenate(merchants), np.concatenate(begin), np.concatenate(end)


def captures(world, state: State, rows: Rows, approved: np.ndarray, card: np.ndarray, day: date) -> Pool:
    """Cards whose data a point of compromise steals today: a share of the approved genuine payments made there
    within its window. Their fraud starts after the scenario's onset days."""
    s = world.scenario
    merchant, begin, end = compromise_points(world, day)
    hit = np.flatnonzero(approved & (rows.scenario < 0) & np.isin(rows.merchant, merchant) & (card >= 0))
    if len(hit) == 0 or len(merchant) == 0:
        return Pool.empty()
    rng = stream(s.seed, "fraud", "captures", day.isoformat(), *world.block_key)
    point = np.searchsorted(np.sort(merchant), rows.merchant[hit])
    order = np.argsort(merchant)
    which = order[np.minimum(point, len(merchant) - 1)]
    inside = (rows.event_ms[hit] >= begin[which]) & (rows.event_ms[hit] < end[which])
    taken = inside & (rng.random(len(hit)) < s.fraud.compromise.capture_share)
    hit, which = hit[taken], which[taken]
    web = rows.channel[hit] == ONLINE
    kind = np.where(web, BREACHED, SKIMMED)
    onset_chain, onset_abroad = s.fraud.card_fraud_chain.onset_days, s.fraud.atm_abroad.onset_days
    days = np.where(web, rng.integers(onset_chain.min, onset_chain.max + 1, len(hit)),
                    rng.integers(onset_abroad.min, onset_abroad.max + 1, len(hit)))
    return Pool(account=rows.account[hit], card=card[hit], merchant=rows.merchant[hit], captured_ms=rows.event_ms[hit],
                onset_ms=rows.event_ms[hit] + days * MS_PER_DAY, kind=kind)


def remaining_pool(pool: Pool, new: Pool, attempted: Attempted, day: date) -> Pool:
    """The stolen card data still waiting after the day: not used today, not abandoned."""
    keep = np.ones(len(pool.account), bool)
    keep[attempted.used_pool] = False
    keep &= pool.captured_ms > day_start_ms(day) - POOL_DAYS * MS_PER_DAY
    return pool.take(np.flatnonzero(keep)).add(new)
