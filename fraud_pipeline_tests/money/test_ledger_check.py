"""The ledger check finds each rule broken, counts the rows or accounts that break it and names them: a day of the
small bank checked clean, then broken on purpose, against the rules as the pandas formulation states them."""

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fraud_pipeline.engine.bank_day import initial_bank_state, simulate_bank_day
from fraud_pipeline.money.checks import ledger_findings
from fraud_pipeline.world.build import build_world
from fraud_pipeline.world.entities import entity_tables

SAMPLE = 5


def ledger_rules(stream: pa.Table, balances: pa.Table, opening: pa.Table, accounts: pa.Table) -> list:
    """The rules written row by row in pandas (the check's earlier formulation): (failures, examples) per rule."""
    rows = stream.select(["account_id", "arrival_time", "event_time", "direction", "amount", "status",
                          "decline_reason", "balance_after"]).to_pandas()
    rows = rows.sort_values(["account_id", "arrival_time", "event_time"], kind="stable")
    limits = accounts.to_pandas().set_index("account_id")
    floor = -(limits["overdraft_limit"] + limits["credit_limit"])
    start = opening.to_pandas().set_index("account_id")["balance"]
    approved = rows["status"] == "approved"
    signed = np.where(rows["direction"] == "credit", rows["amount"], -rows["amount"]) * approved
    before = rows.groupby("account_id")["balance_after"].shift(1).fillna(rows["account_id"].map(start))
    cents = lambda values: np.round(np.asarray(values, float) * 100)  # noqa: E731
    chain = cents(rows["balance_after"]) != cents(before) + cents(signed)
    below = approved & (rows["direction"] == "debit") & (cents(rows["balance_after"])
                                                          < cents(rows["account_id"].map(floor)))
    reasons = (~approved & rows["decline_reason"].isna()) | (approved & rows["decline_reason"].notna())
    last = rows.groupby("account_id")["balance_after"].last()
    end = balances.to_pandas().set_index("account_id")["balance"]
    expected = start.add(pd.Series(signed, index=rows.index).groupby(rows["account_id"]).sum(), fill_value=0)
    wrong_end = (list(expected.index[cents(end.reindex(expected.index)) != cents(expected)])
                 + list(last.index[cents(end.reindex(last.index)) != cents(last)]))
    unopened = ~rows["account_id"].isin(start.index)
    return [(int(chain.sum()), rows.loc[chain, "account_id"].head(SAMPLE).tolist()),
            (int(below.sum()), rows.loc[below, "account_id"].head(SAMPLE).tolist()),
            (int(reasons.sum()), []), (len(wrong_end), wrong_end[:SAMPLE]),
            (int(unopened.sum()), rows.loc[unopened, "account_id"].head(SAMPLE).tolist())]


@pytest.fixture(scope="module")
def day(small_scenario):
    entities = entity_tables(small_scenario)
    world = build_world(small_scenario, entities)
    found = simulate_bank_day(world, initial_bank_state(world), date(2026, 1, 1))
    return (pa.concat_tables([found.transactions, found.fraud_transactions]), found.account_balances, found.opening,
            entities["accounts"].select(["account_id", "overdraft_limit", "credit_limit"]))


def _found(stream, balances, opening, accounts) -> list:
    return [(f.failures, f.examples) for f in ledger_findings(stream, balances, opening, accounts)]


def test_a_clean_day_passes_every_ledger_rule(day):
    assert _found(*day) == ledger_rules(*day) == [(0, []), (0, []), (0, []), (0, []), (0, [])]


def test_each_broken_rule_is_counted_and_named_as_the_rules_state_it(day):
    stream, balances, opening, accounts = day
    rows = stream.to_pandas()
    approved = np.flatnonzero(rows["status"] == "approved")
    declined = np.flatnonzero(rows["status"] != "approved")
    rows.loc[approved[[3, 40, 41]], "balance_after"] += 1.25  # a chain broken (and the next row's, and an end)
    rows.loc[approved[7], "decline_reason"] = "insufficient_funds"  # an approved row with a reason
    rows.loc[declined[0], "decline_reason"] = None  # a declined row without one
    rows.loc[approved[11], "direction"] = "sideways"  # neither credit nor debit: moves money out, as the rules read it
    broken = pa.Table.from_pandas(rows, schema=stream.schema, preserve_index=False)
    ends = balances.to_pandas()
    ends.loc[2, "balance"] += 0.5
    ends = pa.Table.from_pandas(ends.drop(index=5), schema=balances.schema, preserve_index=False)  # one account gone
    limits = accounts.to_pandas()
    limits[["overdraft_limit", "credit_limit"]] = 0.0  # no overdrafts: approved debits into the red break the floor
    limits = pa.Table.from_pandas(limits, schema=accounts.schema, preserve_index=False)
    # an account with rows that had not opened (not among the day's opening balances)
    unopened = rows.loc[approved[20], "account_id"]
    opening = opening.filter(pc.not_equal(opening["account_id"], unopened))

    found = _found(broken, ends, opening, limits)
    assert found == ledger_rules(broken, ends, opening, limits)
    assert all(failures > 0 for failures, _ in found)
    assert found[2][0] == 2 and found[0][0] >= 4 and len(found[0][1]) == SAMPLE
    assert found[4] == ((rows["account_id"] == unopened).sum(), [unopened] * SAMPLE)  # its rows, named by account
    assert found[3][1][0] in set(balances["account_id"].to_pylist())  # accounts named by id
    shuffled = broken.take(pa.array(np.random.default_rng(5).permutation(broken.num_rows)))
    assert _found(shuffled, ends, opening, limits) == found  # rows in any order: sorted by account, then time
