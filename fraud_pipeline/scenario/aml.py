"""The laundering section (issue 24, `docs/aml-design.md`): the reporting thresholds and each typology's rate,
stealth share and parameters. Sources: `../shared/reference/aml-anchors.md` §7 (South African thresholds) and
§8.2 (structures, amounts and rates per typology).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated

from pydantic import Field, model_validator

from fraud_pipeline.scenario.base import FloatRange, HolderProfile, IntRange, PositiveRange, Probability, Section
from fraud_pipeline.scenario.money import Lognormal

NonNegative = Annotated[float, Field(ge=0)]
CASE_DAYS = 45  # a case's rows all fall within this many days of its start (its account stays open that long)


class Typology(Section):
    enabled: bool
    cases_per_10k_accounts_month: NonNegative  # §8.2's unit: cases per 10,000 active accounts per 30 days
    stealth: Probability
    reported_share: Probability  # of cases the bank reports (an STR): the rest are never labelled as known
    label_delay_days: FloatRange  # after the case's last row: an alert, its review, then the report


class MovedOn(Section):
    share: Probability
    days: IntRange
    part: FloatRange
    transfers: IntRange  # in this many transfers, on consecutive days


class Structuring(Typology):
    deposits: IntRange  # near-threshold deposits per case (§8.2 row 1: at least 3)
    amount: FloatRange  # each, scenario currency (§8.2: R30,000–R49,999.99)
    stealth_deposits: IntRange  # many smaller deposits instead (§8.2: "or many R5,000–R20,000")
    stealth_amount: FloatRange
    days: IntRange  # smurfs' deposits spread over this many days, one a business day (§8.2: 1–10)
    stealth_days: IntRange  # a stealthy placer's over this many (at their own pace: a few deposits a week)
    branches: IntRange  # smurfs deposit at this many branches (§8.2: 2–5)
    moved_on: MovedOn  # what the placer does with it: transferred out, `days` after the last deposit


class DepositAndSend(Typology):
    amount: FloatRange  # the cash deposit (§8.2 row 3: R10,000–R49,999.99)
    sends: IntRange  # transfers out of it (§8.2: 1–3)
    hours: FloatRange  # the first send this long after the deposit, the others within the same window (§8.2: 1–72)
    part: FloatRange  # of the deposit sent in all (§8.2: 0.8–1.05)


class Mule(Typology):
    senders: IntRange  # victims at other banks who pay the mule (§8.2 row 2: 2–20)
    stealth_senders: IntRange
    amount: FloatRange  # each victim's payment, scenario currency (authorised push payments)
    stealth_of_income: FloatRange  # a stealthy mule's victims pay this many months of its holder's income in all
    arrive_hours: Annotated[float, Field(ge=0, le=48)]  # the victims' payments within this many hours of the first
    keep: FloatRange  # the mule's cut (§8.2: 5–20 %)
    cash_share: FloatRange  # of what is passed on, withdrawn in notes; the rest transferred to the next layer
    withdrawal: FloatRange  # each withdrawal (§8.2: R1,000–R5,000 notes), at most the ATM's limit
    cash_limit: PositiveRange  # a card's daily ATM limit, the most a wave's notes come to (one limit a card: a new
    # account's waves share theirs)
    transfers: IntRange  # transfers to the next layer
    out_hours: FloatRange  # what leaves does so this long after the last credit (§8.2: within 24–72 h)
    stealth_out_hours: FloatRange
    crypto_share: Probability  # of transfers on, to a crypto exchange ...
    business_share: Probability  # ... to a business; the rest to a person
    recruited: HolderProfile  # the mule profile: its holders this many times likelier to be a mule
    inside_share: Probability  # of the fraud rings' mule slots each month, accounts at this bank (`fraud.mule_accounts`)

    @model_validator(mode="after")
    def _within_three_days(self):
        for name in ("out_hours", "stealth_out_hours"):
            hours = getattr(self, name)
            if hours.min < 0 or hours.max > 72:
                raise ValueError(f"aml.mule.{name} must lie within 0–72 hours (got {hours.min}–{hours.max}): a mule "
                                 "passes money on within three days")
        if self.withdrawal.min <= 0 or self.amount.min <= 0:
            raise ValueError(f"aml.mule.withdrawal.min and amount.min must be above 0 (got {self.withdrawal.min} and "
                             f"{self.amount.min})")
        if self.crypto_share + self.business_share > 1:
            raise ValueError(f"aml.mule.crypto_share + business_share must be at most 1 (got {self.crypto_share} + "
                             f"{self.business_share})")
        return self


class Outgoings(Typology):
    """A front's outgoings (`aml.integration.outgoings`): each credit passed on as "wages" and "supplier" payments."""
    payments: IntRange  # the outgoings each credit is passed on in ...
    paid_on: FloatRange  # ... this share of it in all ...
    out_days: IntRange  # ... this many days after it
    staff: IntRange  # people paid "wages"
    wages_share: Probability  # of the outgoings, wages; the rest pays the case's "supplier"


class Untyped(Outgoings):
    credits: IntRange  # the front's client payments (§8.2 row 7: a business's inflows, here by transfer)
    days: IntRange  # over this many days, on distinct business days
    of_takings: FloatRange  # each, this share of the holder's monthly takings (the size of their genuine ones)
    least: Annotated[float, Field(gt=0)]  # and at least this (a genuine client payment's least, R50)


class FrontBusiness(Outgoings):
    """A cash business's takings swollen with criminal cash, banked as takings and paid out as wages and supplies
    (`aml/front_business.py`, §8.2 row 7)."""
    days: IntRange  # the case's weeks (§8.2: at least 4)
    per_week: FloatRange  # extra deposits a week, on distinct business days
    uplift: FloatRange  # the holder's inflow over the case is this many times its usual (§8.2: 1.5–4)
    stealth_uplift: FloatRange

    @model_validator(mode="after")
    def _a_business_day_each(self):
        if self.per_week.max > 5:
            raise ValueError(f"aml.front_business.per_week.max ({self.per_week.max}) must be at most 5: a deposit a "
                             "business day at most")
        return self


class CrossBorder(Typology):
    countries: tuple[str, ...]  # where the exits go: ISO codes of neighbouring countries (§8.2 row 8)
    cross_border_weight: Annotated[float, Field(ge=1)]  # cross-border customers are this many times likelier exits
    credits: IntRange  # the proceeds come in in this many transfers from people elsewhere ...
    in_days: Annotated[int, Field(ge=0, le=7)]  # ... within this many days of the start (then the exits begin)
    payments: IntRange  # exits, one a day (§8.2: at least 3 in 30 days) ...
    days: IntRange  # ... on distinct days over this many
    amount: FloatRange  # each, below aml.cross_border_threshold (§8.2: R5,000–R19,999.99)
    stealth_amount: FloatRange  # a large payment home's size


class Dormant(Typology):
    credits: IntRange  # payments in from new counterparties (§8.2 row 9: at least 3) ...
    stealth_credits: IntRange  # ... stealthily one or two, as a one-off is
    days: IntRange  # ... the first on the case's day, the others over a span of this many (§8.2: within 14) ...
    from_businesses: Probability  # ... each from a business, else a person (as an estate's parts)
    total: Lognormal  # plainly, all the credits together, scenario currency
    stealth_amount: FloatRange  # stealthily each, log-uniform
    out_days: IntRange  # the first transfer on this many days after the last credit ...
    transfers: IntRange  # ... in this many, a day apart ...
    part: FloatRange  # ... of this share of what came in


class NewAccount(Section):
    """Accounts opened to launder (§8.2 row 10, part of row 2): a share of the debit accounts opened during the run
    (`accounts.opening_later`) serve as mules within days of opening, for weeks, then fall silent
    (`aml/new_accounts.py`). Each wave of victims and what leaves after it is sized as `aml.mule`'s are."""
    enabled: bool
    share_of_openings: Probability  # of the debit accounts opening during the run not opened for a genuine purpose
    stealth: Probability
    first_days: IntRange  # the first wave starts this many days after the opening (§8.2: an inflow within 7) ...
    used_days: IntRange  # ... the last wave this many days after the first (§8.2: used 2–6 weeks)
    waves: IntRange  # waves of victims, the first on the first day, the others on distinct days up to the last
    stealth_waves: IntRange
    next_layer_kept: Probability  # of the transfers on, to the case's own 1–3 parties (its handler's), else new ones
    reported_share: Probability
    label_delay_days: FloatRange

    @model_validator(mode="after")
    def _room_for_the_waves(self):
        most = max(self.waves.max, self.stealth_waves.max)
        if self.used_days.min < most - 1:
            raise ValueError(f"aml.new_account.used_days.min ({self.used_days.min}) must be at least waves.max − 1 "
                             f"({most - 1}): each wave on its own day")
        return self


class HighRisk(Typology):
    """Proceeds of corruption on a politically exposed person's account, paid out to offshore and crypto payees
    (`aml/high_risk.py`; issue 24's "flows to high-risk jurisdictions, crypto and offshore payees and on PEP
    accounts")."""
    pep_weight: Annotated[float, Field(ge=1)]  # PEPs are this many times likelier holders than other customers
    credits: IntRange  # payments in from businesses at other banks ...
    in_days: Annotated[int, Field(ge=0, le=21)]  # ... on distinct business days within this many of the start
    amount: FloatRange  # each, log-uniform, scenario currency
    stealth_amount: FloatRange
    payments: IntRange  # then payments out to high-risk payees, one a day ...
    days: IntRange  # ... on distinct days over this many, from the day after the last possible credit
    part: FloatRange  # ... of this share of what came in
    crypto_share: Probability  # of the payments out, to a crypto exchange rather than an offshore company


class Network(Typology):
    """A case among the bank's own customers and others' (`aml/networks.py`): proceeds come in from elsewhere, pass
    between the case's accounts (a hop between two of ours settles overnight, as every transfer between our customers
    does; one to or from an account at another bank is a payment out or in) and leave the bank."""
    members: IntRange  # the accounts in the case (a chain's length, a cycle's accounts), or a fan's width
    elsewhere_share: Probability  # of its accounts after the first, each at another bank: the bank sees the money go
    # out to it and come back from it, as a payee and a payer, and nothing between
    proceeds: FloatRange  # the criminal money that comes in, in all, log-uniform, scenario currency
    stealth_proceeds: FloatRange
    credits: IntRange  # it arrives in this many transfers from people and businesses elsewhere, per receiving account
    shave: FloatRange  # each account keeps back this share of what it passes on (§8.2: 1–10 % a hop)
    gap_days: IntRange  # an account passes money on this many days after it arrives (0: the morning it settles)
    stealth_gap_days: IntRange
    out: IntRange  # the last accounts pay it out of the bank in this many transfers each

    def longest_days(self, layers: int) -> int:
        """The most days a case of `layers` layers of accounts can last: the proceeds' day, a day to settle and the
        gap at every later layer, then the payments out, one a day."""
        return layers * (1 + max(self.gap_days.max, self.stealth_gap_days.max)) + self.out.max


class Observed(Section):
    """The bank's own labels (`aml.reports`, the `aml_reports` table): which genuine accounts its monitoring alerts on
    (`fan_in` senders at other banks in a day, outside credits of `large_credit_of_income` months of what the holder
    takes in, or a cash deposit of `near_threshold` of the cash threshold up to it), the share of those it reports
    anyway (`alerted_share`: filed as long after as a random typology's report) over how many days before the alert
    (`lookback_days`); whether a report names the customer's other accounts too (`holder_accounts`). Missed cases are
    each typology's `reported_share`."""

    alerted_share: Probability
    fan_in: Annotated[int, Field(ge=2)]
    large_credit_of_income: Annotated[float, Field(gt=0)]
    near_threshold: Annotated[float, Field(gt=0, le=1)]
    holder_accounts: bool
    lookback_days: IntRange  # a false suspicion's window: its alerted day and this many days before it


class Aml(Section):
    cash_threshold: Annotated[float, Field(gt=0)]  # FIC Act s28 cash threshold report: cash above this is reported
    cash_threshold_since: date
    cross_border_threshold: Annotated[float, Field(gt=0)]  # FIC Act s31: a cross-border transfer above it is reported
    structuring: Structuring
    deposit_and_send: DepositAndSend
    mule: Mule
    untyped: Untyped
    cross_border: CrossBorder
    dormant: Dormant
    layering: Network  # §8.2 row 4: a chain placer → layers → exit
    cycle: Network  # §8.2 row 5: round-tripping back to its source
    scatter_gather: Network  # §8.2 row 6: a placer → mules → a consolidator
    gather_scatter: Network  # §8.2 row 6: placers → a hub → exits
    high_risk: HighRisk  # corruption proceeds on PEP accounts, out to offshore and crypto payees
    front_business: FrontBusiness  # §8.2 row 7: a cash business's takings swollen with criminal cash
    new_account: NewAccount  # §8.2 row 10: accounts opened to serve as mules, then abandoned
    observed: Observed  # the bank's reports, true or not (aml_reports): the observed label beside the truth

    @model_validator(mode="after")
    def _below_and_above(self):
        t = self.cash_threshold
        s = self.structuring
        for name, amount, count in (("amount", s.amount, s.deposits), ("stealth_amount", s.stealth_amount,
                                                                         s.stealth_deposits)):
            if amount.max > t:
                raise ValueError(f"aml.structuring.{name}.max ({amount.max}) must be at most aml.cash_threshold ({t}): "
                                 "structuring stays below it")
            if amount.min * count.min <= t:
                raise ValueError(f"aml.structuring: {name}.min × the fewest deposits ({amount.min} × {count.min}) must "
                                 f"exceed aml.cash_threshold ({t}): the deposits together are above it")
        m, u, x, d = s.moved_on, self.untyped, self.cross_border, self.dormant
        # a case's days, then what is paid on (an untyped span short of business days grows by its credits)
        for name, days in (("structuring", s.stealth_days.max + m.days.max + m.transfers.max),
                           ("untyped", u.days.max + u.credits.max + u.out_days.max),
                           ("cross_border", x.in_days + 1 + x.days.max),
                           ("dormant", d.days.max + d.out_days.max + d.transfers.max),
                           ("layering", self.layering.longest_days(self.layering.members.max)),
                           ("cycle", self.cycle.longest_days(self.cycle.members.max + 1)),
                           ("scatter_gather", self.scatter_gather.longest_days(3)),
                           ("gather_scatter", self.gather_scatter.longest_days(3)),
                           ("high_risk", self.high_risk.in_days + self.high_risk.credits.max + 1
                            + self.high_risk.days.max),
                           # notes reach an ATM up to two days after they are banked
                           ("front_business", self.front_business.days.max + 2 + self.front_business.out_days.max),
                           # a wave starts in its day's hours, its victims pay within `arrive_hours`, and the money
                           # leaves within its hours
                           ("new_account", self.new_account.first_days.max + self.new_account.used_days.max
                            + math.ceil((24 + self.mule.arrive_hours + max(self.mule.out_hours.max,
                                                                           self.mule.stealth_out_hours.max)) / 24))):
            if days > CASE_DAYS:
                raise ValueError(f"aml.{name}: its longest case lasts {days} days (its days, then what is paid on); "
                                 f"at most {CASE_DAYS} fit (a case's account must stay open throughout)")
        for name in ("amount", "stealth_amount"):
            if getattr(x, name).max > self.cross_border_threshold:
                raise ValueError(f"aml.cross_border.{name}.max ({getattr(x, name).max}) must be at most "
                                 f"aml.cross_border_threshold ({self.cross_border_threshold}): exits stay below it")
        for name, c in (("cross_border", x), ("high_risk", self.high_risk)):
            if c.payments.max > c.days.min:
                raise ValueError(f"aml.{name}.payments.max ({c.payments.max}) must be at most days.min "
                                 f"({c.days.min}): one payment out a day")
        for name in ("layering", "cycle", "scatter_gather", "gather_scatter"):
            least = 3 if name in ("layering", "cycle") else 2  # §8.2: a path of at least 3; a fan of at least 2
            if getattr(self, name).members.min < least:
                raise ValueError(f"aml.{name}.members.min must be at least {least} (got "
                                 f"{getattr(self, name).members.min}): §8.2's structure needs that many accounts")
        if self.deposit_and_send.amount.max > t:
            raise ValueError(f"aml.deposit_and_send.amount.max ({self.deposit_and_send.amount.max}) must be at most "
                             f"aml.cash_threshold ({t})")
        return self
