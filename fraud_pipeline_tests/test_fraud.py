"""Fraud injection: each scenario's shape, labels against episodes, midnight, and the leakage guard.

Seven days at the default volume (100,000 transactions a day); tolerances are stated per test.
"""

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraud_pipeline import schemas
from fraud_pipeline.generators.card_transactions import card_transactions
from fraud_pipeline.generators.fraud import fraud_world, inject, km_between
from fraud_pipeline.quality import foreign_key_finding, key_findings

FIRST = date(2026, 1, 1)
DAYS = [FIRST + timedelta(days=i) for i in range(8)]
ID_COLUMNS = ("transaction_id", "card_number", "account_id", "customer_id", "merchant_id", "beneficiary_id",
              "device_id")
# What each scenario is defined by may tell it apart; nothing else may.
DEFINING_SIGNALS = {
    "card_fraud_chain": set(),
    "atm_abroad": {"country", "province", "city", "lat", "lon"},
    "high_velocity": set(),
    "account_takeover": set(),
}


@pytest.fixture(scope="module")
def fraud_index(scenario, world, world_index):
    return fraud_world(scenario, world_index, world["customers"], world["accounts"], world["devices"],
                       world["beneficiaries"])


@pytest.fixture(scope="module")
def run(scenario, world_index, fraud_index):
    """Eight consecutive days: clean, fraud and episodes per day, as a range run makes them."""
    clean = {day: card_transactions(scenario, world_index, day) for day in DAYS}
    out = {}
    for day in DAYS:
        before = clean.get(day - timedelta(days=1))
        out[day] = (clean[day], *inject(scenario, fraud_index, day, clean[day], before))
    return out


@pytest.fixture(scope="module")
def fraud(run) -> pd.DataFrame:
    return pd.concat([f.to_pandas() for _, f, _ in run.values()], ignore_index=True)


@pytest.fixture(scope="module")
def episodes(run) -> pd.DataFrame:
    frame = pd.concat([e.to_pandas() for _, _, e in run.values()], ignore_index=True)
    return frame.assign(parameters=frame["parameters"].map(json.loads))


@pytest.fixture(scope="module")
def genuine(run) -> pd.DataFrame:
    return pd.concat([c.to_pandas() for c, _, _ in run.values()], ignore_index=True)


def test_fraud_rows_share_the_schema_ids_and_keys_of_genuine_ones(run, world):
    for day, (clean, fraud, episodes) in run.items():
        assert fraud.schema == clean.schema == schemas.CARD_TRANSACTIONS.arrow_schema
        assert episodes.schema == schemas.FRAUD_EPISODES.arrow_schema
        both = pa.concat_tables([clean, fraud])
        assert all(f.passed for f in key_findings(both, ("transaction_id",))), day
        for fk in schemas.FRAUD_TRANSACTIONS.foreign_keys:
            assert foreign_key_finding(fraud[fk.column].drop_null(), world[fk.table][fk.ref_column], "").passed, fk
        assert fraud["is_fraud"].to_pandas().all() and not clean["is_fraud"].to_pandas().any()


def test_each_scenario_adds_its_configured_share_of_rows(run, fraud, scenario):
    clean_rows = sum(c.num_rows for c, _, _ in run.values())
    observed = fraud["fraud_scenario"].value_counts()
    # episodes cluster rows: ±20 % for the frequent scenarios, ±35 % for the rare ones over 8 days
    tolerance = {"card_fraud_chain": 0.2, "atm_abroad": 0.35, "high_velocity": 0.35, "account_takeover": 0.35}
    for name, relative in tolerance.items():
        rate = getattr(scenario.fraud, name).rate
        assert observed[name] / clean_rows == pytest.approx(rate, rel=relative), name


def test_chains_are_3_to_10_rows_30_to_120_seconds_apart_right_after_a_real_purchase(fraud, episodes, genuine, scenario):
    config = scenario.fraud.card_fraud_chain
    chains = episodes[episodes["scenario"] == "card_fraud_chain"]
    assert chains["transactions"].between(config.length.min, config.length.max).all()
    assert chains["transactions"].mean() == pytest.approx((config.length.min + config.length.max) / 2, abs=0.6)
    rows = fraud[fraud["fraud_scenario"] == "card_fraud_chain"].sort_values(["fraud_episode_id", "event_time"])
    same = rows["fraud_episode_id"].eq(rows["fraud_episode_id"].shift())
    gaps = rows["event_time"].diff().dt.total_seconds()[same]
    assert gaps.between(config.gap_seconds.min, config.gap_seconds.max).all()
    assert gaps.mean() == pytest.approx((config.gap_seconds.min + config.gap_seconds.max) / 2, abs=4)
    anchors = genuine.set_index("transaction_id")
    anchor = anchors.loc[chains["parameters"].map(lambda p: p["anchor_transaction_id"])]
    assert (anchor["card_number"].to_numpy() == chains["card_number"].to_numpy()).all()
    after = (chains["start_time"].to_numpy() - anchor["event_time"].to_numpy()) / np.timedelta64(1, "s")
    assert ((after >= config.gap_seconds.min) & (after <= config.gap_seconds.max)).all()
    # amounts come from the normal model: no giveaway constant, same range of values as genuine purchases
    assert rows["amount"].nunique() > 0.95 * len(rows)
    assert rows["amount"].median() == pytest.approx(genuine.loc[genuine["channel"] == "pos", "amount"].median(),
                                                    rel=0.5)
    assert rows["channel"].isin(["online", "pos"]).all()
    assert (rows["channel"] == "online").mean() == pytest.approx(config.online_share, abs=0.06)


def test_atm_abroad_is_impossible_travel_hours_after_a_withdrawal_at_home(fraud, episodes, genuine, world, scenario):
    config = scenario.fraud.atm_abroad
    abroad = episodes[episodes["scenario"] == "atm_abroad"]
    anchor = genuine.set_index("transaction_id").loc[abroad["parameters"].map(lambda p: p["anchor_transaction_id"])]
    assert (anchor["channel"] == "atm").all() and (anchor["country"] == "ZA").all()
    hours = (abroad["start_time"].to_numpy() - anchor["event_time"].to_numpy()) / np.timedelta64(1, "h")
    assert ((hours >= config.delay_hours.min) & (hours <= config.delay_hours.max)).all()
    rows = fraud[fraud["fraud_scenario"] == "atm_abroad"].set_index("fraud_episode_id").loc[abroad["episode_id"]]
    distance = km_between(anchor["lat"], anchor["lon"], rows["lat"], rows["lon"])
    assert (distance >= config.min_distance_km).all()
    assert (rows["country"] != "ZA").all() and rows["province"].isna().all()
    assert (rows["channel"] == "atm").all() and (rows["category"] == "Cash Withdrawal").all()
    # older customers are the likelier victims: seed 003's weights put ~85 % of victims at 75 or over,
    # against ~31 % of all customers
    ages = world["customers"].to_pandas().set_index("customer_id").loc[abroad["customer_id"], "age"]
    assert (ages >= 75).mean() > 0.7


def test_high_velocity_is_at_night_in_another_province_at_5_to_12_times_the_usual_spend(fraud, world, world_index,
                                                                                       scenario):
    config = scenario.fraud.high_velocity
    rows = fraud[fraud["fraud_scenario"] == "high_velocity"]
    customers = world["customers"].to_pandas().set_index("customer_id").loc[rows["customer_id"]]
    first_hour, last_hour = config.hours
    hours = rows["event_time"].dt.hour
    assert hours.between(first_hour, last_hour + 1).all()  # the burst may run past the last start hour
    assert (rows["province"].to_numpy() != customers["home_province"].to_numpy()).all()
    multiple = rows["amount"].to_numpy() / customers["avg_spend"].to_numpy()
    assert ((multiple >= config.spend_multiplier.min - 0.01) & (multiple <= config.spend_multiplier.max + 0.01)).all()
    trusted = dict(zip(world["accounts"]["account_id"].to_pylist(), world["accounts"]["trusted_device_id"].to_pylist()))
    assert (rows["device_id"] != rows["account_id"].map(trusted)).all()
    assert (rows["recipient_status"] == "NEW_RECIPIENT").all()


def test_account_takeover_drains_to_high_risk_payees_from_an_untrusted_often_risky_device(fraud, episodes, world,
                                                                                          scenario):
    config = scenario.fraud.account_takeover
    rows = fraud[fraud["fraud_scenario"] == "account_takeover"]
    accounts = world["accounts"].to_pandas().set_index("account_id")
    assert (rows["device_id"].to_numpy() != accounts.loc[rows["account_id"], "trusted_device_id"].to_numpy()).all()
    beneficiaries = world["beneficiaries"].to_pandas().set_index("beneficiary_id")
    assert beneficiaries.loc[rows["beneficiary_id"], "is_high_risk"].all()
    assert (rows["channel"] == "transfer").all()
    devices = world["devices"].to_pandas().set_index("device_id")
    risky = devices[["rooted_flag", "emulator_flag", "vpn_flag"]].any(axis=1)
    used = episodes[episodes["scenario"] == "account_takeover"]["parameters"].map(lambda p: p["device_id"])
    assert risky.loc[used].mean() > 2 * risky.mean()  # over-represented (weight 5 → about 2.7× at these rates)
    takeovers = episodes[episodes["scenario"] == "account_takeover"]
    assert takeovers["transactions"].between(config.transfers.min, config.transfers.max).all()
    drained = takeovers.set_index("episode_id")["total_amount"] / accounts.loc[takeovers["account_id"],
                                                                             "avg_balance"].to_numpy()
    assert drained.between(config.drain_share.min - 0.01, config.drain_share.max + 0.01).all()


def test_every_row_agrees_with_its_episode_across_the_days(fraud, episodes, scenario):
    assert episodes["episode_id"].is_unique
    per_episode = fraud.groupby("fraud_episode_id").agg(rows=("amount", "size"), total=("amount", "sum"),
                                                        scenario=("fraud_scenario", "first"),
                                                        card=("card_number", "first"),
                                                        known=("label_available_at", "first"))
    # the last day's episodes may continue after it; every other episode is complete within the eight days
    complete = episodes[episodes["end_time"] < pd.Timestamp(DAYS[-1])].set_index("episode_id")
    joined = per_episode.loc[complete.index]
    assert (joined["rows"] == complete["transactions"]).all()
    assert np.allclose(joined["total"], complete["total_amount"], atol=0.01 * complete["transactions"])
    assert (joined["scenario"] == complete["scenario"]).all() and (joined["card"] == complete["card_number"]).all()
    assert (joined["known"] == complete["label_available_at"]).all()
    assert set(per_episode.index) <= set(episodes["episode_id"]) | set()
    delay = (complete["label_available_at"] - complete["end_time"]).dt.total_seconds() / 86400
    for name, config in ((n, getattr(scenario.fraud, n)) for n in complete["scenario"].unique()):
        mine = delay[complete["scenario"] == name]
        assert mine.between(config.label_delay_days.min, config.label_delay_days.max).all(), name


def test_episodes_that_cross_midnight_put_each_row_in_its_own_day(run):
    crossing = 0
    for day, (_, fraud, _) in run.items():
        frame = fraud.to_pandas()
        assert (frame["arrival_time"].dt.date == day).all()
        started = pd.to_datetime(frame["fraud_episode_id"].str.split("-").str[1], format="%Y%m%d").dt.date
        crossing += int((started < day).sum())
    assert crossing > 0  # the days tested do contain episodes from the day before


def test_a_day_alone_equals_the_same_day_in_the_range(run, scenario, world_index, fraud_index):
    day = DAYS[5]
    alone = inject(scenario, fraud_index, day, card_transactions(scenario, world_index, day),
                   card_transactions(scenario, world_index, day - timedelta(days=1)))
    assert alone[0].equals(run[day][1]) and alone[1].equals(run[day][2])


def _shapes(values: pd.Series) -> set[str]:
    """Id shapes: every digit masked, so T2026010312345678 and T2026010399999999 look alike."""
    masked = pc.replace_substring_regex(pa.array(values.dropna().unique(), pa.string()), r"\d", "9")
    return set(masked.to_pylist()) | ({"<null>"} if values.isna().any() else set())


@pytest.fixture(scope="module")
def genuine_profile(genuine) -> dict:
    """What the genuine rows look like, column by column: computed once for every scenario's guard."""
    labels = {"is_fraud", "fraud_scenario", "fraud_episode_id", "label_available_at"}
    profile = {}
    for column in genuine.columns.difference(labels):
        g = genuine[column]
        if pd.api.types.is_datetime64_any_dtype(g):
            profile[column] = ("time", g.min(), g.max(), bool((g.dt.microsecond == 0).all()))
        elif pd.api.types.is_numeric_dtype(g):
            profile[column] = ("number", g.min(), g.max())
        elif column in ID_COLUMNS:
            profile[column] = ("id", _shapes(g))
        else:
            profile[column] = ("text", set(g.fillna("<null>").unique()))
    return profile


def single_column_separators(profile: dict, fraud: pd.DataFrame) -> set[str]:
    """Raw columns whose values alone tell these fraud rows from the genuine ones, perfectly.

    Numbers and times: a threshold (all fraud above, or all below, every genuine value), a constant,
    or all on the whole-second grid. Ids: disjoint shapes. Other text: no fraud value (null
    included) ever seen in genuine rows.
    """
    separating = set()
    for column, (kind, *summary) in profile.items():
        f = fraud[column]
        if kind == "time":
            low, high, genuine_on_grid = summary
            if ((f.dt.microsecond == 0).all() and not genuine_on_grid) or f.min() > high or f.max() < low:
                separating.add(column)
        elif kind == "number":
            low, high = summary
            if f.nunique() == 1 or f.min() > high or f.max() < low:
                separating.add(column)
        elif kind == "id":
            if not _shapes(f) & summary[0]:
                separating.add(column)
        elif not set(f.fillna("<null>").unique()) & summary[0]:
            separating.add(column)
    return separating


@pytest.mark.parametrize("name", list(DEFINING_SIGNALS))
def test_no_single_column_gives_a_scenario_away_beyond_what_defines_it(genuine_profile, fraud, name):
    rows = fraud[fraud["fraud_scenario"] == name]
    assert len(rows) > 20
    assert single_column_separators(genuine_profile, rows) <= DEFINING_SIGNALS[name]


def test_the_leakage_guard_catches_a_planted_leak(genuine_profile, fraud):
    """The guard can fail: a constant amount, a sentinel id shape or whole-second times are caught."""
    rows = fraud[fraud["fraud_scenario"] == "card_fraud_chain"].copy()
    assert "amount" in single_column_separators(genuine_profile, rows.assign(amount=999.0))
    sentinel = rows.assign(transaction_id="FRAUD-" + rows.index.astype(str))
    assert "transaction_id" in single_column_separators(genuine_profile, sentinel)
    on_grid = rows.assign(event_time=rows["event_time"].dt.floor("s"))
    assert "event_time" in single_column_separators(genuine_profile, on_grid)
