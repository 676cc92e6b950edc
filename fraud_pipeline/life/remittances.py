"""Money home: migrant workers' remittances to their families in neighbouring countries, the genuine twin of
laundering's cross-border exits (issue 24, `docs/aml-design.md` step 3).

A remitter (`world.remitters.family_abroad`: a share of the cross-border customers) sends `share_of_income` of their
income home each month, the business day after payday, by a transfer from their salary account to the same family
member in their home country, from their own device; and `large_per_year` times a year a larger need at home —
school fees, a funeral, a building project — paid in `instalments` `instalment_days` apart, each of `large_amount`,
below the R19,999.99 above which a cross-border transfer is reported to the FIC (IFTR): a burst of near-threshold
payments abroad is not laundering's alone (a fresh analyst found genuine remitters made one large payment a year, so
two or more R15,000–R19,999 payments abroad in four weeks found every plain cross-border exit). The budget sets them
aside (`world.remitters.sent_home`), so a remitter's other spending makes room for them.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from fraud_pipeline.core.columns import positions
from fraud_pipeline.core.rows import TRANSFER, TRANSFER_OUT, Rows, make
from fraud_pipeline.core.timeline import MS_PER_DAY, arrival_lag_ms, day_start_ms, times_in_hours
from fraud_pipeline.life.genuine import city_place, digital, due_today, open_accounts, rng_for, session_city
from fraud_pipeline.world import spending
from fraud_pipeline.world.build import STATUS_NAMES, World
from fraud_pipeline.world.devices import day_number



def remittances(world: World, day: date) -> Rows:
    """The day's payments home (event and arrival times): monthly ones the business day after payday, larger needs
    starting on random days (their later instalments with later times, which the bank carries). Rows: transfers
    from the salary account to `world.family_abroad`."""
    s, rng = world.scenario, rng_for(world, day)
    r = s.travel.remittances
    account = world.salary_of
    ok = (world.family_abroad >= 0) & (account >= 0)
    ok[ok] &= open_accounts(world, day)[account[ok]] & (world.status[account[ok]] == STATUS_NAMES.index("active"))
    monthly = ok & due_today(world, day)[world.schedule, 1]
    share = world.remittance_share
    # a larger need at home, paid in instalments some days apart from an account open for them all
    instalments = rng("remit_instalments").integers(r.instalments.min, r.instalments.max + 1, world.n_customers)
    apart = rng("remit_apart").integers(r.instalment_days.min, r.instalment_days.max + 1, world.n_customers)
    large = ok & (rng("remit_large").random(world.n_customers) < r.large_per_year / 365.25)
    large[large] &= world.closed_day[account[large]] > day_number(day) + apart[large] * instalments[large]
    starting = np.flatnonzero(large)
    customer = np.r_[np.flatnonzero(monthly), np.repeat(starting, instalments[starting])]
    n_monthly, n = int(monthly.sum()), len(customer)
    nth = np.r_[np.zeros(n_monthly, np.int64), positions(instalments[starting])]  # a need's first instalment: 0
    wanted = np.r_[np.maximum(share[customer[:n_monthly]] * world.income[customer[:n_monthly]], r.least),
                   rng("remit_large_amount").uniform(r.large_amount.min, r.large_amount.max, n - n_monthly)]
    cents = spending.typed_amount(rng("remit_typed"), np.round(wanted * 100))
    over = cents > round(r.large_amount.max * 100)  # rounded up past the largest: typed to the rand below it
    cents[over] = np.floor(wanted[over].clip(max=r.large_amount.max)) * 100
    trip = world.trips.on(day_number(day), world.n_customers)
    device, ip = digital(world, rng("remit_device"), day, customer, trip)
    event = times_in_hours(rng("remit_time"), n, 0, s.card_transactions.hourly["transfer"], day_start_ms(day)) + \
        nth * np.r_[np.zeros(n_monthly, np.int64), np.repeat(apart[starting], instalments[starting])] * MS_PER_DAY
    lag = s.card_transactions.arrival_lag_seconds
    event_lag = arrival_lag_ms(rng("remit_lag"), n, lag.median, lag.sigma, lag.max)
    return make(n, account=account[customer], channel=TRANSFER, kind=TRANSFER_OUT, event_ms=event,
                arrival_ms=event + event_lag, cents=cents,
                payee=world.family_abroad[customer], place=city_place(world, session_city(world, customer, trip)),
                device=device, ip=ip, card=True)
