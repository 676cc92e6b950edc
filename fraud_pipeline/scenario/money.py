"""The money section: one budget per customer (shares of income) and travel abroad.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from fraud_pipeline.scenario.base import (CountRange, FloatRange, IntRange, PositiveFloat, PositiveRange,
                                         Probability, Section)


MAX_SPEND_SPREAD = 1.6  # the busiest customers spend at most this many times card_share_of_income on purchases


class PassedOn(Section):
    share: Probability  # of credits of at least `least` from another of our customers ...
    least: Annotated[float, Field(gt=0)]
    part: FloatRange  # ... this share of it passed on to a third customer ...
    days: IntRange  # ... this many days after it arrived (0: that morning)


class LargePayments(Section):
    per_customer_per_year: Annotated[float, Field(ge=0, le=1)]  # a customer pays another of ours a large sum ...
    amount: FloatRange  # ... this much, log-uniform, when their balance covers it


class BetweenCustomers(Section):
    """Money between our customers beyond everyday transfers (`life.between_customers`): the genuine twins of
    laundering that passes between them (`aml.networks`)."""

    passed_on: PassedOn
    large: LargePayments


class Money(Section):
    card_share_of_income: Annotated[float, Field(gt=0, le=1)]
    cash_share_of_income: Annotated[float, Field(ge=0, le=1)]
    transfer_share_of_income: Annotated[float, Field(ge=0, le=1)]
    bills: IntRange
    bills_share_of_income: Annotated[float, Field(ge=0, le=1)]
    least_left: Annotated[float, Field(ge=0, lt=1)]
    savings_sweep: Annotated[float, Field(gt=0, le=1)]
    savings_interest: Annotated[float, Field(ge=0, le=1)]  # a year's rate on a savings account's balance
    refund_rate: Probability
    p2p_rate: Probability
    between_customers: BetweenCustomers
    lump_sums: LargePayments  # into a saved crypto wallet or offshore payee (`life.lump_sums`): aml.high_risk's twin

    @property
    def spent_share(self) -> float:
        """The share of income the population is budgeted to pay out in a month before what is left is swept:
        purchases, cash, transfers and debit orders (what an opening balance expects to pay until payday)."""
        return min(1.0, self.card_share_of_income + self.cash_share_of_income + self.transfer_share_of_income
                   + self.bills_share_of_income)

    @model_validator(mode="after")
    def _income_funds_the_budget(self):
        shares = {"card_share_of_income": self.card_share_of_income, "cash_share_of_income": self.cash_share_of_income,
                  "transfer_share_of_income": self.transfer_share_of_income,
                  "bills_share_of_income": self.bills_share_of_income}
        room = 1 - self.least_left
        if sum(shares.values()) > room:
            raise ValueError(f"the budget takes {sum(shares.values()):.2f} of income: "
                             + " + ".join(f"{k} {v}" for k, v in shares.items())
                             + f" must be at most 1 - least_left ({self.least_left}) = {room:.2f}, so that what "
                               f"customers pay out is funded by what comes in")
        busiest = MAX_SPEND_SPREAD * self.card_share_of_income + self.bills_share_of_income
        if busiest > room:
            raise ValueError(f"card_share_of_income {self.card_share_of_income} × {MAX_SPEND_SPREAD} (the busiest "
                             f"customers' purchases) + bills_share_of_income {self.bills_share_of_income} = "
                             f"{busiest:.2f} exceeds 1 - least_left ({self.least_left}): lower them so the sum is at "
                             f"most {room:.2f}")
        return self


class Lognormal(Section):
    median: PositiveFloat
    sigma: Annotated[float, Field(ge=0, le=3)]


class SideHustle(Section):
    share: Probability
    opened_for: Probability  # of the debit accounts that open during the run, those opened to be paid into for it
    cash_share: Probability
    payments_per_month: IntRange
    amount: Lognormal


class Shared(Section):
    """Estates passed on to relatives (`life.estates`): `share` of those paid in parts, `part` of the money in
    `transfers` transfers to people elsewhere, a day apart from `out_days` after the last part."""

    share: Probability
    out_days: IntRange
    transfers: CountRange
    part: FloatRange

    @model_validator(mode="after")
    def _sensible(self):
        if not 0 <= self.part.min <= self.part.max <= 1:
            raise ValueError(f"part ({self.part.min}..{self.part.max}) must lie within 0..1: no more leaves than "
                             "came in")
        return self


class Tranches(Section):
    """A share of the one-offs into dormant accounts paid in `count` parts by as many payers over a span of 1..`days`
    days, and `shared` of those passed on to relatives."""

    share: Probability
    count: CountRange
    days: Annotated[int, Field(ge=1, le=60)]
    from_businesses: Probability  # each part's payer a business (an attorney's trust account, an insurer) or a person
    shared: Shared


class OneOff(Section):
    per_customer_per_year: Annotated[float, Field(ge=0, le=12)]
    dormant_per_year: Annotated[float, Field(ge=0, le=12)]
    dormant_tranches: Tranches
    from_businesses: Probability  # of the other one-offs, paid by a business (a bonus, an insurer, a dealer, a refund)
    amount: Lognormal
    max: PositiveFloat


class CashDeposits(Section):
    atm_share: Probability
    atm_note: PositiveFloat
    atm_max: PositiveFloat
    branch_elsewhere: Probability  # of branch deposits, at a branch in another town of the home province
    large: PositiveFloat  # rand: a payment larger than this is paid in notes less often, as (large / amount)²

    @model_validator(mode="after")
    def _a_note_fits(self):
        if self.atm_note > self.atm_max:
            raise ValueError(f"atm_note ({self.atm_note}) must be at most atm_max ({self.atm_max})")
        return self


class Spending(Section):
    share: Probability
    days: IntRange
    part: FloatRange


class Supplier(Spending):
    stock: FloatRange  # the supplier's money banked with the takings, in months of the trader's income


class Stokvel(Section):
    """Rotating savings clubs (`life.stokvels`): who is in one, club sizes, when the pot is collected and over how
    many days, contributions as a share of income (rand, in R50 steps, within least..most), and what leaves of a
    pot: a share withdrawn in notes, a share of the pots spent at a business."""

    share: Probability
    members: IntRange
    collection_day: IntRange
    days: Annotated[int, Field(ge=1, le=7)]
    share_of_income: FloatRange
    least: PositiveFloat
    most: PositiveFloat
    cash_share: FloatRange
    withdrawal: FloatRange
    spent: Spending

    @model_validator(mode="after")
    def _sensible(self):
        if self.members.min < 2 or not 1 <= self.collection_day.min <= self.collection_day.max <= 28:
            raise ValueError(f"members.min must be at least 2 (got {self.members.min}) and collection_day within "
                             f"1..28, a day every month has (got {self.collection_day.min}..{self.collection_day.max})")
        if self.least > self.most or self.withdrawal.min <= 0:
            raise ValueError(f"least ({self.least}) must be at most most ({self.most}), withdrawal.min above 0")
        return self


class Rent(Section):
    """Backyard rent (`life.rent`): who lets rooms, how many tenants, their rent days of the month and rents
    (rand, R100 steps), and the share of a month's rent the landlord withdraws in notes."""

    share: Probability
    tenants: IntRange
    pay_day: IntRange
    amount: FloatRange
    cash_share: FloatRange
    withdrawal: FloatRange

    @model_validator(mode="after")
    def _sensible(self):
        if self.tenants.min < 1 or not 1 <= self.pay_day.min <= self.pay_day.max <= 28:
            raise ValueError(f"tenants.min must be at least 1 (got {self.tenants.min}) and pay_day within 1..28, a "
                             f"day every month has (got {self.pay_day.min}..{self.pay_day.max})")
        if self.amount.min < 100 or self.withdrawal.min <= 0:
            raise ValueError(f"amount.min must be at least 100 (got {self.amount.min}), withdrawal.min above 0")
        return self


class Policy(Section):
    share: Probability  # of funerals with a funeral policy or burial society that pays out
    amount: FloatRange  # its payout, rand (R1,000 steps)
    days: IntRange  # this many days after the death


class Funeral(Section):
    """Funeral collections (`life.funerals`): how often a customer is the one a family's contributions are paid to,
    how many contribute over how many days and how much (rand, R50 steps within least..most), a policy's payout,
    and what leaves: the undertaker's share (`undertaker.part`, `undertaker.days` after the death) and a share in
    notes within three days of the last contribution."""

    per_customer_per_year: Annotated[float, Field(ge=0, le=1)]
    opened_for: Probability  # of the debit accounts that open during the run, those opened to collect a funeral's money
    contributors: IntRange
    days: Annotated[int, Field(ge=1, le=7)]
    amount: Lognormal
    least: PositiveFloat
    most: PositiveFloat
    policy: Policy
    undertaker: Spending
    cash_share: FloatRange
    withdrawal: FloatRange

    @model_validator(mode="after")
    def _sensible(self):
        if self.contributors.min < 1 or self.least > self.most or self.withdrawal.min <= 0:
            raise ValueError(f"contributors.min must be at least 1 (got {self.contributors.min}), least ({self.least}) "
                             f"at most most ({self.most}) and withdrawal.min above 0 (got {self.withdrawal.min})")
        if self.undertaker.part.max + self.cash_share.max > 1:
            raise ValueError(f"undertaker.part.max + cash_share.max ({self.undertaker.part.max} + "
                             f"{self.cash_share.max}) must be at most 1: no more leaves than came in")
        return self


class Orders(Section):
    """Orders taken on an account opened for them (`life.orders`): a trader's rounds of orders (`rounds`, the first
    `first_days` after the opening, `every_days` apart), in each `buyers` strangers prepaying (lognormal rand within
    least..most about the trader's own median, itself lognormal by `amount` and `trader_sigma`) within
    `arrive_hours`, then the supplier paid `paid_hours` after the last of them — all but the trader's `margin`,
    `cash_share` of it in notes (at most the card's `cash_limit`; `home_atm` of the rounds all at the ATM nearest
    home, else at the usual ATMs), the rest in `transfers` to the trader's suppliers (`crypto_share` of them a crypto
    exchange, of the others `to_people` a person), each to a new one with chance `new_supplier`."""

    opened_for: Probability  # of the debit accounts that open during the run, those opened to take orders on (drawn
    # with those opened to launder, holders of the mule profile likelier: `world.openings`)
    rounds: CountRange
    first_days: IntRange
    every_days: CountRange
    buyers: CountRange
    arrive_hours: Annotated[float, Field(gt=0, le=72)]
    amount: Lognormal
    trader_sigma: Annotated[float, Field(ge=0, le=3)]
    least: PositiveFloat
    most: PositiveFloat
    paid_hours: FloatRange
    margin: FloatRange
    cash_share: FloatRange
    withdrawal: FloatRange
    cash_limit: PositiveRange  # the card's daily ATM limit: the most each round's notes come to (one card a trader)
    home_atm: Probability  # of the rounds, those whose notes are all drawn at the ATM nearest home
    transfers: CountRange
    crypto_share: Probability
    to_people: Probability
    new_supplier: Probability

    @model_validator(mode="after")
    def _sensible(self):
        if self.least > self.most or self.withdrawal.min <= 0 or self.paid_hours.min < 0:
            raise ValueError(f"least ({self.least}) must be at most most ({self.most}), withdrawal.min above 0 (got "
                             f"{self.withdrawal.min}) and paid_hours.min at least 0 (got {self.paid_hours.min})")
        if not (0 <= self.margin.min and self.margin.max < 1 and 0 <= self.cash_share.min and self.cash_share.max <= 1):
            raise ValueError(f"margin ({self.margin.min}..{self.margin.max}) must lie in [0, 1) and cash_share "
                             f"({self.cash_share.min}..{self.cash_share.max}) in [0, 1]: no more leaves than came in")
        return self


class OneOffSpent(Spending):
    to_customers: Probability  # paid to another of our customers rather than a business outside the bank


class SpentSoon(Section):
    one_off: OneOffSpent
    supplier: Supplier


class Inflows(Section):
    """Money from outside the bank besides income: side hustles, large one-offs, how cash is banked, and what is
    soon paid out of a large credit."""

    side_hustle: SideHustle
    stokvel: Stokvel
    rent: Rent
    funeral: Funeral
    orders: Orders
    one_off: OneOff
    cash_deposits: CashDeposits
    spent_soon: SpentSoon

    @model_validator(mode="after")
    def _one_purpose(self):
        shares = {p: getattr(self, p).opened_for for p in ("side_hustle", "funeral", "orders")}
        if sum(shares.values()) > 1:
            raise ValueError(f"the opened_for shares of {', '.join(shares)} ({' + '.join(map(str, shares.values()))})"
                             " must sum to at most 1: an account opens for one purpose")
        return self


class Remittances(Section):
    """Migrant workers' money home (the genuine twin of cross-border exits): the share of `cross_border` customers
    who send it, what share of their income, and their larger payments home (school fees, a funeral, building)."""

    share_of_cross_border: Probability
    share_of_income: FloatRange
    least: PositiveFloat
    large_per_year: Annotated[float, Field(ge=0, le=12)]
    instalments: IntRange  # a larger need is paid in this many instalments ...
    instalment_days: CountRange  # ... this many days apart (drawn per need)
    large_amount: FloatRange


class CrossBorder(Section):
    share: Probability
    trips_per_month: Annotated[float, Field(ge=0, le=31)]
    days: IntRange
    countries: Annotated[dict[str, Annotated[float, Field(gt=0)]], Field(min_length=1)]


class TripCash(Section):
    on_arrival: Probability
    per_day: Probability


class Travel(Section):
    domestic_trips_per_year: Annotated[float, Field(ge=0, le=52)]
    domestic_days: IntRange
    abroad_trips_per_year: Annotated[float, Field(ge=0, le=52)]
    abroad_days: IntRange
    cross_border: CrossBorder
    remittances: Remittances
    trip_cash: TripCash
    trip_activity: Probability

    @field_validator("domestic_days", "abroad_days")
    @classmethod
    def _at_least_a_day(cls, value: IntRange) -> IntRange:
        if value.min < 1:
            raise ValueError(f"a trip lasts at least 1 day (got min={value.min})")
        return value
