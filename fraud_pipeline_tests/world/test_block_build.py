"""A block's world built from its own entity rows (stage 4b, step 3) is the block sliced from the bank's world, field
for field: what lets each file range build its blocks' worlds without the bank."""

import pyarrow as pa
import pyarrow.compute as pc

from fraud_pipeline.engine.blocks import block_fields
from fraud_pipeline.world.build import BlockPlace, build_world
from fraud_pipeline.world.devices import device_plan, own_device_offsets
from fraud_pipeline.world.layout import Layout
from fraud_pipeline_tests.conftest import generate_world, scaled
from fraud_pipeline_tests.engine.test_ranges import assert_same

OWN_BY_ACCOUNT = ("cards", "account_beneficiaries")


def block_entities(scenario, entities: dict[str, pa.Table], block: int) -> dict[str, pa.Table]:
    """Block `block`'s rows of the per-customer tables (the shared tables whole)."""
    layout = Layout.of(scenario)
    first, end = layout.customer_span(block)
    low, high = layout.account_span(block)
    accounts = entities["accounts"].slice(low, high - low)
    customers = entities["customers"].slice(first, end - first)
    mine = dict(entities, customers=customers, accounts=accounts)
    for name in OWN_BY_ACCOUNT:
        mine[name] = entities[name].filter(pc.is_in(entities[name]["account_id"], accounts["account_id"]))
    mine["customer_merchants"] = entities["customer_merchants"].filter(
        pc.is_in(entities["customer_merchants"]["customer_id"], customers["customer_id"]))
    return mine


def test_a_block_s_world_built_from_its_own_rows_is_the_block_sliced_from_the_bank(small_scenario):
    scenario = scaled(small_scenario, population={"block_customers": 130})  # 4 blocks, the last short
    entities = generate_world(scenario)
    bank = build_world(scenario, entities)
    plan = device_plan(scenario).of_customers(0, 0)
    offsets = own_device_offsets(scenario)
    first_card = 0
    for block in range(bank.n_blocks):
        sliced = block_fields(bank, block)
        mine = block_entities(scenario, entities, block)
        built = build_world(scenario, mine, BlockPlace(block, first_card, int(offsets[block]), plan))
        first_card += mine["cards"].num_rows
        for name, value in sliced.items():
            if name not in ("bank", "caches"):
                assert_same(getattr(built, name), value, f"block {block}: {name}")
    assert offsets[-1] == device_plan(scenario).ring_devices[0]
    assert first_card == len(bank.card_number)
