"""The fraud labels every table shares: scenario names and their order, and episode ids."""

import numpy as np
import pyarrow as pa

SCENARIOS = ("card_fraud_chain", "atm_abroad", "high_velocity", "account_takeover")
CHAIN, ABROAD, VELOCITY, TAKEOVER = range(4)
EPISODE_PREFIX = ("CHAIN", "ATMX", "HVOP", "ATO")
PER_DAY, PER_SCENARIO = 100_000, 10_000  # episode number = day × PER_DAY + scenario × PER_SCENARIO + k


def episode_ids(episode: np.ndarray) -> pa.Array:
    """Episode numbers as ids: <SCENARIO>-<start date>-<number>, null for none."""
    episode = np.asarray(episode, np.int64)
    valid = np.flatnonzero(episode >= 0)
    e = episode[valid]
    dates = (e // PER_DAY).astype("datetime64[D]").astype(str)
    text = [f"{EPISODE_PREFIX[s]}-{d.replace('-', '')}-{k:05d}"
            for s, d, k in zip((e // PER_SCENARIO) % (PER_DAY // PER_SCENARIO), dates, e % PER_SCENARIO)]
    return pa.array(text, pa.string()).take(pa.array(np.where(episode >= 0, np.cumsum(episode >= 0) - 1, 0),
                                                      mask=episode < 0))
