"""Fraud woven into normal life: four scenarios, every row labelled with its scenario and episode.

Episodes of a day start from that day's clean transactions (the anchors) and its own streams,
so a day's episodes are the same whenever they are computed. An episode can run past midnight:
partition D therefore takes the rows, from the episodes of D-1 and D, that arrive on D. Fraud rows
get transaction ids from the same space as genuine ones (random, no pattern), and amounts,
times and places from the same models, so only the signals a scenario is defined by give it away.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from faker import Faker

from fraud_pipeline import schemas
from fraud_pipeline.generators.amounts import BucketDistribution
from fraud_pipeline.generators.card_transactions import (ID_SPACE, CardWorld, any_shop, atm_cash, card_draw, nullable,
                                                         purchase_amounts, row_of, shops_near)
from fraud_pipeline.generators.columns import ids, unused_numbers
from fraud_pipeline.generators.streams import stream
from fraud_pipeline.generators.timeline import MS_PER_DAY, MS_PER_HOUR, arrival_lag_ms, batch_of, day_start_ms
from fraud_pipeline.scenario import Scenario

SCENARIOS = ("card_fraud_chain", "atm_abroad", "high_velocity", "account_takeover")
EPISODE_PREFIX = {"card_fraud_chain": "CHAIN", "atm_abroad": "ATMX", "high_velocity": "HVOP", "account_takeover": "ATO"}
ANCHOR_COLUMNS = ["transaction_id", "event_time", "card_number", "channel", "lat", "lon"]  # what inject reads
EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class FraudWorld:
    """What the injectors need beyond the card world, built once per run."""

    cards: CardWorld
    customer_age: np.ndarray
    customer_province: np.ndarray  # province index of each customer's home
    avg_spend: np.ndarray
    account_balance: np.ndarray
    device_id: pa.Array
    device_weight_cdf: np.ndarray  # risky devices weigh more (account takeover)
    high_risk_beneficiaries: pa.Array
    province_hubs: np.ndarray  # (provinces, 2) lat/lon
    abroad: pa.Table  # foreign places on land: city, country, lat, lon
    # A day's episodes as rows and records, kept for the next day of a range (pure: caching changes nothing).
    episode_cache: dict = field(default_factory=dict, compare=False, repr=False)


def fraud_world(scenario: Scenario, cards: CardWorld, customers: pa.Table, accounts: pa.Table, devices: pa.Table,
                beneficiaries: pa.Table) -> FraudWorld:
    region = scenario.geography
    provinces = [p.name for p in region.provinces]
    risky = pc.or_(pc.or_(devices["rooted_flag"], devices["emulator_flag"]), devices["vpn_flag"]).to_numpy(
        zero_copy_only=False)
    weight = np.where(risky, scenario.fraud.account_takeover.risky_device_weight, 1.0)
    places = [c for c in _land_coordinates() if c[3] != region.country_code]
    return FraudWorld(
        cards=cards,
        customer_age=customers["age"].to_numpy(),
        customer_province=row_of(customers["home_province"], pa.array(provinces)),
        avg_spend=customers["avg_spend"].to_numpy(),
        account_balance=accounts["avg_balance"].to_numpy(),
        device_id=devices["device_id"].combine_chunks(),
        device_weight_cdf=np.cumsum(weight) / weight.sum(),
        high_risk_beneficiaries=beneficiaries["beneficiary_id"].filter(beneficiaries["is_high_risk"]).combine_chunks(),
        province_hubs=np.array([(p.hub.lat, p.hub.lon) for p in region.provinces]),
        abroad=pa.table({"city": [c[2] for c in places], "country": [c[3] for c in places],
                         "lat": [float(c[0]) for c in places], "lon": [float(c[1]) for c in places]}),
    )


def _land_coordinates() -> tuple:
    """Faker's places on land (seed 003's `location_on_land`), as a fixed pool."""
    return next(p for p in Faker("en_US").providers if type(p).__module__.startswith("faker.providers.geo")).land_coords


def km_between(lat1, lon1, lat2, lon2) -> np.ndarray:
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(v, float)) for v in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


@dataclass
class Episodes:
    """The fraudulent rows of one scenario's episodes (columns of the transaction table, times in ms)."""

    scenario: str
    rows: dict  # column -> array, one entry per fraudulent row, plus "episode" (index) and times in ms
    parameters: list[dict]  # per episode: what was drawn


def _empty_rows() -> dict:
    return {"episode": np.zeros(0, np.int64)}


def rows_per_episode(scenario: Scenario, name: str) -> float:
    """The mean number of fraudulent rows an episode of scenario `name` adds."""
    bounds = {"card_fraud_chain": scenario.fraud.card_fraud_chain.length,
              "high_velocity": scenario.fraud.high_velocity.transactions,
              "account_takeover": scenario.fraud.account_takeover.transfers}.get(name)
    return 1.0 if bounds is None else (bounds.min + bounds.max) / 2


def _episode_count(scenario: Scenario, name: str, clean_rows: int) -> int:
    """Episodes whose rows make up the scenario's rate of the day's clean transactions."""
    return round(getattr(scenario.fraud, name).rate * clean_rows / rows_per_episode(scenario, name))


ANCHOR_CHANNELS = {"card_fraud_chain": ("pos", "online"), "atm_abroad": ("atm",)}  # episodes start from these rows


def expected_fraud_rows(scenario: Scenario, name: str, clean: pa.Table) -> tuple[float, float]:
    """The rows scenario `name` aims to add to a day with these clean rows, and its mean rows per episode.

    The rate sets the episodes; a scenario that starts from genuine rows (chains from purchases, ATM
    abroad from withdrawals) makes at most one episode per such row, so a day without any makes none.
    """
    per_episode = rows_per_episode(scenario, name)
    if not getattr(scenario.fraud, name).enabled:
        return 0.0, per_episode
    episodes = _episode_count(scenario, name, clean.num_rows)
    if name in ANCHOR_CHANNELS:
        episodes = min(episodes, int(pc.sum(pc.is_in(clean["channel"], pa.array(ANCHOR_CHANNELS[name]))).as_py() or 0))
    return episodes * per_episode, per_episode


def day_episodes(scenario: Scenario, world: FraudWorld, clean: pa.Table, day: date) -> list[Episodes]:
    """The episodes that start from `day`'s clean transactions, every scenario that is enabled."""
    makers = {"card_fraud_chain": _chains, "atm_abroad": _atm_abroad, "high_velocity": _high_velocity,
              "account_takeover": _account_takeover}
    result = []
    for name in SCENARIOS:
        config = getattr(scenario.fraud, name)
        if config.enabled:
            rng = stream(scenario.seed, "fraud", name, day.isoformat())  # drawn in a fixed order per scenario
            result.append(makers[name](scenario, world, clean, day, rng))
    return result


def _times_after(start: np.ndarray, count: np.ndarray, gaps, rng) -> tuple[np.ndarray, np.ndarray]:
    """Rows for episodes of `count` transactions each, `gaps` seconds apart after `start` (ms)."""
    episode = np.repeat(np.arange(len(count)), count)
    gap = np.round(rng.uniform(gaps.min, gaps.max, len(episode)) * 1000).astype(np.int64)
    first = (np.cumsum(count) - count).astype(np.int64)  # each episode's first row
    elapsed = np.cumsum(gap) - np.repeat(np.cumsum(gap)[first] - gap[first], count)
    return episode, start[episode] + elapsed


def _anchor_rows(mask: np.ndarray, n: int, rng, weight=None) -> np.ndarray:
    """`n` distinct rows where `mask` holds (weighted if given), in row order: the anchors of episodes."""
    candidates = np.flatnonzero(mask)
    n = min(n, len(candidates))
    if n == 0:
        return candidates[:0]
    p = None if weight is None else weight[candidates] / weight[candidates].sum()
    return np.sort(rng.choice(candidates, n, replace=False, p=p))


def _clean_column(clean: pa.Table, name: str, rows: np.ndarray) -> np.ndarray:
    return clean[name].take(pa.array(rows)).to_numpy(zero_copy_only=False)


def _card_rows(world: FraudWorld, clean: pa.Table, rows: np.ndarray) -> np.ndarray:
    return row_of(clean["card_number"].take(pa.array(rows)), world.cards.card_number)


def _other_device(world: FraudWorld, account: np.ndarray, rng, weighted: bool) -> np.ndarray:
    """A device that is not the account's trusted one (risky devices likelier when `weighted`)."""
    n_devices = len(world.device_id)
    trusted = row_of(world.cards.trusted_device.take(pa.array(account)), world.device_id)
    device = (np.minimum(np.searchsorted(world.device_weight_cdf, rng.random(len(account))), n_devices - 1)
              if weighted else rng.integers(0, n_devices, len(account)))
    clash = device == trusted
    device[clash] = (device[clash] + 1 + rng.integers(0, n_devices - 1, clash.sum())) % n_devices
    return device


def _chains(scenario, world: FraudWorld, clean, day, rng) -> Episodes:
    """Seeds 002/003: a burst of 3–10 transactions 30–120 s apart, right after one of the card's real purchases."""
    config = scenario.fraud.card_fraud_chain
    purchases = pc.is_in(clean["channel"], pa.array(ANCHOR_CHANNELS["card_fraud_chain"])).to_numpy(zero_copy_only=False)
    anchors = _anchor_rows(purchases, _episode_count(scenario, "card_fraud_chain", clean.num_rows), rng)
    if len(anchors) == 0:
        return Episodes("card_fraud_chain", _empty_rows(), [])
    card = _card_rows(world, clean, anchors)
    length = rng.integers(config.length.min, config.length.max + 1, len(anchors))
    anchor_ms = _clean_column(clean, "event_time", anchors).astype("datetime64[ms]").astype(np.int64)
    episode, event = _times_after(anchor_ms, length, config.gap_seconds, rng)
    card = card[episode]
    customer, account = world.cards.card_customer[card], world.cards.card_account[card]
    online = rng.random(len(episode)) < config.online_share
    category = rng.choice(len(world.cards.category_shares), len(episode), p=world.cards.category_shares)
    anchor_lat = _clean_column(clean, "lat", anchors)[episode]
    anchor_lon = _clean_column(clean, "lon", anchors)[episode]
    pick = rng.random(len(episode))
    merchant = np.where(online, any_shop(world.cards, category, pick),
                        shops_near(world.cards, category, anchor_lat, anchor_lon, pick, k=4))
    device = np.where(online, _other_device(world, account, rng, weighted=False), -1)
    rows = {"episode": episode, "card": card, "event_ms": event, "channel": np.where(online, "online", "pos"),
            "merchant": merchant, "at_terminal": ~online, "device": device,
            "amount": purchase_amounts(scenario, world.cards, rng, category, customer,
                                       scenario.card_transactions.home_multiplier,
                                       BucketDistribution(scenario.card_transactions.amount_buckets))}
    anchor_ids = _clean_column(clean, "transaction_id", anchors)
    parameters = [{"length": int(n), "anchor_transaction_id": str(a)} for n, a in zip(length, anchor_ids)]
    return Episodes("card_fraud_chain", rows, parameters)


def _atm_abroad(scenario, world: FraudWorld, clean, day, rng) -> Episodes:
    """Seed 003: 1–5 h after a withdrawal at home, the same card takes cash abroad; older customers more often."""
    config = scenario.fraud.atm_abroad
    withdrawals = pc.is_in(clean["channel"], pa.array(ANCHOR_CHANNELS["atm_abroad"])).to_numpy(zero_copy_only=False)
    card_of_row = np.full(clean.num_rows, 0)
    card_of_row[withdrawals] = _card_rows(world, clean, np.flatnonzero(withdrawals))
    age = world.customer_age[world.cards.card_customer[card_of_row]]
    weight = np.zeros(clean.num_rows)
    for band in config.age_susceptibility:
        weight[(age >= band.min_age) & (age <= band.max_age) & withdrawals] = band.weight
    anchors = _anchor_rows(weight > 0, _episode_count(scenario, "atm_abroad", clean.num_rows), rng, weight=weight)
    if len(anchors) == 0:
        return Episodes("atm_abroad", _empty_rows(), [])
    n = len(anchors)
    card = card_of_row[anchors]
    anchor_ms = _clean_column(clean, "event_time", anchors).astype("datetime64[ms]").astype(np.int64)
    hours_after = rng.uniform(config.delay_hours.min, config.delay_hours.max, n)
    lat, lon = _clean_column(clean, "lat", anchors), _clean_column(clean, "lon", anchors)
    place = rng.integers(0, world.abroad.num_rows, n)
    abroad_lat, abroad_lon = world.abroad["lat"].to_numpy(), world.abroad["lon"].to_numpy()
    near = km_between(lat, lon, abroad_lat[place], abroad_lon[place]) < config.min_distance_km
    while near.any():  # impossible travel: far enough that no one could have made the trip
        place[near] = rng.integers(0, world.abroad.num_rows, near.sum())
        near = km_between(lat, lon, abroad_lat[place], abroad_lon[place]) < config.min_distance_km
    cash = atm_cash(scenario, world.cards, world.cards.card_customer[card], rng.random(n),
                    BucketDistribution(scenario.card_transactions.amount_buckets))
    converted = np.round(cash * rng.uniform(0.97, 1.03, n), 2)  # foreign notes, converted back
    rows = {"episode": np.arange(n), "card": card, "event_ms": anchor_ms + np.round(hours_after * MS_PER_HOUR).astype(np.int64),
            "channel": np.full(n, "atm"), "merchant": np.full(n, -1), "at_terminal": np.zeros(n, bool),
            "device": np.full(n, -1), "amount": converted, "abroad": place}
    distance = km_between(lat, lon, abroad_lat[place], abroad_lon[place])
    anchor_ids = _clean_column(clean, "transaction_id", anchors)
    parameters = [{"anchor_transaction_id": str(a), "hours_after": round(float(h), 3), "distance_km": round(float(d), 1),
                   "customer_age": int(x)} for a, h, d, x in zip(anchor_ids, hours_after, distance, age[anchors])]
    return Episodes("atm_abroad", rows, parameters)


def _high_velocity(scenario, world: FraudWorld, clean, day, rng) -> Episodes:
    """Seed 000's scenario A: at night, near another province's hub, 5–12× the usual spend, a new device and payee."""
    config = scenario.fraud.high_velocity
    n = _episode_count(scenario, "high_velocity", clean.num_rows)
    card = card_draw(world.cards, rng, n)
    customer, account = world.cards.card_customer[card], world.cards.card_account[card]
    home = world.customer_province[customer]
    elsewhere = (home + 1 + rng.integers(0, len(world.province_hubs) - 1, n)) % len(world.province_hubs)
    first, last = config.hours
    start = day_start_ms(day) + rng.integers(first * MS_PER_HOUR, (last + 1) * MS_PER_HOUR, n)
    count = rng.integers(config.transactions.min, config.transactions.max + 1, n)
    episode, event = _times_after(start, count, config.gap_seconds, rng)
    category = rng.choice(len(world.cards.category_shares), len(episode), p=world.cards.category_shares)
    hub = world.province_hubs[elsewhere[episode]]
    merchant = shops_near(world.cards, category, hub[:, 0], hub[:, 1], rng.random(len(episode)), k=8)
    multiplier = rng.uniform(config.spend_multiplier.min, config.spend_multiplier.max, len(episode))
    device = _other_device(world, account, rng, weighted=False)
    rows = {"episode": episode, "card": card[episode], "event_ms": event, "channel": np.full(len(episode), "online"),
            "merchant": merchant, "at_terminal": np.ones(len(episode), bool), "device": device[episode],
            "amount": np.round(world.avg_spend[customer[episode]] * multiplier, 2)}
    provinces = [p.name for p in scenario.geography.provinces]
    parameters = [{"province": provinces[p], "transactions": int(k)} for p, k in zip(elsewhere, count)]
    return Episodes("high_velocity", rows, parameters)


def _account_takeover(scenario, world: FraudWorld, clean, day, rng) -> Episodes:
    """Seed 004's signals: a session on a device the account does not trust, draining it to high-risk payees."""
    config = scenario.fraud.account_takeover
    n = _episode_count(scenario, "account_takeover", clean.num_rows)
    card = card_draw(world.cards, rng, n)
    account = world.cards.card_account[card]
    device = _other_device(world, account, rng, weighted=True)
    start = day_start_ms(day) + rng.integers(0, MS_PER_DAY, n)
    count = rng.integers(config.transfers.min, config.transfers.max + 1, n)
    episode, event = _times_after(start, count, config.gap_seconds, rng)
    drain = rng.uniform(config.drain_share.min, config.drain_share.max, n)
    split = rng.dirichlet(np.ones(config.transfers.max), n)[np.arange(n).repeat(count),
                                                              _position_in_episode(count)]
    split /= np.bincount(episode, weights=split)[episode]
    amount = np.maximum(np.round(world.account_balance[account][episode] * drain[episode] * split, 2), 0.01)
    payee = rng.integers(0, len(world.high_risk_beneficiaries), len(episode))
    rows = {"episode": episode, "card": card[episode], "event_ms": event, "channel": np.full(len(episode), "transfer"),
            "merchant": np.full(len(episode), -1), "at_terminal": np.zeros(len(episode), bool),
            "device": device[episode], "amount": amount, "payee": payee}
    device_ids = world.device_id.take(pa.array(device)).to_pylist()
    parameters = [{"device_id": d, "drain_share": round(float(s), 3), "transfers": int(k)}
                  for d, s, k in zip(device_ids, drain, count)]
    return Episodes("account_takeover", rows, parameters)


def _position_in_episode(count: np.ndarray) -> np.ndarray:
    starts = np.repeat(np.cumsum(count) - count, count)
    return np.arange(count.sum()) - starts


def _rows_table(scenario: Scenario, world: FraudWorld, episodes: Episodes, day: date) -> tuple[pa.Table, pa.Table]:
    """The episodes' rows as transaction columns with labels (times in ms), and one record per episode."""
    r, n = episodes.rows, len(episodes.rows["episode"])
    cards = world.cards
    card = r["card"]
    account, customer = cards.card_account[card], cards.card_customer[card]
    merchant = r["merchant"]
    place = np.where(r["at_terminal"], merchant, len(cards.merchants) + customer)
    abroad = r.get("abroad")
    lat, lon = cards.place_lat[place], cards.place_lon[place]
    city, province = cards.place_city.take(pa.array(place)), cards.place_province.take(pa.array(place))
    country = pa.repeat(scenario.geography.country_code, n)
    category, mcc = (cards.merchants[name].take(nullable(merchant)) for name in ("category", "mcc"))
    if abroad is not None:  # at a foreign bank's ATM: not one of our terminals
        lat, lon = world.abroad["lat"].to_numpy()[abroad], world.abroad["lon"].to_numpy()[abroad]
        city, country = world.abroad["city"].take(pa.array(abroad)), world.abroad["country"].take(pa.array(abroad))
        province = pa.nulls(n, pa.string())
        category, mcc = pa.repeat("Cash Withdrawal", n), pa.repeat(scenario.merchants.atm_mcc, n)
    payee = r.get("payee")
    lag = scenario.card_transactions.arrival_lag_seconds
    rng = stream(scenario.seed, "fraud_rows", episodes.scenario, day.isoformat())
    event = r["event_ms"]
    arrival = event + arrival_lag_ms(rng, n, lag.median, lag.sigma, lag.max)

    config = getattr(scenario.fraud, episodes.scenario)
    count = np.bincount(r["episode"], minlength=len(episodes.parameters))
    end = np.full(len(count), np.iinfo(np.int64).min)
    np.maximum.at(end, r["episode"], event)
    begin = np.full(len(count), np.iinfo(np.int64).max)
    np.minimum.at(begin, r["episode"], event)
    first_arrival = np.full(len(count), np.iinfo(np.int64).max)
    np.minimum.at(first_arrival, r["episode"], arrival)
    delay = rng.uniform(config.label_delay_days.min, config.label_delay_days.max, len(count)) * MS_PER_DAY
    known = end + np.round(delay).astype(np.int64)
    episode_id = ids(f"{EPISODE_PREFIX[episodes.scenario]}-{day:%Y%m%d}-", np.arange(len(count)), 5)

    rows = pa.table({
        "event_ms": event, "arrival_ms": arrival,
        "card_number": cards.card_number.take(pa.array(card)),
        "account_id": cards.account_id.take(pa.array(account)),
        "customer_id": cards.customer_id.take(pa.array(customer)),
        "channel": pa.array(r["channel"], pa.string()),
        "merchant_id": cards.merchants["merchant_id"].take(nullable(merchant)),
        "category": category, "mcc": mcc,
        "beneficiary_id": (world.high_risk_beneficiaries.take(pa.array(payee)) if payee is not None
                           else pa.nulls(n, pa.string())),
        "amount": pa.array(r["amount"], pa.float64()),
        "currency": pa.repeat(scenario.geography.currency, n),
        "lat": pa.array(lat, pa.float64()), "lon": pa.array(lon, pa.float64()),
        "city": city, "province": province, "country": country,
        "device_id": world.device_id.take(nullable(r["device"])),
        "recipient_status": pa.repeat("NEW_RECIPIENT", n),
        "is_fraud": pa.repeat(True, n),
        "fraud_scenario": pa.repeat(episodes.scenario, n),
        "fraud_episode_id": episode_id.take(pa.array(r["episode"])),
        "label_available_at": pa.array(known[r["episode"]], pa.timestamp("ms")),
    })
    first_row = np.searchsorted(r["episode"], np.arange(len(count)))
    record = pa.table({
        "episode_id": episode_id,
        "scenario": pa.repeat(episodes.scenario, len(count)),
        "card_number": rows["card_number"].take(pa.array(first_row)),
        "account_id": rows["account_id"].take(pa.array(first_row)),
        "customer_id": rows["customer_id"].take(pa.array(first_row)),
        "start_time": pa.array(begin, pa.timestamp("ms")),
        "end_time": pa.array(end, pa.timestamp("ms")),
        "transactions": count.astype(np.int32),
        "total_amount": np.round(np.bincount(r["episode"], weights=r["amount"], minlength=len(count)), 2),
        "label_available_at": pa.array(known, pa.timestamp("ms")),
        "parameters": [json.dumps(p, sort_keys=True) for p in episodes.parameters],
        "first_arrival_ms": first_arrival,
    })
    return rows, record


def inject(scenario: Scenario, world: FraudWorld, day: date, clean: pa.Table,
           clean_day_before: pa.Table | None) -> tuple[pa.Table, pa.Table]:
    """The fraudulent transactions that arrive on `day` (arrival order) and the episodes whose first row does.

    Episodes start from the clean transactions of the day before and of `day` (their anchors);
    `clean_day_before` is None on the calendar's first day. `clean` needs `transaction_id`, so
    fraud rows get numbers no genuine row of the day has.
    """
    start, end = day_start_ms(day), day_start_ms(day) + MS_PER_DAY
    fraud_rows, records = [], []
    for stale in [d for d in world.episode_cache if d < day - timedelta(days=1)]:
        del world.episode_cache[stale]
    for episode_day, anchors in ((day - timedelta(days=1), clean_day_before), (day, clean)):
        if anchors is None:
            continue
        if episode_day not in world.episode_cache:
            world.episode_cache[episode_day] = [_rows_table(scenario, world, episodes, episode_day)
                                                for episodes in day_episodes(scenario, world, anchors, episode_day)
                                                if episodes.parameters]
        for rows, record in world.episode_cache[episode_day]:
            arrival = rows["arrival_ms"].to_numpy()
            fraud_rows.append(rows.filter(pa.array((arrival >= start) & (arrival < end))))
            first = record["first_arrival_ms"].to_numpy()
            records.append(record.filter(pa.array((first >= start) & (first < end))))

    fraud = pa.concat_tables(fraud_rows) if fraud_rows else _rows_schema().empty_table()
    fraud = fraud.take(pa.array(np.lexsort((fraud["event_ms"].to_numpy(), fraud["arrival_ms"].to_numpy()))))
    arrival = fraud["arrival_ms"].to_numpy()
    number = _fresh_numbers(scenario, day, clean, fraud.num_rows)
    columns = {name: fraud[name] for name in fraud.column_names if name not in ("event_ms", "arrival_ms")}
    fraud = schemas.FRAUD_TRANSACTIONS.build({
        **columns,
        "transaction_id": ids(f"T{day:%Y%m%d}", number, 8),
        "event_time": pa.array(fraud["event_ms"].to_numpy(), pa.timestamp("ms")),
        "arrival_time": pa.array(arrival, pa.timestamp("ms")),
        "batch": batch_of(arrival, start),
    })
    episodes = pa.concat_tables(records).drop_columns(["first_arrival_ms"]) if records else None
    if episodes is None:
        return fraud, schemas.FRAUD_EPISODES.arrow_schema.empty_table()
    return fraud, schemas.FRAUD_EPISODES.build({name: episodes[name] for name in episodes.column_names})


def _rows_schema() -> pa.Schema:
    """The working columns of fraud rows before ids and timestamps are set."""
    fields = [f for f in schemas.FRAUD_TRANSACTIONS.arrow_schema
              if f.name not in ("transaction_id", "event_time", "arrival_time", "batch")]
    return pa.schema([pa.field("event_ms", pa.int64()), pa.field("arrival_ms", pa.int64()), *fields])


def _fresh_numbers(scenario: Scenario, day: date, clean: pa.Table, n: int) -> np.ndarray:
    """Transaction numbers for fraudulent rows from the genuine rows' space, none already used that day."""
    used = pc.cast(pc.utf8_slice_codeunits(clean["transaction_id"], 9), pa.int64()).to_numpy()
    return unused_numbers(stream(scenario.seed, "fraud_ids", day.isoformat()), used, n, ID_SPACE)
