"""Who sends money home, and to whom: the cross-border customers (`travel.cross_border`: migrant workers and their
families, who go home often) and the family member abroad a remitter pays (`travel.remittances`). Drawn per block,
so a block's remitters are the same whoever builds it.
"""

from __future__ import annotations

import numpy as np

from fraud_pipeline.core.streams import stream
from fraud_pipeline.scenario import Scenario


def cross_border_homes(scenario: Scenario, block: int, n: int) -> np.ndarray:
    """Per customer of block `block` (`n` of them): the neighbouring country a cross-border customer goes to and
    sends money to (an index into the region's destinations), -1 for everyone else."""
    c = scenario.travel.cross_border
    rng = lambda purpose: stream(scenario.seed, "world", "trips", purpose, block)  # noqa: E731
    codes = [d.country_code for d in scenario.geography.destinations]
    weights = np.array(list(c.countries.values()))
    home = np.array([codes.index(code) for code in c.countries])[
        rng("cross_border_country").choice(len(weights), n, p=weights / weights.sum())]
    return np.where(rng("cross_border").random(n) < c.share, home, -1)


def family_abroad(scenario: Scenario, block: int, home_country: np.ndarray, beneficiary_country: np.ndarray,
                  beneficiary_type: np.ndarray) -> np.ndarray:
    """Per customer of block `block`: the beneficiary row of the family member a remitter sends money to — an
    individual in the customer's home country (`home_country`, from `cross_border_homes`) — for
    `remittances.share_of_cross_border` of the cross-border customers; -1 for everyone else, and where the
    country has no such beneficiary. Several remitters may share one (a family's breadwinners, or a village's
    collector: an honest fan-in abroad)."""
    rng = stream(scenario.seed, "world", "family_abroad", block)
    u, sends = rng.random(len(home_country)), rng.random(len(home_country))
    codes = np.array([d.country_code for d in scenario.geography.destinations])
    found = np.full(len(home_country), -1)
    remitter = (home_country >= 0) & (sends < scenario.travel.remittances.share_of_cross_border)
    for country in np.unique(home_country[remitter]):
        pool = np.flatnonzero((beneficiary_country == codes[country]) & (beneficiary_type == "individual"))
        mine = np.flatnonzero(remitter & (home_country == country))
        if len(pool):
            found[mine] = pool[(u[mine] * len(pool)).astype(np.int64)]
    return found


def remittance_shares(scenario: Scenario, block: int, n: int) -> np.ndarray:
    """Per customer of block `block` (`n` of them): the share of income a remitter sends home each month
    (`remittances.share_of_income`, uniform; drawn for everyone, used for remitters)."""
    r = scenario.travel.remittances
    return stream(scenario.seed, "world", "remittance_share", block).uniform(r.share_of_income.min,
                                                                           r.share_of_income.max, n)


def sent_home(world) -> np.ndarray:
    """Per customer, cents a month: what a remitter with a salary account here sends home on average — the monthly
    payment (`World.remittance_share` of income, at least `least`) and the larger ones' expected share
    (`large_per_year` needs of `instalments`' mean payments of `large_amount`'s mean); 0 for everyone else. What the
    budget sets aside (`money.budget`)."""
    r = world.scenario.travel.remittances
    remitter = (world.family_abroad >= 0) & (world.salary_of >= 0)
    monthly = np.maximum(world.remittance_share * world.income, r.least)
    large = r.large_per_year / 12 * (r.instalments.min + r.instalments.max) / 2 * (r.large_amount.min
                                                                                  + r.large_amount.max) / 2
    return np.where(remitter, (monthly + large) * 100, 0.0)
