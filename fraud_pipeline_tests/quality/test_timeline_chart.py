"""The anomaly timeline picture: same panels, same bytes; every metric drawn inside its range."""

from datetime import date, timedelta

import numpy as np
import pytest
from matplotlib.collections import PolyCollection

from fraud_pipeline.quality.timeline_chart import Panel, draw, render

DAYS = [date(2026, 1, 14) + timedelta(days=i) for i in range(3)]
N = len(DAYS) * 8


def _panels() -> list[Panel]:
    rng = np.random.default_rng(5)
    volume = rng.poisson(3, N).astype(float)
    rate = rng.uniform(0, 0.1, N)
    rate[10] = np.nan  # a batch without rows
    # bands wider than the range: a mean of 2 ± 6 rows, a rate of 0.5 ± 0.8
    return [Panel("card_transactions: volume", "rows per batch", volume, np.full(N, -4.0), np.full(N, 8.0),
                  np.array([9]), np.array([], int), 0.0, np.inf),
            Panel("web_visits: null_rate.campaign_id", "share of rows", rate, np.full(N, -0.3), np.full(N, 1.3),
                  np.array([10]), np.array([11, 12]), 0.0, 1.0)]


def test_the_same_panels_give_the_same_bytes():
    first, second = render(_panels(), DAYS, 8, 1), render(_panels(), DAYS, 8, 1)
    assert first == second and first.startswith(b"\x89PNG")
    assert render(_panels()[:1], DAYS, 8, 1) != first


def test_no_band_or_axis_goes_below_the_floor_or_above_a_rates_ceiling():
    figure = draw(_panels(), DAYS, 8, 1)
    volume, rate = figure.axes[:2]
    for ax, floor, ceiling in ((volume, 0.0, np.inf), (rate, 0.0, 1.0)):
        [band] = [c for c in ax.collections if isinstance(c, PolyCollection)]
        y = np.concatenate([path.vertices[:, 1] for path in band.get_paths()])
        assert y.min() == floor and y.max() == min(ceiling, 8.0)
        assert ax.get_ylim()[0] == floor and ax.get_ylim()[1] <= ceiling
    assert [t.get_text() for t in figure.legends[0].get_texts()] == [
        "baseline band (mean ± 3σ)", "observed on the landing files", "planned anomaly", "side effect",
        "anomaly window starts"]
    assert volume.get_title(loc="left") == "card_transactions: volume" and rate.get_ylabel() == "share of rows"


def test_panels_of_the_wrong_length_are_refused():
    short = Panel("x", "rows", np.zeros(5), np.zeros(5), np.zeros(5), np.array([], int), np.array([], int), 0, 1)
    with pytest.raises(ValueError, match="24 points"):
        render([short], DAYS, 8, 1)
