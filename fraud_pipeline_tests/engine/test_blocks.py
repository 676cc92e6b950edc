"""Customers in blocks: a block's day depends on its block alone (not on which blocks run with it, in what order, or
with what was computed before), and money sent between blocks arrives."""

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraud_pipeline.engine.bank_day import ORDER, BankState, initial_bank_state, merge_blocks, simulate_bank_day
from fraud_pipeline.engine.blocks import block_world
from fraud_pipeline.engine.day import simulate_day
from fraud_pipeline.fraud import scenarios as fraud
from fraud_pipeline.money.state import initial_state
from fraud_pipeline.world.build import build_world
from fraud_pipeline.world.devices import day_number
from fraud_pipeline.world.entities import entity_tables
from fraud_pipeline_tests.conftest import BUSY_LAUNDERING, SMALL_POPULATION, scaled

FIRST = date(2026, 1, 1)
DAYS = 3


@pytest.fixture(scope="module")
def bank(scenario):
    """A small bank of four blocks with busy transfers between customers."""
    small = scaled(scenario, population={**SMALL_POPULATION, "block_customers": 100},
                   card_transactions={"per_day": 2_000}, money={"p2p_rate": 0.5}, aml=BUSY_LAUNDERING)
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


def test_a_block_holds_the_ip_addresses_its_customers_can_use_and_names_them_as_the_bank_does(bank, walked):
    """The bank has a home address per customer: a block holds only its customers' homes and computers and the
    shared pools (`World.ip_rows`), and names each of those rows as the bank does; the days walked (every block's)
    use the homes, and never a row the block lacks (`ip_text` refuses one, as it does here)."""
    computers = len(bank.computer_ip)
    pools = len(bank.mobile_ips) + len(bank.vpn_ips) + sum(map(len, bank.foreign_ips)) + bank.ring_ips.size
    for b in range(bank.n_blocks):
        block = block_world(bank, b)
        rows = block.ip_rows
        assert np.all(np.diff(rows) > 0) and pools < len(rows) <= pools + block.n_customers + computers
        assert block.ip_text(rows).equals(bank.ip_text(rows)) and len(block.ip_address) == len(rows)
        assert np.isin(block.home_ip, rows).all() and block.ip_text(np.array([-1])).null_count == 1
        other = np.setdiff1d(np.arange(bank.n_customers), rows)[:1]  # another block's customer's home
        with pytest.raises(ValueError, match=f"block {b} holds no address for IP rows"):
            block.ip_text(other)
    used = pa.concat_arrays([pc.unique(d.transactions["ip_address"].combine_chunks()) for d in walked]
                            + [pc.unique(d.customer_events["ip_address"].combine_chunks()) for d in walked])
    homes = set(bank.ip_text(np.arange(bank.n_customers)).to_pylist())
    assert len(homes & set(used.to_pylist())) > bank.n_customers // 4  # the days do use the homes


def test_a_block_s_device_plan_gives_its_customers_the_devices_the_bank_s_plan_gives_them(bank):
    """A block holds its customers' rows of the device plan only (`DevicePlan.of_customers`), device rows numbered as
    the bank's: the same phones in use and trusted on any day, the same second devices, household members and
    computers, and the bank's counts (every device row, the rings' and the burners')."""
    whole = bank.devices
    start, last = day_number(bank.scenario.start_date), day_number(bank.scenario.horizon_end)
    changed = 0
    for b in range(bank.n_blocks):
        plan = block_world(bank, b).devices
        first, end = b * 100, min((b + 1) * 100, bank.n_customers)
        customers = np.arange(first, end)
        assert plan.first_customer == first and len(plan.first_phone) == end - first
        assert len(plan.phone_change_day) < len(whole.phone_change_day)
        for day in (start, (start + last) // 2, last):
            for trusted in (False, True):
                phone = plan.phone_on(day, customers, trusted)
                assert np.array_equal(phone, whole.phone_on(day, customers, trusted)), (b, day, trusted)
        changed += int((phone != whole.first_phone[first:end]).sum())
        for name in ("second_device", "household_phone_of", "shared_computer", "public_computer"):
            assert np.array_equal(getattr(plan, name), getattr(whole, name)[first:end]), name
        assert (plan.n_devices, len(plan.computer_rows), plan.n_blocks) == (whole.n_devices, len(whole.computer_rows),
                                                                      whole.n_blocks)
        assert np.array_equal(plan.block_burners(b), whole.block_burners(b))
        outside = np.array([end % bank.n_customers])  # the next block's first customer (or the bank's first)
        with pytest.raises(ValueError, match="holds no customer outside them"):
            plan.phone_on(start, outside, False)
        assert np.array_equal(plan.of_customers(first, end).first_phone, plan.first_phone)
        with pytest.raises(ValueError, match="cannot give customers"):
            plan.of_customers(first, end + 1)
    assert changed > 0  # some customers have trusted a new phone by the horizon


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
        for table in ("aml_cases", "aml_reports"):
            merged = getattr(walked[k], table)
            assert getattr(found, table).equals(merged.filter(pc.is_in(merged["customer_id"], alone.customer_id))), k
        assert found.transactions.num_rows > 0
        state = found.state
        state.pending = walked[k].state.blocks[2].pending  # its own later rows and the credits other blocks sent


def test_a_blocks_tables_are_in_merge_order_and_a_range_is_their_stable_merge(bank):
    """Each block's day tables come in the order a range is merged by (so a range of one block is not gathered
    again), and merging the blocks equals a stable sort of them in block order."""
    days = [simulate_day(block_world(bank, b), s, FIRST) for b, s in enumerate(initial_bank_state(bank).blocks)]
    for name, key in ORDER.items():
        tables = [getattr(d, name) for d in days]
        for table in tables:
            times = table[key].to_numpy()
            assert (np.diff(times.astype(np.int64)) >= 0).all(), name
            assert merge_blocks(name, [table]).equals(table)
        expected = pa.concat_tables(tables).to_pandas().sort_values(key, kind="stable").reset_index(drop=True)
        merged = merge_blocks(name, tables)
        pd.testing.assert_frame_equal(merged.to_pandas(), expected)
        if name == "transactions":
            assert merged.num_rows > 100 and not pa.concat_tables(tables).equals(merged)  # the blocks interleave


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


def _users_of_shared_devices(plan) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(device row, customer) of every device the plan lets customers share."""
    customer = np.arange(len(plan.first_phone))
    found = {"first phone": (plan.first_phone, customer)}
    sharer = np.flatnonzero(plan.household_phone_of >= 0)
    phone = plan.first_phone[plan.household_phone_of[sharer]]
    found["household phone"] = (np.concatenate([phone, phone]),
                                np.concatenate([sharer, plan.household_phone_of[sharer]]))
    for name in ("shared_computer", "public_computer"):
        uses = getattr(plan, name) >= 0
        found[name] = (getattr(plan, name)[uses], customer[uses])
    return found


@pytest.mark.parametrize("population", [{"block_customers": 100},  # four blocks, fewer than the rings
                                        {"block_customers": 20},  # twenty: the rings need a second copy
                                        {"block_customers": 50, "devices": 300}])  # fewer devices than customers
def test_devices_people_share_are_shared_within_one_block_and_a_ring_works_for_one_block_a_day(scenario, population):
    """A block's day never sees another's rows: a device two blocks used at one shop within the session timeout
    would give two sessions of one visit. So households, shared and public computers, and phones shared for want of
    devices are of one block; a block has its own burners; and each day deals the rings (all their devices) out to
    the blocks, every block one or more, no ring to two."""
    small = scaled(scenario, population={**SMALL_POPULATION, **population})
    plan = build_world(small, entity_tables(small)).devices
    size = small.population.block_customers
    for name, (device, customer) in _users_of_shared_devices(plan).items():
        blocks = pd.Series(customer // size).groupby(device).nunique()
        assert len(blocks) > 0 and (blocks == 1).all(), name
    if population.get("devices"):  # some customers share a phone, with a customer of their block
        assert pd.Series(plan.first_phone).value_counts().max() > 1
    burners = [plan.block_burners(b) for b in range(plan.n_blocks)]
    assert np.array_equal(np.concatenate(burners), plan.burner_devices)  # cut into runs, one per block
    assert min(len(b) for b in burners) >= small.fraud.rings.burners // plan.n_blocks
    worlds = [block_world(build_world(small, entity_tables(small)), b) for b in range(plan.n_blocks)]
    copies, rings = fraud.rings(worlds[0])["devices"].shape[:2]
    assert copies == plan.ring_replicas == -(-plan.n_blocks // small.fraud.rings.count)
    for day in (FIRST, FIRST + timedelta(days=1)):
        held = [fraud.rings_on(w, day) for w in worlds]
        assert min(len(h) for h in held) >= 1
        every = np.concatenate(held)
        assert len(np.unique(every[:, 0] * rings + every[:, 1])) == len(every) == copies * rings
    assert not np.array_equal(held[0], fraud.rings_on(worlds[0], FIRST))  # another deal the next day


def test_every_device_in_a_days_clickstream_serves_one_block(bank, walked):
    """What the test above is for: on each day, every device's sessions are of one block's customers."""
    block = dict(zip(bank.customer_id.to_pylist(), (np.arange(bank.n_customers) // 100).tolist()))
    for day in walked:
        events = day.customer_events.select(["device_id", "customer_id", "is_fraud"]).to_pandas()
        events["block"] = events["customer_id"].map(block)
        assert (events.groupby("device_id")["block"].nunique() == 1).all()
        assert events["is_fraud"].any()


def test_the_stored_state_round_trips_block_by_block(walked):
    state = walked[-1].state
    again = BankState.from_tables(state.day, state.to_tables())
    assert len(again.blocks) == len(state.blocks)
    for a, b in zip(again.blocks, state.blocks):
        assert np.array_equal(a.balance, b.balance) and np.array_equal(a.learned, b.learned)
        assert np.array_equal(a.pending.account, b.pending.account)


def test_findings_of_parts_merge_into_the_findings_of_the_whole():
    from fraud_pipeline.core.findings import SAMPLE, Finding, merged
    parts = [{"keys": [Finding("unique", n, [f"x{n}{i}" for i in range(n)])]} for n in (0, 3, 4)]
    whole = merged(parts)
    assert whole["keys"][0].failures == 7 and whole["keys"][0].examples == ["x30", "x31", "x32", "x40", "x41"][:SAMPLE]
    with pytest.raises(ValueError, match="different rules"):
        merged([{"keys": [Finding("unique", 0, [])]}, {"keys": [Finding("other", 0, [])]}])
