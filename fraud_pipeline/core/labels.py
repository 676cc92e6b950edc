"""The labels every table shares: fraud scenario names and their order, episode ids; laundering typologies, roles
and case ids (numbered as episodes are)."""

import numpy as np
import pyarrow as pa

SCENARIOS = ("card_fraud_chain", "atm_abroad", "high_velocity", "account_takeover")
CHAIN, ABROAD, VELOCITY, TAKEOVER = range(4)
EPISODE_PREFIX = ("CHAIN", "ATMX", "HVOP", "ATO")
# episode number = day × PER_DAY + scenario × PER_SCENARIO + block × PER_BLOCK + k: a block numbers its own
PER_BLOCK = 10_000  # episodes of one scenario a block starts in a day, at most
MAX_BLOCKS = 100_000
PER_SCENARIO = MAX_BLOCKS * PER_BLOCK
PER_DAY = 20 * PER_SCENARIO  # room for twenty scenarios (or typologies)


# laundering (issue 24, `docs/aml-design.md`): typologies and the roles an account plays in a case
AML_TYPOLOGIES = ("structuring", "deposit_and_send", "mule", "untyped", "cross_border", "dormant", "layering", "cycle",
                  "scatter_gather", "gather_scatter", "high_risk", "front_business", "new_account")
(STRUCTURING, DEPOSIT_AND_SEND, MULES, UNTYPED, CROSS_BORDER, DORMANT, LAYERING, CYCLE, SCATTER_GATHER,
 GATHER_SCATTER, HIGH_RISK, FRONTS, NEW_ACCOUNT) = range(13)
NETWORK_TYPOLOGIES = (LAYERING, CYCLE, SCATTER_GATHER, GATHER_SCATTER)  # among our customers (`aml.networks`)
AML_PREFIX = ("STRC", "DPSD", "MULE", "UNTP", "XBDR", "DRMT", "LAYR", "CYCL", "SCGA", "GASC", "HRSK", "FRNT", "NACC")
AML_ROLES = ("source", "placer", "mule", "layer", "consolidator", "exit", "front_business")
SOURCE, PLACER, MULE, LAYER, CONSOLIDATOR, EXIT, FRONT_BUSINESS = range(7)


def episode_numbers(day: int, scenario: int, block: int, n: int, names: tuple[str, ...] = SCENARIOS) -> np.ndarray:
    """The numbers of a block's `n` episodes of `scenario` (an index into `names`: the fraud scenarios, or
    AML_TYPOLOGIES for laundering cases) starting on `day` (a day number). Raises ValueError when they do not fit
    (more than PER_BLOCK in a day, or a block past MAX_BLOCKS)."""
    if n > PER_BLOCK or not 0 <= block < MAX_BLOCKS:
        raise ValueError(f"block {block} starts {n:,} episodes of {names[scenario]} in a day; at most {PER_BLOCK:,} "
                         f"per block and {MAX_BLOCKS:,} blocks fit the episode ids: use smaller blocks")
    return day * PER_DAY + scenario * PER_SCENARIO + block * PER_BLOCK + np.arange(n, dtype=np.int64)


def episode_kind(episode: np.ndarray) -> np.ndarray:
    """The scenario (or typology) index of each episode number; NONE (-1) stays -1."""
    episode = np.asarray(episode, np.int64)
    return np.where(episode >= 0, (episode % PER_DAY) // PER_SCENARIO, -1)


def episode_ids(episode: np.ndarray, prefixes: tuple[str, ...] = EPISODE_PREFIX) -> pa.Array:
    """Episode numbers as ids: <SCENARIO>-<start date>-<block>-<number>, null for none (`prefixes`: AML_PREFIX for
    laundering case ids)."""
    episode = np.asarray(episode, np.int64)
    valid = np.flatnonzero(episode >= 0)
    e = episode[valid]
    dates = (e // PER_DAY).astype("datetime64[D]").astype(str)
    scenario, block, k = (e % PER_DAY) // PER_SCENARIO, (e % PER_SCENARIO) // PER_BLOCK, e % PER_BLOCK
    text = [f"{prefixes[s]}-{d.replace('-', '')}-{b:05d}-{n:04d}" for s, d, b, n in zip(scenario, dates, block, k)]
    return pa.array(text, pa.string()).take(pa.array(np.where(episode >= 0, np.cumsum(episode >= 0) - 1, 0),
                                                      mask=episode < 0))
