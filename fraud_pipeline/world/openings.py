"""What each debit account that opens during the run is opened for: one lottery, so that every purpose is drawn
from the same accounts and none is left to another by what the one before it took.

Strangers pay two kinds of new account in waves: an account a trader opens to take orders on (`life.orders`) and
one opened to launder, handed to a mule's handler (`aml.new_accounts`). Both are drawn together, holders of the mule
profile (`aml.mule.recruited`) likelier, then split by their shares — so both hold the same mix of holders and the
profile does not tell one from the other. (Drawn in turn, accounts opened to launder from the openings the traders
left, a profile the traders leaned to became half of theirs and a few per cent of the laundering ones: a reviewer's
find.)
"""

from __future__ import annotations

import numpy as np

from fraud_pipeline.core.streams import stream
from fraud_pipeline.world.build import World
from fraud_pipeline.world.devices import day_number
from fraud_pipeline.world.profiles import profile_weights

# what a debit account opened during the run may be for besides saving: the genuine purposes (each
# `inflows.<purpose>.opened_for` of them), then laundering (`aml.new_account.share_of_openings` of the rest)
PURPOSES = ("side_hustle", "funeral", "orders", "laundering")


def opened_for(world: World, purpose: str) -> np.ndarray:
    """Per account (bool, shape (n_accounts,)): a debit account that opens during the run for `purpose`, one of
    PURPOSES, each for at most one — `inflows.side_hustle.opened_for` and `inflows.funeral.opened_for` of them for a
    side hustle and a funeral; then, in one lottery, `inflows.orders.opened_for` of them for orders and
    `aml.new_account.share_of_openings` of those left for laundering (none when disabled), their holders of the mule
    profile `aml.mule.recruited.weight` times likelier, the lottery's draws split between the two by their shares.
    A holder's chance stops at what the side hustles and funerals leave, the excess not handed back: where that
    binds, both shares come out below what is set (not at the default's shares). Drawn per block.
    Raises ValueError for another purpose."""
    if purpose not in PURPOSES:
        raise ValueError(f"purpose must be one of {PURPOSES} (got {purpose!r})")
    key = ("opened_for",)
    if key not in world.caches:
        world.caches[key] = _purposes(world)
    return world.caches[key] == PURPOSES.index(purpose)


def _purposes(world: World) -> np.ndarray:
    """Per account, its purpose's index in PURPOSES, len(PURPOSES) for none."""
    s = world.scenario
    u = stream(s.seed, "income", "hustle_accounts", *world.block_key).random(world.n_accounts)
    split = stream(s.seed, "income", "waves_split", *world.block_key).random(world.n_accounts)
    later = (world.opened_day >= day_number(s.start_date)) & ~world.credit
    hustle, funeral = s.inflows.side_hustle.opened_for, s.inflows.funeral.opened_for
    orders = s.inflows.orders.opened_for
    new = s.aml.new_account
    laundering = new.share_of_openings * max(1 - hustle - funeral - orders, 0.0) if new.enabled else 0.0
    weight = profile_weights(world, s.aml.mule.recruited)[world.account_customer]
    mean = float(weight[later].mean()) if later.any() else 1.0  # weights are at least 1
    waves = np.minimum((orders + laundering) * weight / mean, 1 - hustle - funeral)
    purpose = np.select([u < hustle, u < hustle + funeral, u < hustle + funeral + waves],
                        [0, 1, np.where(split * (orders + laundering) < orders, 2, 3)], len(PURPOSES))
    return np.where(later, purpose, len(PURPOSES))
