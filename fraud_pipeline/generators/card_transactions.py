"""Normal card life, one day at a time: purchases, online purchases, transfers and ATM withdrawal runs.

Every draw comes from a stream keyed by (seed, purpose, day), so a day generated alone equals
the same day generated inside a range. A partition holds the rows that *arrive* on its day:
purchases and transfers end early enough to arrive the same day; ATM runs span days, so a day's
withdrawals are found by replaying the run starts of the preceding weeks from their own streams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline import schemas
from fraud_pipeline.generators.amounts import BucketDistribution
from fraud_pipeline.generators.columns import ids
from fraud_pipeline.generators.spatial import SpatialIndex
from fraud_pipeline.generators.streams import stream
from fraud_pipeline.generators.timeline import (MS_PER_DAY, MS_PER_HOUR, arrival_lag_ms, batch_of, day_start_ms,
                                                times_in_hours)
from fraud_pipeline.scenario import Scenario

TABLE = "card_transactions"
ID_SPACE = 10**8  # transaction numbers per day
MERCHANT_COLUMNS = ("merchant_id", "category", "mcc")


@dataclass(frozen=True)
class CardWorld:
    """The entity columns card transactions draw on, aligned as arrays, built once per run."""

    card_number: pa.Array
    card_account: np.ndarray  # account row of each card
    card_customer: np.ndarray  # customer row of each card
    card_activity_cdf: np.ndarray  # cards are not equally busy
    payer_activity_cdf: np.ndarray | None  # the same over cards whose account has saved beneficiaries; None: none has
    account_id: pa.Array
    trusted_device: pa.Array  # per account row
    customer_id: pa.Array
    home_lat: np.ndarray
    home_lon: np.ndarray
    spend_factor: np.ndarray  # avg_spend over the population's expected avg_spend
    merchants: pa.Table
    category_shares: np.ndarray  # seed 003's purchase shares, in the order of `shops`
    shops: list[np.ndarray]  # per category: its point-of-sale merchant rows
    shop_index: list[SpatialIndex]  # per category: a spatial index over those shops
    local_shops: list[np.ndarray]  # per category: (customers, k) shop positions nearest home
    home_atm: np.ndarray  # merchant row of each customer's nearest ATM
    price_low: np.ndarray  # per category: the price range (reference units)
    price_high: np.ndarray
    place_lat: np.ndarray  # places: the merchants' terminals, then the customers' homes
    place_lon: np.ndarray
    place_city: pa.Array
    place_province: pa.Array
    beneficiary_offsets: np.ndarray  # account row -> slice of beneficiary_ids (saved beneficiaries)
    beneficiary_ids: pa.Array
    # Replayed ATM run-days, kept while a range run still needs them (values are pure: caching changes nothing).
    atm_cache: dict = field(default_factory=dict, compare=False, repr=False)


def row_of(values: pa.ChunkedArray | pa.Array, keys: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Row of each value in `keys`, -1 where absent."""
    return pc.fill_null(pc.index_in(values, value_set=keys), -1).to_numpy().astype(np.int64)


def card_world(scenario: Scenario, customers: pa.Table, accounts: pa.Table, cards: pa.Table,
               merchants: pa.Table, account_beneficiaries: pa.Table) -> CardWorld:
    config = scenario.card_transactions
    tiers = scenario.customers.spend_tiers.values()
    expected_spend = sum(t.share * (t.min + t.max) / 2 for t in tiers)

    lat, lon = merchants["lat"].to_numpy(), merchants["lon"].to_numpy()
    home_lat, home_lon = customers["home_lat"].to_numpy(), customers["home_lon"].to_numpy()
    atms = np.flatnonzero(pc.equal(merchants["terminal_type"], "atm").to_numpy(zero_copy_only=False))
    categories = scenario.merchants.categories
    category_of = merchants["category"].to_numpy(zero_copy_only=False)
    shops = [np.flatnonzero(category_of == name) for name in categories]
    shop_index = [SpatialIndex(lat[rows], lon[rows]) for rows in shops]

    link_account = row_of(account_beneficiaries["account_id"], accounts["account_id"])
    order = np.argsort(link_account, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(link_account, minlength=accounts.num_rows))])

    activity = stream(scenario.seed, TABLE, "card_activity").gamma(2.0, 0.5, cards.num_rows)
    card_account = row_of(cards["account_id"], accounts["account_id"])
    payer = activity * (np.diff(offsets)[card_account] > 0)
    return CardWorld(
        card_number=cards["card_number"].combine_chunks(),
        card_account=card_account,
        card_customer=row_of(cards["customer_id"], customers["customer_id"]),
        card_activity_cdf=np.cumsum(activity) / activity.sum(),
        payer_activity_cdf=np.cumsum(payer) / payer.sum() if payer.sum() > 0 else None,
        account_id=accounts["account_id"].combine_chunks(),
        trusted_device=accounts["trusted_device_id"].combine_chunks(),
        customer_id=customers["customer_id"].combine_chunks(),
        home_lat=home_lat, home_lon=home_lon,
        spend_factor=customers["avg_spend"].to_numpy() / expected_spend,
        merchants=merchants.select(list(MERCHANT_COLUMNS)).combine_chunks(),
        category_shares=np.array([c.share for c in categories.values()]),
        shops=shops, shop_index=shop_index,
        local_shops=[index.nearest(home_lat, home_lon, k=min(config.local_merchants, len(rows))).astype(np.int32)
                     for index, rows in zip(shop_index, shops)],
        home_atm=atms[SpatialIndex(lat[atms], lon[atms]).nearest(home_lat, home_lon, k=1)[:, 0]],
        price_low=np.array([c.min_price for c in categories.values()]),
        price_high=np.array([c.max_price for c in categories.values()]),
        place_lat=np.concatenate([lat, home_lat]), place_lon=np.concatenate([lon, home_lon]),
        place_city=pa.concat_arrays([merchants["city"].combine_chunks(), customers["home_city"].combine_chunks()]),
        place_province=pa.concat_arrays([merchants["province"].combine_chunks(),
                                         customers["home_province"].combine_chunks()]),
        beneficiary_offsets=offsets,
        beneficiary_ids=account_beneficiaries["beneficiary_id"].combine_chunks().take(pa.array(order)),
    )


def volume_factor(scenario: Scenario, day: date) -> float:
    """The day's volume relative to the configured mean: small noise, no drift."""
    z = stream(scenario.seed, TABLE, day.isoformat(), "volume").standard_normal()
    return max(0.0, 1.0 + scenario.card_transactions.daily_volume_sd * z)


def atm_lookback_days(scenario: Scenario) -> int:
    """How many days back an ATM run that is still withdrawing today can have started."""
    atm = scenario.card_transactions.atm
    return math.ceil((atm.sequence_length.max - 1) * atm.gap_hours.max / 24) + 1


CHANNEL_NAMES = ("pos", "online", "transfer", "atm")
AT_TERMINAL = np.array([True, False, False, True])  # card present: the place is the terminal's
DIGITAL = np.array([False, True, True, False])  # on the account's trusted device
PURCHASE = np.array([True, True, False, False])


@dataclass(frozen=True)
class Rows:
    """One channel's rows as integer columns into the world; Arrow columns are gathered once, at the end."""

    channel: int
    card: np.ndarray
    event_ms: np.ndarray
    amount: np.ndarray
    merchant: np.ndarray  # merchant row, -1 for none
    beneficiary: np.ndarray  # position in CardWorld.beneficiary_ids, -1 for none
    arrival_ms: np.ndarray | None = None  # known already for ATM rows, else drawn with the day's lag


def card_transactions(scenario: Scenario, world: CardWorld, day: date) -> pa.Table:
    """Every card transaction that arrives on `day`, in arrival order."""
    config = scenario.card_transactions
    rng = lambda purpose: stream(scenario.seed, TABLE, day.isoformat(), purpose)  # noqa: E731
    start = day_start_ms(day)
    volume = config.per_day * volume_factor(scenario, day)
    amounts = BucketDistribution(config.amount_buckets)
    parts = [
        _purchases(scenario, world, rng, start, round(volume * config.channels["pos"]), amounts),
        _online(scenario, world, rng, start, round(volume * config.channels["online"]), amounts),
        _transfers(scenario, world, rng, start, round(volume * config.channels["transfer"]), amounts),
        _atm_withdrawals(scenario, world, day, amounts),
    ]
    column = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
    channel = np.concatenate([np.full(len(p.card), p.channel, np.int8) for p in parts])
    event = column("event_ms")
    lag = arrival_lag_ms(rng("lag"), len(event), config.arrival_lag_seconds.median,
                         config.arrival_lag_seconds.sigma, config.arrival_lag_seconds.max)
    arrival = np.concatenate([p.arrival_ms if p.arrival_ms is not None else np.full(len(p.card), -1) for p in parts])
    arrival = np.where(arrival < 0, event + lag, arrival)
    order = np.argsort(arrival, kind="stable")  # ties keep the channel order: deterministic

    channel, event, arrival = channel[order], event[order], arrival[order]
    card, merchant, beneficiary = column("card")[order], column("merchant")[order], column("beneficiary")[order]
    account, customer = world.card_account[card], world.card_customer[card]
    at_terminal = AT_TERMINAL[channel]
    # A place is a terminal (rows 0..m-1) or a customer's home (rows m..m+c-1).
    place = np.where(at_terminal, merchant, len(world.merchants) + customer)
    n = len(event)
    return schemas.CARD_TRANSACTIONS.build({
        "transaction_id": ids(f"T{day:%Y%m%d}", rng("ids").choice(ID_SPACE, size=n, replace=False), 8),
        "event_time": pa.array(event, pa.timestamp("ms")),
        "arrival_time": pa.array(arrival, pa.timestamp("ms")),
        "batch": batch_of(arrival, start),
        "card_number": world.card_number.take(card),
        "account_id": world.account_id.take(account),
        "customer_id": world.customer_id.take(customer),
        "channel": pa.array(CHANNEL_NAMES).take(channel),
        **{name: world.merchants[name].take(nullable(merchant)) for name in ("merchant_id", "category", "mcc")},
        "beneficiary_id": world.beneficiary_ids.take(nullable(beneficiary)),
        "amount": column("amount")[order],
        "currency": pa.repeat(scenario.geography.currency, n),
        "lat": world.place_lat[place],
        "lon": world.place_lon[place],
        "city": world.place_city.take(place),
        "province": world.place_province.take(place),
        "country": pa.repeat(scenario.geography.country_code, n),
        "device_id": world.trusted_device.take(nullable(np.where(DIGITAL[channel], account, -1))),
        # a share of genuine purchases are at a merchant the customer has not used before
        "recipient_status": pa.array(np.where(PURCHASE[channel] & (rng("new_recipient").random(n)
                                                                   < config.new_recipient_share),
                                              "NEW_RECIPIENT", "FAVORITE")),
        **genuine_labels(n),
    })


def genuine_labels(n: int) -> dict:
    """The label columns of genuine rows: not fraud, no scenario, no episode, nothing to learn later."""
    return {"is_fraud": pa.repeat(False, n), "fraud_scenario": pa.nulls(n, pa.string()),
            "fraud_episode_id": pa.nulls(n, pa.string()), "label_available_at": pa.nulls(n, pa.timestamp("ms"))}


def nullable(rows: np.ndarray) -> pa.Array:
    """Row indices where -1 means none: a take through them gives null there."""
    return pa.array(rows, mask=rows < 0)


def card_draw(world: CardWorld, rng: np.random.Generator, n: int, cdf: np.ndarray | None = None) -> np.ndarray:
    """Cards in proportion to how busy each card is (by `cdf`, default every card's activity)."""
    cdf = world.card_activity_cdf if cdf is None else cdf
    return np.minimum(np.searchsorted(cdf, rng.random(n)), len(cdf) - 1)


def purchase_amounts(scenario, world, rng, category, customer, multiplier, amounts) -> np.ndarray:
    """The amount model: buckets within the category's price range × unit value × spend factor × multiplier."""
    config = scenario.card_transactions
    base = amounts.sample(rng, world.price_low[category], world.price_high[category], len(category))
    factor = rng.uniform(multiplier.min, multiplier.max, len(category))
    return np.maximum(np.round(base * config.reference_unit_value * world.spend_factor[customer] * factor, 2), 0.01)


def shops_near(world: CardWorld, category: np.ndarray, lat: np.ndarray, lon: np.ndarray, pick: np.ndarray,
               k: int, window: int | None = None) -> np.ndarray:
    """For each row, a shop of its category among the k nearest to (lat, lon), chosen by `pick` in [0, 1)."""
    merchant = np.empty(len(category), dtype=np.int64)
    for c, rows in enumerate(world.shops):
        mine = np.flatnonzero(category == c)
        near = world.shop_index[c].nearest(lat[mine], lon[mine], k=min(k, len(rows)), window=window)
        merchant[mine] = rows[near[np.arange(len(mine)), (pick[mine] * near.shape[1]).astype(np.int64)]]
    return merchant


def any_shop(world: CardWorld, category: np.ndarray, pick: np.ndarray) -> np.ndarray:
    """For each row, any shop of its category (online, where distance does not matter)."""
    merchant = np.empty(len(category), dtype=np.int64)
    for c, rows in enumerate(world.shops):
        mine = np.flatnonzero(category == c)
        merchant[mine] = rows[(pick[mine] * len(rows)).astype(np.int64)]
    return merchant


def _shop(world: CardWorld, rng: np.random.Generator, category: np.ndarray, customer: np.ndarray,
          target: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """A shop of each row's category: one of the customer's nearest (home), or the nearest to a target point."""
    pick = rng.random(len(category))
    if target is not None:  # any shop near the target will do: a narrow candidate window is enough
        return shops_near(world, category, target[0], target[1], pick, k=1, window=4)
    merchant = np.empty(len(category), dtype=np.int64)
    for c, rows in enumerate(world.shops):
        mine = np.flatnonzero(category == c)
        local = world.local_shops[c][customer[mine]]
        merchant[mine] = rows[local[np.arange(len(mine)), (pick[mine] * local.shape[1]).astype(np.int64)]]
    return merchant


def _purchases(scenario, world, rng, start, n, amounts) -> Rows:
    """Seed 000's scenarios C (home: a nearby shop) and B (regional: up to ~0.9° from home).

    The category comes first, by seed 003's shares; then the shop of that category.
    """
    config = scenario.card_transactions
    card = card_draw(world, rng("pos_card"), n)
    customer = world.card_customer[card]
    category = rng("pos_category").choice(len(world.category_shares), n, p=world.category_shares)
    regional = rng("pos_regional").random(n) < config.regional_share
    merchant = _shop(world, rng("pos_local"), category, customer, target=None)
    radius = config.regional_radius_deg
    offset = rng("pos_offset").uniform(-radius, radius, (int(regional.sum()), 2))
    target = (world.home_lat[customer[regional]] + offset[:, 0], world.home_lon[customer[regional]] + offset[:, 1])
    merchant[regional] = _shop(world, rng("pos_regional_shop"), category[regional], customer[regional], target)
    home_amount = purchase_amounts(scenario, world, rng("pos_amount_home"), category, customer,
                                    config.home_multiplier, amounts)
    regional_amount = purchase_amounts(scenario, world, rng("pos_amount_regional"), category, customer,
                                        config.regional_multiplier, amounts)
    event = times_in_hours(rng("pos_time"), n, config.purchase_hours[0], config.hourly_weights, start)
    return Rows(0, card, event, np.where(regional, regional_amount, home_amount), merchant, np.full(n, -1))


def _online(scenario, world, rng, start, n, amounts) -> Rows:
    """Card-not-present purchases from home, on the trusted device, at any shop of the category."""
    config = scenario.card_transactions
    card = card_draw(world, rng("online_card"), n)
    customer = world.card_customer[card]
    category = rng("online_category").choice(len(world.category_shares), n, p=world.category_shares)
    merchant = any_shop(world, category, rng("online_merchant").random(n))
    amount = purchase_amounts(scenario, world, rng("online_amount"), category, customer, config.home_multiplier,
                               amounts)
    event = times_in_hours(rng("online_time"), n, config.purchase_hours[0], config.hourly_weights, start)
    return Rows(1, card, event, amount, merchant, np.full(n, -1))


def _transfers(scenario, world, rng, start, n, amounts) -> Rows:
    """Seed 004's legitimate transfers: to one of the account's saved beneficiaries, from home."""
    config = scenario.card_transactions
    if world.payer_activity_cdf is None:  # no account has a saved beneficiary to pay
        n = 0
    card = card_draw(world, rng("transfer_card"), n, world.payer_activity_cdf)
    account, customer = world.card_account[card], world.card_customer[card]
    first = world.beneficiary_offsets[account]
    count = world.beneficiary_offsets[account + 1] - first
    beneficiary = first + (rng("transfer_pick").random(n) * count).astype(np.int64)
    base = amounts.sample(rng("transfer_amount"), config.transfer_price.min, config.transfer_price.max, n)
    amount = np.round(base * config.reference_unit_value * world.spend_factor[customer], 2)
    event = times_in_hours(rng("transfer_time"), n, config.purchase_hours[0], config.hourly_weights, start)
    return Rows(2, card, event, amount, np.full(n, -1), beneficiary)


@dataclass(frozen=True)
class AtmRuns:
    """The withdrawal runs that start on one day: one row per withdrawal, whatever day it lands on."""

    run: np.ndarray  # run number within the start day
    card: np.ndarray
    event_ms: np.ndarray
    arrival_ms: np.ndarray
    cash_quantile: np.ndarray  # where the amount falls in the cash distribution (amounts are drawn for kept rows)


def atm_runs(scenario: Scenario, world: CardWorld, run_day: date) -> AtmRuns:
    """Seed 003's runs starting on `run_day`: 3–10 withdrawals 6–168 h apart, all from that day's stream."""
    config, atm = scenario.card_transactions, scenario.card_transactions.atm
    rng = stream(scenario.seed, "atm_runs", run_day.isoformat())  # drawn in a fixed order below
    mean_length = (atm.sequence_length.min + atm.sequence_length.max) / 2
    longest = atm.sequence_length.max
    runs = round(config.per_day * config.channels["atm"] * volume_factor(scenario, run_day) / mean_length)
    card = rng.integers(0, len(world.card_number), runs)
    length = rng.integers(atm.sequence_length.min, atm.sequence_length.max + 1, runs)
    first = times_in_hours(rng, runs, config.purchase_hours[0], config.hourly_weights, day_start_ms(run_day))
    gaps = np.round(rng.uniform(atm.gap_hours.min, atm.gap_hours.max, (runs, longest - 1)) * MS_PER_HOUR)
    event = first[:, None] + np.concatenate([np.zeros((runs, 1)), np.cumsum(gaps, axis=1)], axis=1).astype(np.int64)
    run, position = np.nonzero(np.arange(longest)[None, :] < length[:, None])  # the withdrawals that exist
    event = event[run, position]
    lag = arrival_lag_ms(rng, len(run), config.arrival_lag_seconds.median, config.arrival_lag_seconds.sigma,
                         config.arrival_lag_seconds.max)
    return AtmRuns(run=run, card=card[run], event_ms=event, arrival_ms=event + lag, cash_quantile=rng.random(len(run)))


def _within(runs: AtmRuns, start: int, end: int, max_lag_ms: int) -> np.ndarray:
    """Withdrawals that can arrive in [start, end): cheap to test on event times before anything else."""
    near = np.flatnonzero((runs.event_ms >= start - max_lag_ms) & (runs.event_ms < end))
    return near[(runs.arrival_ms[near] >= start) & (runs.arrival_ms[near] < end)]


def _atm_withdrawals(scenario, world, day: date, amounts) -> Rows:
    """The withdrawals of every run, started on this day or in the weeks before, that arrive today."""
    start, end = day_start_ms(day), day_start_ms(day) + MS_PER_DAY
    max_lag_ms = round(scenario.card_transactions.arrival_lag_seconds.max * 1000)
    run_days = [day - timedelta(days=back) for back in range(atm_lookback_days(scenario), -1, -1)]
    for stale in set(world.atm_cache) - set(run_days):
        del world.atm_cache[stale]
    kept = []
    for run_day in run_days:
        if run_day not in world.atm_cache:
            world.atm_cache[run_day] = atm_runs(scenario, world, run_day)
        runs = world.atm_cache[run_day]
        today = _within(runs, start, end, max_lag_ms)
        kept.append((runs.card[today], runs.event_ms[today], runs.arrival_ms[today], runs.cash_quantile[today]))
    card, event, arrival, quantile = (np.concatenate(parts) for parts in zip(*kept))
    customer = world.card_customer[card]
    amount = atm_cash(scenario, world, customer, quantile, amounts)
    return Rows(3, card, event, amount, world.home_atm[customer], np.full(len(card), -1), arrival_ms=arrival)


def atm_cash(scenario: Scenario, world: CardWorld, customer: np.ndarray, quantile: np.ndarray,
             amounts: BucketDistribution) -> np.ndarray:
    """Cash at `quantile` of the buckets restricted to [step, max] for each customer's spend, in whole steps."""
    atm = scenario.card_transactions.atm
    scale = scenario.card_transactions.reference_unit_value * world.spend_factor[customer]
    cash = amounts.quantile(quantile, atm.amount_step / scale, atm.max_amount / scale) * scale
    return np.clip(np.round(cash / atm.amount_step) * atm.amount_step, atm.amount_step, atm.max_amount)
