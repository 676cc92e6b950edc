"""Card transactions of normal life: shares, geography, amounts, ATM runs, timing — with stated tolerances.

Generated at the default size (100,000 a day) for the days named below; tolerances are a few
standard errors at that volume.
"""

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fraud_pipeline import schemas
from fraud_pipeline.generators.amounts import BucketDistribution
from fraud_pipeline.generators.card_transactions import atm_runs, card_transactions
from fraud_pipeline.quality import event_time_findings, foreign_key_finding, key_findings
from fraud_pipeline_tests.conftest import distance_deg

DAYS = [date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 9)]


@pytest.fixture(scope="module")
def days(scenario, world_index) -> dict[date, pa.Table]:
    return {day: card_transactions(scenario, world_index, day) for day in DAYS}


@pytest.fixture(scope="module")
def frame(days) -> pd.DataFrame:
    return pd.concat([t.to_pandas() for t in days.values()], ignore_index=True)


def test_schema_keys_and_every_foreign_key(days, world):
    spec = schemas.CARD_TRANSACTIONS
    for table in days.values():
        assert table.schema == spec.arrow_schema
        assert all(f.passed for f in key_findings(table, spec.primary_key))
        for fk in spec.foreign_keys:
            assert foreign_key_finding(table[fk.column].drop_null(), world[fk.table][fk.ref_column], "").passed, fk


def test_ids_are_unique_across_days_and_carry_their_day(frame):
    assert frame["transaction_id"].is_unique
    assert (frame["transaction_id"].str[1:9] == frame["arrival_time"].dt.strftime("%Y%m%d")).all()
    # within a day the numbers are random: no relation to time order
    one_day = frame[frame["arrival_time"].dt.date == DAYS[0]]
    rank = one_day["transaction_id"].str[9:].astype(int).rank()
    assert abs(np.corrcoef(rank, one_day["arrival_time"].rank())[0, 1]) < 0.02


def test_each_partition_holds_exactly_the_rows_arriving_that_day(days, scenario):
    lag_ms = round(scenario.card_transactions.arrival_lag_seconds.max * 1000)
    for day, table in days.items():
        assert all(f.passed for f in event_time_findings(table, day, lag_ms)), day


def test_daily_volume_follows_the_scenario_with_small_noise(days, scenario):
    for table in days.values():
        # 2 % day-to-day noise: ±5 sd covers it
        assert table.num_rows == pytest.approx(scenario.card_transactions.per_day, rel=0.10)


def test_channel_shares(frame, scenario):
    observed = frame["channel"].value_counts(normalize=True)
    for channel, share in scenario.card_transactions.channels.items():
        assert observed[channel] == pytest.approx(share, abs=0.01), channel


def test_purchase_categories_follow_seed_003_shares(frame, scenario):
    purchases = frame[frame["channel"].isin(["pos", "online"])]
    observed = purchases["category"].value_counts(normalize=True)
    for category, config in scenario.merchants.categories.items():
        assert observed.get(category, 0.0) == pytest.approx(config.share, abs=0.005), category
    assert (purchases["mcc"] == purchases["category"].map(
        {k: c.mcc for k, c in scenario.merchants.categories.items()})).all()


def test_home_and_regional_purchases_keep_seed_000s_ratio_and_distances(frame, world, world_index, scenario):
    pos = frame[frame["channel"] == "pos"]
    customer_row = pd.Index(world["customers"]["customer_id"].to_pylist()).get_indexer(pos["customer_id"])
    merchant_row = pd.Index(world["merchants"]["merchant_id"].to_pylist()).get_indexer(pos["merchant_id"])
    category = pd.Index(list(scenario.merchants.categories)).get_indexer(pos["category"])
    local = np.zeros(len(pos), dtype=bool)
    for c, shops in enumerate(world_index.shops):
        mine = category == c
        local[mine] = (shops[world_index.local_shops[c][customer_row[mine]]] == merchant_row[mine, None]).any(axis=1)
    # Home purchases are at one of the nearest shops of their category; a regional one rarely is, where shops
    # are dense (for rare categories the nearest shop to a regional target is often a "nearest" one anyway).
    dense = pos["category"].isin(["Grocery", "Restaurant/Cafeteria"]).to_numpy()
    assert local[dense].mean() == pytest.approx(1 - scenario.card_transactions.regional_share, abs=0.02)
    away = distance_deg(world_index.home_lat[customer_row], world_index.home_lon[customer_row],
                        pos["lat"].to_numpy(), pos["lon"].to_numpy())
    radius = scenario.card_transactions.regional_radius_deg
    assert np.median(away[local & dense]) < 0.1 < np.median(away[~local & dense])
    # regional: within the box around home, plus the way to the nearest shop
    assert np.quantile(away[~local & dense], 0.99) < radius * np.sqrt(2) + 0.3
    # the terminal is where the transaction happens
    merchants = world["merchants"].to_pandas().set_index("merchant_id")
    assert np.allclose(merchants.loc[pos["merchant_id"], "lat"].to_numpy(), pos["lat"].to_numpy())


def test_purchase_amounts_follow_the_documented_model(frame, world, world_index, scenario):
    config = scenario.card_transactions
    purchases = frame[frame["channel"].isin(["pos", "online"])]
    customer_row = pd.Index(world["customers"]["customer_id"].to_pylist()).get_indexer(purchases["customer_id"])
    prices = scenario.merchants.categories
    low = purchases["category"].map({k: c.min_price for k, c in prices.items()}).to_numpy()
    high = purchases["category"].map({k: c.max_price for k, c in prices.items()}).to_numpy()
    scale = config.reference_unit_value * world_index.spend_factor[customer_row]
    amount = purchases["amount"].to_numpy()
    assert (amount >= np.round(low * scale * config.home_multiplier.min, 2) - 0.01).all()
    assert (amount <= np.round(high * scale * config.regional_multiplier.max, 2) + 0.01).all()
    # high spenders spend more: the spend tier carries through
    tiers = world["customers"].to_pandas()["spend_tier"].to_numpy()[customer_row]
    medians = {tier: np.median(amount[tiers == tier]) for tier in ("low", "medium", "high")}
    assert medians["low"] < medians["medium"] < medians["high"]


def test_bucket_distribution_restricted_to_a_range_keeps_seed_003s_shape(scenario):
    buckets = BucketDistribution(scenario.card_transactions.amount_buckets)
    draws = buckets.sample(np.random.default_rng(0), 0.01, 30000, 200_000)
    for bucket in scenario.card_transactions.amount_buckets:
        share = ((draws >= bucket.min) & (draws < bucket.max)).mean()
        assert share == pytest.approx(bucket.share, abs=0.004)
    grocery = buckets.sample(np.random.default_rng(1), 0.01, 100, 100_000)
    assert grocery.min() >= 0.01 and grocery.max() <= 100
    # inside the range, the buckets keep their relative weights: 52.5 % vs 5 % + 7.5 %
    assert (grocery >= 10).mean() == pytest.approx(0.525 / 0.65, abs=0.01)


def test_atm_runs_are_3_to_10_withdrawals_6_to_168_hours_apart(scenario, world_index):
    atm = scenario.card_transactions.atm
    runs = atm_runs(scenario, world_index, date(2026, 1, 5))
    lengths = np.bincount(runs.run)
    assert lengths.min() >= atm.sequence_length.min and lengths.max() <= atm.sequence_length.max
    assert lengths.mean() == pytest.approx((atm.sequence_length.min + atm.sequence_length.max) / 2, abs=0.2)
    same_run = runs.run[1:] == runs.run[:-1]
    gaps_h = np.diff(runs.event_ms)[same_run] / 3_600_000
    assert gaps_h.min() >= atm.gap_hours.min and gaps_h.max() <= atm.gap_hours.max
    assert gaps_h.mean() == pytest.approx((atm.gap_hours.min + atm.gap_hours.max) / 2, abs=3)
    assert (runs.card[1:][same_run] == runs.card[:-1][same_run]).all()  # one card per run


def test_atm_withdrawals_are_at_the_home_atm_in_steps_and_replay_their_runs(frame, days, world, world_index, scenario):
    atm = scenario.card_transactions.atm
    withdrawals = frame[frame["channel"] == "atm"]
    customer_row = pd.Index(world["customers"]["customer_id"].to_pylist()).get_indexer(withdrawals["customer_id"])
    home_atm = world["merchants"]["merchant_id"].to_numpy(zero_copy_only=False)[world_index.home_atm[customer_row]]
    assert (withdrawals["merchant_id"].to_numpy() == home_atm).all()  # within 0.01° of the home ATM: at it
    assert (withdrawals["amount"] % atm.amount_step == 0).all()
    assert withdrawals["amount"].between(atm.amount_step, atm.max_amount).all()
    assert (withdrawals["category"] == "Cash Withdrawal").all() and withdrawals["device_id"].isna().all()
    # a day's withdrawals are exactly the replayed runs' withdrawals that arrive that day
    day = DAYS[0]
    expected = 0
    start = np.datetime64(day, "ms").astype(np.int64)
    for back in range(0, 75):
        runs = atm_runs(scenario, world_index, day - timedelta(days=back))
        expected += int(((runs.arrival_ms >= start) & (runs.arrival_ms < start + 86_400_000)).sum())
    assert (days[day]["channel"].to_numpy(zero_copy_only=False) == "atm").sum() == expected


def test_transfers_go_to_the_accounts_saved_beneficiaries_on_the_trusted_device(frame, world, scenario):
    transfers = frame[frame["channel"] == "transfer"]
    saved = set(zip(world["account_beneficiaries"]["account_id"].to_pylist(),
                    world["account_beneficiaries"]["beneficiary_id"].to_pylist()))
    assert all(pair in saved for pair in zip(transfers["account_id"], transfers["beneficiary_id"]))
    assert transfers["merchant_id"].isna().all()
    trusted = dict(zip(world["accounts"]["account_id"].to_pylist(), world["accounts"]["trusted_device_id"].to_pylist()))
    digital = frame[frame["channel"].isin(["online", "transfer"])]
    assert (digital["device_id"] == digital["account_id"].map(trusted)).all()
    assert frame.loc[frame["channel"].isin(["pos", "atm"]), "device_id"].isna().all()
    purchases = frame["channel"].isin(["pos", "online"])
    assert (frame.loc[~purchases, "recipient_status"] == "FAVORITE").all()
    new = (frame.loc[purchases, "recipient_status"] == "NEW_RECIPIENT").mean()
    assert new == pytest.approx(scenario.card_transactions.new_recipient_share, abs=0.005)


def test_purchases_follow_the_daytime_profile(frame, scenario):
    config = scenario.card_transactions
    daytime = frame[frame["channel"].isin(["pos", "online", "transfer"])]
    hours = daytime["event_time"].dt.hour
    first, last = config.purchase_hours
    assert hours.between(first, last).all()
    weights = np.array(config.hourly_weights) / sum(config.hourly_weights)
    observed = hours.value_counts(normalize=True).sort_index().to_numpy()
    assert np.abs(observed - weights).max() < 0.005
    # millisecond timestamps: nothing sits on the whole-second grid more than chance allows
    assert (daytime["event_time"].dt.microsecond == 0).mean() < 0.01


def test_same_day_is_identical_whenever_and_however_it_is_generated(scenario, world_index, days):
    again = card_transactions(scenario, world_index, DAYS[1])
    assert again.equals(days[DAYS[1]])
