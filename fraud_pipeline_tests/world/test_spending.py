"""How people type amounts (`world.spending`): `typed_at_most` rounds as `typed_from` does, but down."""

import numpy as np

from fraud_pipeline.world import spending


def test_typed_at_most_is_never_more_than_the_amount_and_rounds_as_often_as_typed_from():
    rng = np.random.default_rng(7)
    cents = np.exp(rng.uniform(np.log(20_000), np.log(30_000_000), 50_000))  # R200 – R300,000, in cents
    u = rng.random(len(cents))
    down, nearest = spending.typed_at_most(u, cents), spending.typed_from(u, cents)
    assert (down <= cents).all() and (down > 0).all() and down.dtype == np.int64
    # the same rounding, taken down: equal where rounding to the nearest went down, one step less where it went up
    step = np.abs(nearest - down)
    assert np.isin(step, [0, *spending.TYPED_STEPS]).all()
    # whole rands as often (an exact amount may round up to one, 1 in 100 of the exact ones, never down to one)
    assert abs((down % 100 == 0).mean() - (nearest % 100 == 0).mean()) <= 0.002
    # an amount below its step is paid to the cent
    assert np.array_equal(spending.typed_at_most(np.array([0.0, 0.0]), np.array([9_999.7, 10_000.0])),
                          np.array([9_999, 10_000]))
