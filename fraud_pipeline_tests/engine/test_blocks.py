"""Customers in blocks: a block's day depends on its block alone (not on which blocks run with it, in what order, or
with what was computed before), and money sent between blocks arrives."""

from datetime import date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraud_pipeline.engine.bank_day import BankState, initial_bank_state, simulate_bank_day
from fraud_pipeline.engine.blocks import block_world
from fraud_pipeline.engine.day import simulate_day
from fraud_pipeline.money.state import initial_state
from fraud_pipeline.world.build import build_world
from fraud_pipeline.world.entities import entity_tables
from fraud_pipeline_tests.conftest import SMALL_POPULATION, scaled

FIRST = date(2026, 1, 1)
DAYS = 3


@pytest.fixture(scope="module")
def bank(scenario):
    """A small bank of four blocks with busy transfers between customers."""
    small = scaled(scenario, population={**SMALL_POPULATION, "block_customers": 100},
                   card_transactions={"per_day": 2_000}, money={"p2p_rate": 0.5})
    return build_world(small, entity_tables(small))


@pytest.fixture(scope="module")
def walked(bank):
    state, days = initial_bank_state(bank), []
    for k in range(DAYS):
        found = simulate_bank_day(bank, state, FIRST + timedelta(days=k))
        days.append(found)
        state = found.state
    return days


def test_the_bank_is_cut_into_fixed_blocks_that_cover_it_once(bank):
    assert bank.n_blocks == 4
    worlds = [block_world(bank, b) for b in range(bank.n_blocks)]
    assert np.array_equal(np.concatenate([w.global_customers for w in worlds]), np.arange(bank.n_customers))
    assert np.array_equal(np.sort(np.concatenate([w.global_accounts for w in worlds])), np.arange(bank.n_accounts))
    assert np.array_equal(np.sort(np.concatenate([w.global_cards for w in worlds])), np.arange(len(bank.card_number)))
    for w in worlds:  # a block's own rows point into the block
        assert w.account_customer.max() < w.n_customers and w.card_account.max() < w.n_accounts
        assert pc.all(pc.equal(w.account_id, bank.account_id.take(pa.array(w.global_accounts)))).as_py()
    with pytest.raises(ValueError, match="block 4 is outside the bank's 4 blocks"):
        block_world(bank, 4)


def test_a_block_alone_in_a_fresh_world_has_the_day_it_has_in_the_bank(bank, walked):
    """The third block computed on its own (a new world, nothing cached, no other block run) equals its rows in the
    bank's run: what a worker on another machine computes, given its inbox."""
    alone = block_world(build_world(bank.scenario, entity_tables(bank.scenario)), 2)
    state = initial_state(alone)
    for k in range(DAYS):
        found = simulate_day(alone, state, FIRST + timedelta(days=k))
        for table in ("transactions", "fraud_transactions", "customer_events"):
            merged = getattr(walked[k], table)
            mine = merged.filter(pc.is_in(merged["customer_id"], alone.customer_id))
            assert getattr(found, table).sort_by([("arrival_time", "ascending")]).equals(mine), (k, table)
        assert found.transactions.num_rows > 0
        state = found.state
        state.pending = walked[k].state.blocks[2].pending  # its own later rows and the credits other blocks sent


def test_transfers_between_blocks_arrive_overnight_and_money_is_conserved(bank, walked):
    day0 = walked[0]
    rows = day0.transactions
    sent = rows.filter(pc.and_(pc.is_valid(rows["counterparty_account_id"]),
                               pc.and_(pc.equal(rows["direction"], "debit"), pc.equal(rows["status"], "approved"))))
    owner = dict(zip(bank.account_id.to_pylist(), (bank.account_customer // 100).tolist()))
    across = [owner[a] != owner[c] for a, c in zip(sent["account_id"].to_pylist(),
                                                   sent["counterparty_account_id"].to_pylist())]
    assert sum(across) > 20  # busy transfers cross blocks
    nxt = walked[1].transactions
    credits = nxt.filter(pc.and_(pc.equal(nxt["transaction_type"], "transfer_in"),
                                 pc.is_valid(nxt["counterparty_account_id"])))
    early = credits.filter(pc.less(credits["event_time"], pa.scalar(datetime(2026, 1, 2, 2), pa.timestamp("ms"))))
    got = sorted(zip(early["account_id"].to_pylist(), early["counterparty_account_id"].to_pylist(),
                     np.round(early["amount"].to_numpy(), 2).tolist()))
    want = sorted(zip(sent["counterparty_account_id"].to_pylist(), sent["account_id"].to_pylist(),
                      np.round(sent["amount"].to_numpy(), 2).tolist()))
    assert got == want  # every credit of day 1, in the payee's block, from the payer, the same amount


def test_the_stored_state_round_trips_block_by_block(walked):
    state = walked[-1].state
    again = BankState.from_tables(state.day, state.to_tables())
    assert len(again.blocks) == len(state.blocks)
    for a, b in zip(again.blocks, state.blocks):
        assert np.array_equal(a.balance, b.balance) and np.array_equal(a.known, b.known)
        assert np.array_equal(a.pending.account, b.pending.account)


def test_findings_of_parts_merge_into_the_findings_of_the_whole():
    from fraud_pipeline.core.findings import SAMPLE, Finding, merged
    parts = [{"keys": [Finding("unique", n, [f"x{n}{i}" for i in range(n)])]} for n in (0, 3, 4)]
    whole = merged(parts)
    assert whole["keys"][0].failures == 7 and whole["keys"][0].examples == ["x30", "x31", "x32", "x40", "x41"][:SAMPLE]
    with pytest.raises(ValueError, match="different rules"):
        merged([{"keys": [Finding("unique", 0, [])]}, {"keys": [Finding("other", 0, [])]}])
