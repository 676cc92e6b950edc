"""The world built from the entity tables: what each account had paid before the calendar, keyed in chunks, is the
set a plain join of the tables gives."""

import numpy as np
import pandas as pd

from fraud_pipeline.core.columns import row_of
from fraud_pipeline.world import build
from fraud_pipeline.world.devices import day_number
from fraud_pipeline_tests.conftest import generate_world


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
