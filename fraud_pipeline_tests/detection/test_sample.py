"""The detection scorecard's sample: whole customers, chosen by a keyed hash of the customer number alone — the same
whatever days are read in whatever order or partitioning, at its share up to binomial noise, a card wholly in or out —
and a scorecard of the sample that is the scorecard of the tables cut down to those customers beforehand."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fraud_pipeline.core.labels import SCENARIOS
from fraud_pipeline.detection import report, sample
from fraud_pipeline.detection.features import FEATURES, features, labelled_stream
from fraud_pipeline.detection.scorecard import TOP_CARDS, scorecard
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.scenario.detection import Detection
from fraud_pipeline_tests.conftest import SMALL_POPULATION, scaled, simulated_days

SHARE = 0.5  # of a small bank with plenty of fraud: enough known fraud on the training days to train on
SIGMAS = 4  # binomial tolerance: a sampled share further than 4 standard errors from the field fails (1 in 16,000)
# features that count other customers' payments: measured within the sample, as a bank of its size would see them
COUNTS_OTHERS = {"merchant_risk_1d", "merchant_risk_7d", "merchant_risk_30d", "merchant_count_1d",
                 "merchant_count_7d", "merchant_count_30d", "device_accounts"}


@pytest.fixture(scope="module")
def rich(scenario):
    """The small bank of the scorecard tests in test_fraud (the same simulated days, cached for the session)."""
    return scaled(scenario, population=SMALL_POPULATION, card_transactions={"per_day": 800},
                  fraud={name: {"rate": 0.01} for name in SCENARIOS})


@pytest.fixture(scope="module")
def sampled(rich):
    """The same bank, its scorecard on half of its customers (no floor: the bank has only 400)."""
    return scaled(rich, detection={"sample_share": SHARE, "min_sample_customers": 0})


@pytest.fixture(scope="module")
def days(rich, bank_cache):
    return simulated_days(rich, 21, bank_cache)


def _tolerance(n: int, share: float) -> float:
    return SIGMAS * np.sqrt(share * (1 - share) / n)


def _write_days(store: ObjectStore, scenario, days: dict, parts: int, rng: np.random.Generator | None) -> None:
    """The entity tables, and the protocol's days of card_transactions and fraud_transactions partitioned by arrival
    day, each day as `parts` part files; with `rng`, each day's rows shuffled and the days written last to first."""
    for name in report.ENTITIES:
        store.write_table("entities", name, pa.Table.from_pandas(days["entities"][name], preserve_index=False),
                          scenario.content_hash)
    keys = report.protocol(scenario).days
    for layer, name, frame in (("events", "card_transactions", days["transactions"]),
                               ("fraud", "fraud_transactions", days["fraud"])):
        arrival = frame["arrival_time"].dt.date
        for day in (keys[::-1] if rng is not None else keys):
            rows = frame[arrival == day]
            if rng is not None:
                rows = rows.iloc[rng.permutation(len(rows))]
            bounds = np.linspace(0, len(rows), parts + 1).astype(int)
            chunks = [pa.Table.from_pandas(rows.iloc[a:b], preserve_index=False) for a, b in zip(bounds, bounds[1:])]
            store.write_table(layer, name, chunks, scenario.content_hash, partition=day.isoformat())


def test_membership_is_a_keyed_uniform_of_the_customer_number_below_the_share():
    numbers = np.arange(1_000_000)
    for share in (0.05, 0.25, 0.5):
        chosen = sample.chosen(numbers, seed=20260101, share=share)
        assert abs(chosen.mean() - share) <= _tolerance(len(numbers), share)
        # nested: a larger share keeps every customer of a smaller one (one uniform per customer)
        assert not (sample.chosen(numbers, 20260101, 0.05) & ~chosen).any()
    assert sample.chosen(numbers, 20260101, 1.0).all()
    assert (sample.chosen(numbers, 7, 0.25) != sample.chosen(numbers, 20260101, 0.25)).mean() > 0.3  # keyed by seed
    ids = pd.Series(["C00000000", "C00000042", "C12345678"])
    assert sample.customer_numbers(ids).tolist() == [0, 42, 12345678]
    assert sample.in_sample(ids, 3, 0.25).tolist() == sample.chosen(np.array([0, 42, 12345678]), 3, 0.25).tolist()
    with pytest.raises(ValueError, match="customer ids must be 'C' and digits"):
        sample.customer_numbers(pd.Series(["C00000001", "A00000001"]))


def test_the_default_sample_holds_its_share_of_the_customers_within_binomial_tolerance(scenario):
    """The default bank's 20,000 customers at the default share: the sampled share within 4 binomial standard errors
    (0.012 at 0.25), as the asset's metadata reports it."""
    share = report.share(scenario)
    assert share == scenario.detection.sample_share == 0.25
    customers = scenario.population.customers
    chosen = sample.chosen(np.arange(customers), scenario.seed, share)
    assert abs(chosen.mean() - share) <= _tolerance(customers, share)


def test_a_small_bank_is_sampled_down_to_the_floor_at_most():
    detection = Detection()
    assert detection.share(20_000) == 0.25 and detection.share(4_000) == 0.5 and detection.share(400) == 1.0
    assert Detection(sample_share=0.1, min_sample_customers=0).share(400) == 0.1


def test_a_customer_and_each_card_are_wholly_in_the_sample_or_wholly_out(sampled, days):
    rows = pd.concat([days["transactions"], days["fraud"]], ignore_index=True)
    rows = rows.assign(kept=sample.in_sample(rows["customer_id"], sampled.seed, SHARE))
    for key in ("customer_id", "account_id", "card_number"):
        assert (rows.groupby(key)["kept"].nunique() == 1).all(), key
    customers = rows.groupby("customer_id")["kept"].first()
    assert abs(customers.mean() - SHARE) <= _tolerance(len(customers), SHARE)
    fraud = rows[rows["is_fraud"]]
    assert 0 < fraud["kept"].sum() < len(fraud)  # fraud rows are sampled like the others, not kept or dropped whole
    kept = sample.keep_frame(rows, sampled.seed, SHARE)
    assert kept.groupby("customer_id").size().equals(rows[rows["kept"]].groupby("customer_id").size())


def test_the_sample_read_from_storage_is_the_same_however_the_days_are_partitioned_and_ordered(sampled, days,
                                                                                             tmp_path):
    """Two stores of the same days — one part file a day in order; three part files a day, rows shuffled, days
    written last to first — give the same sampled payments, the ones of the sampled customers in the whole tables."""
    stores = [ObjectStore(root_url=str(tmp_path / name)) for name in ("plain", "shuffled")]
    _write_days(stores[0], sampled, days, 1, None)
    _write_days(stores[1], sampled, days, 3, np.random.default_rng(5))
    read = [report.stored(store, sampled) for store in stores]
    for i in (0, 1):  # card_transactions, fraud_transactions
        plain, shuffled = (r[i].sort_values("transaction_id", ignore_index=True) for r in read)
        pd.testing.assert_frame_equal(plain, shuffled, check_exact=True)
        assert list(plain.columns) == list(report.STREAM_COLUMNS)
        whole = (days["transactions"], days["fraud"])[i]
        wanted = sample.keep_frame(whole[whole["direction"] == "debit"], sampled.seed, SHARE)
        assert sorted(plain["transaction_id"]) == sorted(wanted["transaction_id"])
    found = [report.run(sampled, *r)[0] for r in read]
    pd.testing.assert_frame_equal(found[0], found[1], check_exact=True)
    for name, (columns, key) in report.ENTITY_READS.items():  # only the entity rows the sample names
        assert list(read[0][2][name].columns) == list(columns)
        assert read[0][2][name][key].isin(pd.concat([read[0][0][key], read[0][1][key]])).all(), name


def test_the_scorecard_of_the_sample_is_the_scorecard_of_the_tables_prefiltered_to_its_customers(sampled, days):
    transactions, fraud, entities = days["transactions"], days["fraud"], days["entities"]
    found, _, about = report.run(sampled, transactions, fraud, entities)
    cut = [sample.keep_frame(frame, sampled.seed, SHARE) for frame in (transactions, fraud)]
    rows = labelled_stream(*cut)
    expected, _ = scorecard(rows, features(rows, entities, "ZA"), report.protocol(sampled), sampled.seed, SCENARIOS,
                            top=round(TOP_CARDS * SHARE))
    pd.testing.assert_frame_equal(found, expected, check_exact=True)
    pd.testing.assert_frame_equal(report.run(sampled, *cut, entities)[0], found, check_exact=True)
    assert about["customers_in_sample"] < sampled.population.customers and about["top_cards_per_day"] == 50
    assert about["payments_scored"] == len(rows) and about["fraud_cards"] == rows.loc[rows["is_fraud"],
                                                                                      "card_number"].nunique()
    assert 0 < found["test_rows"].max() < len(labelled_stream(transactions, fraud))


def test_a_sampled_customers_features_are_the_banks_but_for_those_counting_other_customers(sampled, days):
    """Keeping whole customers keeps every account window, velocity, geography, device and payee feature as the
    whole bank gives it (to rounding: window sums are differences of running totals); only a merchant's risk and
    volume and a device's accounts count the other customers' payments."""
    entities = days["entities"]
    whole = labelled_stream(days["transactions"], days["fraud"])
    part = labelled_stream(*(sample.keep_frame(f, sampled.seed, SHARE) for f in (days["transactions"], days["fraud"])))
    on_whole = features(whole, entities, "ZA").set_index(whole["transaction_id"])
    on_part = features(part, entities, "ZA").set_index(part["transaction_id"])
    on_whole = on_whole.loc[on_part.index]
    own = [name for name in FEATURES if name not in COUNTS_OTHERS]
    pd.testing.assert_frame_equal(on_part[own], on_whole[own], rtol=1e-9)
    assert (on_part["merchant_count_30d"] <= on_whole["merchant_count_30d"]).all()
    assert (on_part["merchant_count_30d"] < on_whole["merchant_count_30d"]).any()


def test_the_sample_is_described_where_the_scorecard_is_shown(sampled, days):
    _, _, about = report.run(sampled, days["transactions"], days["fraud"], days["entities"])
    note = report.sample_note(about)
    assert "50% of the customers" in note and "keyed hash of the customer number" in note
    assert f"{about['fraud_cards']:,} fraud cards in {about['fraud_episodes']:,} episodes" in note
    assert "top 50 cards" in note and "unbiased" in note
    assert sampled.start_date + timedelta(days=20) == report.protocol(sampled).test_last
