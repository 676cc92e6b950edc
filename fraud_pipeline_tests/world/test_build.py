"""The world built from the entity tables: what each account had paid before the calendar, keyed in chunks, is the
set a plain join of the tables gives."""

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pytest

from fraud_pipeline.core.columns import row_of
from fraud_pipeline.world import build
from fraud_pipeline.world.devices import day_number
from fraud_pipeline_tests.conftest import generate_world, scaled


def _known_by_joins(world, entities, start: int) -> np.ndarray:
    """The reference: (account, recipient) keys by pandas joins — usual merchants of the account's customer, payees
    saved before `start`, the customer's other accounts."""
    usual = entities["customer_merchants"]
    accounts_of = pd.DataFrame({"account": np.arange(world.n_accounts), "customer": world.account_customer})
    pairs = pd.DataFrame({"customer": row_of(usual["customer_id"], entities["customers"]["customer_id"]),
                          "merchant": row_of(usual["merchant_id"], entities["merchants"]["merchant_id"])}).merge(
        accounts_of, on="customer")
    merchants = pairs["account"].to_numpy() * world.key_space + pairs["merchant"].to_numpy()
    account = np.repeat(np.arange(world.n_accounts), np.diff(world.payee_offsets))
    saved = world.payee_added < start
    payees = account[saved] * world.key_space + len(world.merchant_id) + world.payee[saved]
    siblings = accounts_of.merge(accounts_of, on="customer", suffixes=("", "_other"))
    siblings = siblings[siblings["account"] != siblings["account_other"]]
    others = siblings["account"].to_numpy() * world.key_space + len(world.merchant_id) + len(world.beneficiary_id) \
        + siblings["account_other"].to_numpy()
    return np.unique(np.concatenate([merchants, payees, others]))


def test_known_recipients_keyed_in_chunks_are_the_joins_set(small_scenario, monkeypatch):
    entities = generate_world(small_scenario)
    whole = build.build_world(small_scenario, entities)
    monkeypatch.setattr(build, "PAIRS_AT_ONCE", 997)  # many chunks, a prime so they split customers' pairs
    chunked = build.build_world(small_scenario, entities)
    reference = _known_by_joins(whole, entities, day_number(small_scenario.start_date))
    assert entities["customer_merchants"].num_rows > 5 * 997
    assert len(reference) > entities["customer_merchants"].num_rows  # pairs, payees and siblings all counted
    np.testing.assert_array_equal(whole.known_at_start, reference)
    np.testing.assert_array_equal(chunked.known_at_start, reference)


@pytest.mark.parametrize("overrides", [
    # internet cafés with one user each: some computers have none (found by a reviewer: their addresses repeated)
    {"population": {"block_customers": 50}, "devices": {"public_computers": {"share": 0.3, "users_per_computer": 1}}},
    # rings with many addresses of their own: their pool is sized from the scenario, never into the computers'
    {"fraud": {"rings": {"count": 300, "ips": {"min": 2, "max": 101}}}},
    # blocks of a few customers, fewer devices than blocks
    {"population": {"block_customers": 7, "devices": 40}},
])
def test_every_address_and_id_is_unique_and_every_takeover_has_a_salary_account(small_scenario, overrides):
    """Stage 4b's keyed numbering on odd banks: ids, e-mails, card numbers, device ids and IP addresses unique; the
    spend tiers near their shares whatever the block size (bounds from the customers' model, not the block's
    ranks); a takeover's victim is a salary account even in a block that has none (it has no takeover)."""
    scenario = scaled(small_scenario, **overrides)
    entities = generate_world(scenario)
    for table, column in (("customers", "customer_id"), ("customers", "email"), ("accounts", "account_id"),
                          ("cards", "card_number"), ("devices", "device_id")):
        assert pc.count_distinct(entities[table][column]).as_py() == entities[table].num_rows, (table, column)
    world = build.build_world(scenario, entities)
    assert pc.count_distinct(world.ip_address).as_py() == len(world.ip_address)
    tiers = pd.Series(entities["customers"]["spend_tier"].to_pylist()).value_counts(normalize=True)
    assert tiers["low"] == pytest.approx(0.6, abs=0.1) and tiers["high"] == pytest.approx(0.1, abs=0.06)
    assert world.salary[world.ato_plan["account"].to_numpy()].all()


def test_a_block_world_works_out_its_channel_weights_and_budget_as_the_bank_does(small_scenario):
    """A block's calibrations from its own rows and the bank's totals (`layout.blockwise_sum`) equal the bank's,
    sliced: what a block world built without the bank's caches (stage 4b) must compute."""
    from dataclasses import fields, replace

    from fraud_pipeline.engine.blocks import block_world
    from fraud_pipeline.money import budget
    from fraud_pipeline.money.activity import NO_TOTALS, bank_totals, block_totals, channel_weights

    scenario = scaled(small_scenario, population={"block_customers": 150})
    bank = build.build_world(scenario, generate_world(scenario))
    whole, bank_budget = channel_weights(bank), budget.of(bank)
    block = replace(block_world(bank, 1), caches={})  # nothing of the bank's computed for it
    accounts = block.global_accounts
    for channel, weights in channel_weights(block).items():
        np.testing.assert_array_equal(weights, whole[channel][accounts])
    mine = budget.of(block)
    first, end = 150, 300
    for f in fields(mine):
        expected = getattr(bank_budget, f.name)
        expected = expected[first:end] if f.name in budget.PER_CUSTOMER else expected[accounts]
        np.testing.assert_array_equal(getattr(mine, f.name), expected, err_msg=f.name)
    # the bank's totals are its blocks' partials added in block order, to the bit: what a driver holding one
    # partial per block (a world built by range) forms
    added = NO_TOTALS
    for b in range(bank.n_blocks):
        added = added.plus(block_totals(replace(block_world(bank, b), caches={})))
    assert added == bank_totals(bank) == bank_totals(block)
    rowless = replace(bank, totals=added, activity=bank.activity[:0], income=bank.income[:0], caches={})
    assert bank_totals(replace(block, bank=rowless)) == added  # a stored directory's, without the rows
