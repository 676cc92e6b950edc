"""Normal card life, one day at a time: purchases, online purchases, transfers and ATM withdrawal runs.

Every draw comes from a stream keyed by (seed, purpose, day), so a day generated alone equals
the same day generated inside a range. A partition holds the rows that *arrive* on its day:
purchases and transfers end early enough to arrive the same day; ATM runs span days, so a day's
withdrawals are found by replaying the run starts of the preceding weeks from their own streams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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
MERCHANT_COLUMNS = ("merchant_id", "category", "mcc", "country", "lat", "lon", "city", "province")


@dataclass(frozen=True)
class CardWorld:
    """The entity columns card transactions draw on, aligned as arrays, built once per run."""

    card_number: pa.Array
    card_account: np.ndarray  # account row of each card
    card_customer: np.ndarray  # customer row of each card
    card_activity_cdf: np.ndarray  # cards are not equally busy
    account_id: pa.Array
    trusted_device: pa.Array  # per account row
    customer_id: pa.Array
    home_lat: np.ndarray
    home_lon: np.ndarray
    home_city: pa.Array
    home_province: pa.Array
    spend_factor: np.ndarray  # avg_spend over the population's expected avg_spend
    merchants: pa.Table
    category_shares: np.ndarray  # seed 003's purchase shares, in the order of `shops`
    shops: list[np.ndarray]  # per category: its point-of-sale merchant rows
    shop_index: list[SpatialIndex]  # per category: a spatial index over those shops
    local_shops: list[np.ndarray]  # per category: (customers, k) shop positions nearest home
    home_atm: np.ndarray  # merchant row of each customer's nearest ATM
    price_low: np.ndarray  # per category: the price range (reference units)
    price_high: np.ndarray
    beneficiary_offsets: np.ndarray  # account row -> slice of beneficiary_ids (saved beneficiaries)
    beneficiary_ids: pa.Array


def _row_of(values: pa.ChunkedArray | pa.Array, keys: pa.ChunkedArray | pa.Array) -> np.ndarray:
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

    link_account = _row_of(account_beneficiaries["account_id"], accounts["account_id"])
    order = np.argsort(link_account, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(np.bincount(link_account, minlength=accounts.num_rows))])

    activity = stream(scenario.seed, TABLE, "card_activity").gamma(2.0, 0.5, cards.num_rows)
    return CardWorld(
        card_number=cards["card_number"].combine_chunks(),
        card_account=_row_of(cards["account_id"], accounts["account_id"]),
        card_customer=_row_of(cards["customer_id"], customers["customer_id"]),
        card_activity_cdf=np.cumsum(activity) / activity.sum(),
        account_id=accounts["account_id"].combine_chunks(),
        trusted_device=accounts["trusted_device_id"].combine_chunks(),
        customer_id=customers["customer_id"].combine_chunks(),
        home_lat=home_lat, home_lon=home_lon,
        home_city=customers["home_city"].combine_chunks(),
        home_province=customers["home_province"].combine_chunks(),
        spend_factor=customers["avg_spend"].to_numpy() / expected_spend,
        merchants=merchants.select(list(MERCHANT_COLUMNS)).combine_chunks(),
        category_shares=np.array([c.share for c in categories.values()]),
        shops=shops, shop_index=shop_index,
        local_shops=[index.nearest(home_lat, home_lon, k=min(config.local_merchants, len(rows))).astype(np.int32)
                     for index, rows in zip(shop_index, shops)],
        home_atm=atms[SpatialIndex(lat[atms], lon[atms]).nearest(home_lat, home_lon, k=1)[:, 0]],
        price_low=np.array([c.min_price for c in categories.values()]),
        price_high=np.array([c.max_price for c in categories.values()]),
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
    rows = pa.concat_tables([p for p in parts if p.num_rows])
    lag = arrival_lag_ms(rng("lag"), rows.num_rows, config.arrival_lag_seconds.median,
                         config.arrival_lag_seconds.sigma, config.arrival_lag_seconds.max)
    event = rows["event_ms"].to_numpy()
    # ATM rows already carry their arrival (they were kept for arriving today); the rest get a lag now.
    arrival = np.where(rows["arrival_ms"].is_null().to_numpy(zero_copy_only=False), event + lag,
                       rows["arrival_ms"].fill_null(0).to_numpy())
    order = np.lexsort((rng("order").random(rows.num_rows), arrival))
    rows, event, arrival = rows.take(pa.array(order)), event[order], arrival[order]

    n = rows.num_rows
    number = rng("ids").choice(ID_SPACE, size=n, replace=False)
    columns = {name: rows[name] for name in rows.column_names if name not in ("event_ms", "arrival_ms")}
    return schemas.CARD_TRANSACTIONS.build({
        **columns,
        "transaction_id": ids(f"T{day:%Y%m%d}", number, 8),
        "event_time": pa.array(event, pa.timestamp("ms")),
        "arrival_time": pa.array(arrival, pa.timestamp("ms")),
        "batch": batch_of(arrival, start),
        "currency": pa.repeat(scenario.geography.currency, n),
        "recipient_status": pa.repeat("FAVORITE", n),
    })


def _card_draw(world: CardWorld, rng: np.random.Generator, n: int) -> np.ndarray:
    """Cards in proportion to how busy each card is."""
    return np.minimum(np.searchsorted(world.card_activity_cdf, rng.random(n)), len(world.card_activity_cdf) - 1)


def _purchase_amounts(scenario, world, rng, category, customer, multiplier, amounts) -> np.ndarray:
    config = scenario.card_transactions
    base = amounts.sample(rng, world.price_low[category], world.price_high[category], len(category))
    factor = rng.uniform(multiplier.min, multiplier.max, len(category))
    return np.maximum(np.round(base * config.reference_unit_value * world.spend_factor[customer] * factor, 2), 0.01)


def _rows(world: CardWorld, card: np.ndarray, event_ms: np.ndarray, channel: str, merchant: np.ndarray | None,
          amount: np.ndarray, lat: np.ndarray, lon: np.ndarray, city, province, device: bool,
          beneficiary: pa.Array | None = None, arrival_ms: np.ndarray | None = None) -> pa.Table:
    """One channel's rows with the columns every channel shares (times stay integers until the end)."""
    n = len(card)
    account, customer = world.card_account[card], world.card_customer[card]
    at = world.merchants.take(pa.array(merchant)) if merchant is not None else None
    no_text = pa.nulls(n, pa.string())
    return pa.table({
        "event_ms": pa.array(event_ms, pa.int64()),
        "arrival_ms": pa.array(arrival_ms, pa.int64()) if arrival_ms is not None else pa.nulls(n, pa.int64()),
        "card_number": world.card_number.take(pa.array(card)),
        "account_id": world.account_id.take(pa.array(account)),
        "customer_id": world.customer_id.take(pa.array(customer)),
        "channel": pa.repeat(channel, n),
        "merchant_id": at["merchant_id"] if at is not None else no_text,
        "category": at["category"] if at is not None else no_text,
        "mcc": at["mcc"] if at is not None else no_text,
        "beneficiary_id": beneficiary if beneficiary is not None else no_text,
        "amount": pa.array(amount, pa.float64()),
        "lat": pa.array(lat, pa.float64()),
        "lon": pa.array(lon, pa.float64()),
        "city": city,
        "province": province,
        "country": pa.repeat("ZA", n) if at is None else at["country"],
        "device_id": world.trusted_device.take(pa.array(account)) if device else no_text,
    })


def _shop(world: CardWorld, rng: np.random.Generator, category: np.ndarray, customer: np.ndarray,
          target: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """A shop of each row's category: one of the customer's nearest (home), or the nearest to a target point."""
    merchant = np.empty(len(category), dtype=np.int64)
    pick = rng.random(len(category))
    for c, rows in enumerate(world.shops):
        mine = np.flatnonzero(category == c)
        if target is None:
            local = world.local_shops[c][customer[mine]]
            merchant[mine] = rows[local[np.arange(len(mine)), (pick[mine] * local.shape[1]).astype(np.int64)]]
        else:
            merchant[mine] = rows[world.shop_index[c].nearest(target[0][mine], target[1][mine], k=1)[:, 0]]
    return merchant


def _purchases(scenario, world, rng, start, n, amounts) -> pa.Table:
    """Seed 000's scenarios C (home: a nearby shop) and B (regional: up to ~0.9° from home).

    The category comes first, by seed 003's shares; then the shop of that category.
    """
    config = scenario.card_transactions
    card = _card_draw(world, rng("pos_card"), n)
    customer = world.card_customer[card]
    category = rng("pos_category").choice(len(world.category_shares), n, p=world.category_shares)
    regional = rng("pos_regional").random(n) < config.regional_share
    merchant = _shop(world, rng("pos_local"), category, customer, target=None)
    radius = config.regional_radius_deg
    offset = rng("pos_offset").uniform(-radius, radius, (int(regional.sum()), 2))
    target = (world.home_lat[customer[regional]] + offset[:, 0], world.home_lon[customer[regional]] + offset[:, 1])
    merchant[regional] = _shop(world, rng("pos_regional_shop"), category[regional], customer[regional], target)

    home_amount = _purchase_amounts(scenario, world, rng("pos_amount_home"), category, customer,
                                    config.home_multiplier, amounts)
    regional_amount = _purchase_amounts(scenario, world, rng("pos_amount_regional"), category, customer,
                                        config.regional_multiplier, amounts)
    at = world.merchants.take(pa.array(merchant))
    event = times_in_hours(rng("pos_time"), n, config.purchase_hours[0], config.hourly_weights, start)
    return _rows(world, card, event, "pos", merchant, np.where(regional, regional_amount, home_amount),
                 at["lat"].to_numpy(), at["lon"].to_numpy(), at["city"], at["province"], device=False)


def _online(scenario, world, rng, start, n, amounts) -> pa.Table:
    """Card-not-present purchases from home, on the trusted device, at any shop of the category."""
    config = scenario.card_transactions
    card = _card_draw(world, rng("online_card"), n)
    customer = world.card_customer[card]
    category = rng("online_category").choice(len(world.category_shares), n, p=world.category_shares)
    pick = rng("online_merchant").random(n)
    merchant = np.empty(n, dtype=np.int64)
    for c, rows in enumerate(world.shops):
        mine = np.flatnonzero(category == c)
        merchant[mine] = rows[(pick[mine] * len(rows)).astype(np.int64)]
    amount = _purchase_amounts(scenario, world, rng("online_amount"), category, customer, config.home_multiplier,
                               amounts)
    event = times_in_hours(rng("online_time"), n, config.purchase_hours[0], config.hourly_weights, start)
    rows = _rows(world, card, event, "online", merchant, amount, world.home_lat[customer], world.home_lon[customer],
                 world.home_city.take(pa.array(customer)), world.home_province.take(pa.array(customer)), device=True)
    return rows.set_column(rows.schema.get_field_index("country"), "country", pa.repeat("ZA", n))


def _transfers(scenario, world, rng, start, n, amounts) -> pa.Table:
    """Seed 004's legitimate transfers: to one of the account's saved beneficiaries, from home."""
    config = scenario.card_transactions
    card = _card_draw(world, rng("transfer_card"), n)
    account, customer = world.card_account[card], world.card_customer[card]
    first = world.beneficiary_offsets[account]
    count = world.beneficiary_offsets[account + 1] - first
    beneficiary = world.beneficiary_ids.take(pa.array(first + (rng("transfer_pick").random(n) * count).astype(np.int64)))
    base = amounts.sample(rng("transfer_amount"), config.transfer_price.min, config.transfer_price.max, n)
    amount = np.round(base * config.reference_unit_value * world.spend_factor[customer], 2)
    event = times_in_hours(rng("transfer_time"), n, config.purchase_hours[0], config.hourly_weights, start)
    return _rows(world, card, event, "transfer", None, amount, world.home_lat[customer], world.home_lon[customer],
                 world.home_city.take(pa.array(customer)), world.home_province.take(pa.array(customer)),
                 device=True, beneficiary=beneficiary)


@dataclass(frozen=True)
class AtmRuns:
    """The withdrawal runs that start on one day: one row per withdrawal, whatever day it lands on."""

    run: np.ndarray  # run number within the start day
    card: np.ndarray
    event_ms: np.ndarray
    arrival_ms: np.ndarray
    cash: np.ndarray  # before rounding to the withdrawal step


def atm_runs(scenario: Scenario, world: CardWorld, run_day: date, amounts: BucketDistribution) -> AtmRuns:
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
    # Cash within [step, max] for this card's spender: the buckets restricted to that range (seed 003).
    scale = config.reference_unit_value * world.spend_factor[world.card_customer[card[run]]]
    cash = amounts.sample(rng, atm.amount_step / scale, atm.max_amount / scale, len(run)) * scale
    return AtmRuns(run=run, card=card[run], event_ms=event, arrival_ms=event + lag, cash=cash)


def _atm_withdrawals(scenario, world, day: date, amounts) -> pa.Table:
    """The withdrawals of every run, started on this day or in the weeks before, that arrive today."""
    atm = scenario.card_transactions.atm
    start, end = day_start_ms(day), day_start_ms(day) + MS_PER_DAY
    kept = []
    for back in range(atm_lookback_days(scenario), -1, -1):
        runs = atm_runs(scenario, world, day - timedelta(days=back), amounts)
        today = (runs.arrival_ms >= start) & (runs.arrival_ms < end)
        kept.append((runs.card[today], runs.event_ms[today], runs.arrival_ms[today], runs.cash[today]))

    card, event, arrival, cash = (np.concatenate(parts) for parts in zip(*kept))
    customer = world.card_customer[card]
    amount = np.clip(np.round(cash / atm.amount_step) * atm.amount_step, atm.amount_step, atm.max_amount)
    terminal = world.home_atm[customer]
    at = world.merchants.take(pa.array(terminal))
    return _rows(world, card, event, "atm", terminal, amount, at["lat"].to_numpy(), at["lon"].to_numpy(), at["city"],
                 at["province"], device=False, arrival_ms=arrival)
