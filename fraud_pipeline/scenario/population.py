"""The population section and the entities it makes: customers, accounts, cards, devices, beneficiaries and merchants.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, PositiveInt, field_validator, model_validator

from fraud_pipeline.core.reserved import TEST_CARD_BINS
from fraud_pipeline.scenario.base import (Band, CountRange, FloatRange, IntRange, MerchantCategoryCode, PositiveFloat,
                                          Probability, Section, Shares, _bands_in_order, _is_cents, _known_keys,
                                          _shares_sum_to_one)


# Card networks and their issuer prefixes (the first digits of a card number) for `cards.bin_ranges: realistic`; the
# default, `test`, uses the processors' published test BINs (fraud_pipeline.core.reserved.TEST_CARD_BINS).
CARD_NETWORK_PREFIXES = {"visa": ("4",), "mastercard": ("51", "52", "53", "54", "55")}
assert set(TEST_CARD_BINS) == set(CARD_NETWORK_PREFIXES)
# High-risk beneficiary types are the exit nodes of seed 004's money flows.
BENEFICIARY_TYPES = ("individual", "merchant", "crypto", "offshore")
HIGH_RISK_BENEFICIARY_TYPES = ("crypto", "offshore")
OFFSHORE_COUNTRIES = ("MU", "AE", "VG", "KY", "SC")  # where offshore payees are registered (assumption: common
# offshore financial centres)


class MerchantCategory(Section):
    share: Probability
    mcc: MerchantCategoryCode
    min_price: PositiveFloat
    max_price: PositiveFloat
    median_price: PositiveFloat
    price_sigma: Annotated[float, Field(ge=0, le=3)]
    price_points: Probability
    affluence: Annotated[float, Field(ge=-2, le=2)]

    @model_validator(mode="after")
    def _ordered(self):
        if not self.min_price < self.max_price:
            raise ValueError(f"min_price must be below max_price (got {self.min_price}, {self.max_price})")
        if not self.min_price <= self.median_price <= self.max_price:
            raise ValueError(f"median_price ({self.median_price}) must lie within min_price–max_price "
                             f"({self.min_price}–{self.max_price})")
        return self


class Population(Section):
    customers: PositiveInt
    accounts: PositiveInt
    devices: PositiveInt
    beneficiaries: PositiveInt
    merchants: PositiveInt
    atms: PositiveInt
    online_merchants: PositiveInt
    foreign_merchants: PositiveInt
    foreign_atms: PositiveInt
    # customers per block: a block's days are drawn from its own streams, so the data depend on this size and on
    # nothing about workers (LDBC SNB's datagen uses 10,000; the scale-out reference's §5.1)
    block_customers: PositiveInt = 5_000

    @model_validator(mode="after")
    def _every_customer_has_an_account(self):
        if self.accounts < self.customers:
            raise ValueError(f"accounts ({self.accounts}) must be at least customers ({self.customers}): "
                             "every customer holds an account")
        return self


class Income(Section):
    median: PositiveFloat
    sigma: Annotated[float, Field(ge=0, le=2)]


PAY_SCHEDULES = ("day_25", "day_15", "first_week", "irregular")
# How income arrives (`customers.income_kind`): a salary from an employer, a pension, a social grant (SASSA), money
# from family at another bank, or client payments (some of which are cash the customer banks: `cash_takings`).
INCOME_KINDS = ("salary", "pension", "grant", "family", "client_payment")


class TurnoverMultiple(Section):
    median: Annotated[float, Field(ge=1)]
    sigma: Annotated[float, Field(ge=0, le=2)]
    min: Annotated[float, Field(ge=1)]
    max: Annotated[float, Field(ge=1)]

    @model_validator(mode="after")
    def _ordered(self):
        if not self.min <= self.median <= self.max:
            raise ValueError(f"turnover_multiple: need min <= median <= max (got {self.min}, {self.median}, "
                             f"{self.max})")
        return self


class CardTakings(Section):
    """Businesses whose card machine is one of the bank's merchants (`life.card_takings`): the acquirer settles
    their card sales into the business account each business day."""

    share: Probability  # of businesses, those taking cards at a terminal of theirs among the bank's merchants
    part: FloatRange  # of the turnover, what is paid by card
    categories: list[str]  # the merchant categories such a business can be (spaza shops, taverns, salons)

    @field_validator("part")
    @classmethod
    def _a_part(cls, part: FloatRange) -> FloatRange:
        if not 0 <= part.min <= part.max <= 1:
            raise ValueError(f"part ({part.min}–{part.max}) must lie within 0–1: a share of the turnover")
        return part


class FixedCost(Section):
    """A business's fixed monthly cost (`life.business_costs`): `share` of what it pays on in a month (its turnover
    less the owner's income), on a fixed schedule's day (`due`), varying from month to month by a log-normal `spread`
    (0: the same amount every month)."""

    share: Probability
    due: Literal["day_25", "day_15", "first_week"]  # the fixed pay schedule whose day it is paid on
    spread: Annotated[float, Field(ge=0, le=1)] = 0.0


class Business(Section):
    """Businesses of the bank's business owners (`life.income`; issue 24 step 2): their clients pay the business's
    turnover, `turnover_multiple` times the owner's income (log-normal, clipped), into a business account in
    `credits` payments a month; the owner keeps their income, `wages_share` of the rest is the business's `staff`'s
    monthly payroll (`payroll`, on the private sector's payday: as many staff as the bill pays at about `wage` each)
    and `fixed_costs` (rent, utilities) are paid on their days; the rest of each payment goes to one of its
    wholesalers within `paid_on` days (`business_outgoings`); some take cards (`card_takings`), settled into the
    account each business day instead of part of the payments."""

    occupations: list[str]
    turnover_multiple: TurnoverMultiple
    credits: CountRange  # client payments and takings a month (not `irregular_credits`), at most one a business day
    wages_share: Probability
    staff: CountRange
    wage: PositiveFloat  # a member of staff's usual monthly wage, rand: how many the wage bill employs
    paid_on: IntRange
    card_takings: CardTakings
    fixed_costs: dict[str, FixedCost] = {}

    @property
    def set_aside(self) -> float:
        """Of what a business pays on, the share it sets aside for its monthly payroll and fixed costs (the rest goes
        to its wholesalers as takings come in)."""
        return self.wages_share + sum(cost.share for cost in self.fixed_costs.values())

    @model_validator(mode="after")
    def _costs_leave_the_wholesalers_something(self):
        if self.set_aside >= 1:
            raise ValueError(f"wages_share ({self.wages_share}) and fixed_costs' shares "
                             f"({', '.join(f'{k} {c.share}' for k, c in self.fixed_costs.items())}) must add up to "
                             f"less than 1: the rest of what a business pays on goes to its wholesalers")
        return self


class Customers(Section):
    age: IntRange
    age_pyramid: Annotated[list[Band], Field(min_length=1)]
    sex: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, ("F", "M"), "sex"))]
    spend_tiers: Shares
    kyc_level: Shares
    risk_rating: Shares
    pep_rate: Probability
    occupation: Shares
    industry: Shares
    income_bracket: Shares
    monthly_income: dict[str, Income]
    pay_schedule: dict[str, Literal["day_25", "day_15", "first_week", "irregular"]]
    irregular_credits: IntRange
    income_kind: dict[str, Literal["salary", "pension", "grant", "family", "client_payment"]]
    cash_takings: dict[str, Probability]
    business: Business
    income_factor: dict[str, Annotated[float, Field(ge=0, le=100)]]
    income_cap: dict[str, PositiveFloat] = {}  # the most an occupation's monthly income can be (raw, as drawn)
    country_risk: Shares
    tenure_days: IntRange

    @field_validator("age")
    @classmethod
    def _adult_ages(cls, age: IntRange) -> IntRange:
        if age.min < 18 or age.max > 110:
            raise ValueError(f"customer ages must lie within 18–110 (got {age.min}–{age.max})")
        return age

    @field_validator("age_pyramid")
    @classmethod
    def _pyramid(cls, bands: list[Band]) -> list[Band]:
        _shares_sum_to_one({str(i): b for i, b in enumerate(bands)})
        return _bands_in_order(bands)

    @field_validator("tenure_days")
    @classmethod
    def _positive_tenure(cls, tenure: IntRange) -> IntRange:
        if tenure.min < 1:
            raise ValueError(f"tenure must be at least 1 day (got min={tenure.min})")
        return tenure

    @model_validator(mode="after")
    def _tables_cover_their_keys(self):
        missing_income = [b for b in self.income_bracket if b not in self.monthly_income]
        if missing_income:
            raise ValueError(f"monthly_income needs an entry for every income_bracket (missing {missing_income[0]!r})")
        unknown = [o for o in self.income_factor if o not in self.occupation]
        if unknown:
            raise ValueError(f"income_factor: unknown occupation {unknown[0]!r}; allowed: {', '.join(self.occupation)}")
        missing_schedule = [o for o in self.occupation if o not in self.pay_schedule]
        if missing_schedule:
            raise ValueError(f"pay_schedule needs an entry for every occupation (missing {missing_schedule[0]!r}); "
                             f"allowed schedules: {', '.join(PAY_SCHEDULES)}")
        missing_kind = [o for o in self.occupation if o not in self.income_kind]
        if missing_kind:
            raise ValueError(f"income_kind needs an entry for every occupation (missing {missing_kind[0]!r}); "
                             f"allowed kinds: {', '.join(INCOME_KINDS)}")
        unknown = [o for o in [*self.income_kind, *self.cash_takings, *self.income_cap] if o not in self.occupation]
        if unknown:
            raise ValueError(f"income_kind, cash_takings and income_cap: unknown occupation {unknown[0]!r}; allowed: "
                             f"{', '.join(self.occupation)}")
        not_clients = [o for o in self.cash_takings if self.income_kind.get(o) != "client_payment"]
        if not_clients:
            raise ValueError(f"cash_takings: {not_clients[0]!r} is paid by {self.income_kind[not_clients[0]]}, not "
                             f"client_payment: only client payments can arrive as cash")
        not_paid = [o for o in self.business.occupations if self.income_kind.get(o) != "client_payment"]
        if not_paid:
            raise ValueError(f"business.occupations: {not_paid[0]!r} is not an occupation paid by clients "
                             f"(income_kind client_payment); allowed: "
                             f"{', '.join(o for o, k in self.income_kind.items() if k == 'client_payment')}")
        covered = [b for b in self.age_pyramid if b.share > 0 and b.max_age >= self.age.min and b.min_age <= self.age.max]
        if not covered:
            raise ValueError(f"age_pyramid gives no weight to any age within age {self.age.min}–{self.age.max}")
        return self


ACCOUNT_STATUSES = ("active", "dormant", "frozen")


class Closing(Section):
    share: Probability
    within_days: Annotated[int, Field(ge=1, le=3650)]


class Accounts(Section):
    status: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, ACCOUNT_STATUSES, "account status"))]
    closing: Closing
    opening_later: Probability
    buffer_months: FloatRange
    overdraft_share: Probability
    overdraft_of_income: FloatRange

    @model_validator(mode="before")
    @classmethod
    def _no_account_type_shares(cls, values):
        if isinstance(values, dict) and "account_type" in values:
            raise ValueError("account_type is no longer drawn: an account's type follows its product (a customer's "
                             "first account or the one their income is paid into: current; a later debit account: "
                             "savings; a credit card's account: credit_card; cards.card_type sets the credit share). "
                             "Delete accounts.account_type from the scenario")
        return values

    @field_validator("buffer_months", "overdraft_of_income")
    @classmethod
    def _positive(cls, value: FloatRange) -> FloatRange:
        if value.min <= 0:
            raise ValueError(f"must be above 0 (got min={value.min})")
        return value


CARD_LIFE_MONTHS = 36  # a card is valid three years from its issue


def _within_a_cards_life(months: "IntRange") -> "IntRange":
    if months.min < 1 or months.max > CARD_LIFE_MONTHS:
        raise ValueError(f"first cards expire 1–{CARD_LIFE_MONTHS} months after start_date (a card lasts "
                         f"{CARD_LIFE_MONTHS} months); got {months.min}–{months.max}")
    return months


class Cards(Section):
    network: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, CARD_NETWORK_PREFIXES, "card network"))]
    card_type: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, ("debit", "credit"), "card type"))]
    validity_months: Annotated[IntRange, AfterValidator(lambda r: _within_a_cards_life(r))]
    credit_limit_of_income: FloatRange
    renewal_days_before_expiry: IntRange
    replacement_days: IntRange
    # test: the processors' published test BINs (numbers a scanner may still match, on ranges used for test data);
    # realistic: three random BINs per network in live ranges, for BIN-based rules (numbers may be issued cards')
    bin_ranges: Literal["test", "realistic"]


class SharedComputers(Section):
    share: Probability
    users: IntRange
    use: Probability


class PublicComputers(Section):
    share: Probability
    users_per_computer: Annotated[int, Field(ge=1, le=100_000)]
    use: Probability


class Devices(Section):
    os: Shares
    age_days: IntRange
    rooted_rate: Probability
    vpn_rate: Probability
    emulator_rate: Probability
    phone_change_years: Annotated[float, Field(gt=0.1, le=50)]
    new_phone_trust_days: IntRange
    second_device_share: Probability
    second_device_use: Probability
    second_device_shopping: Probability
    household_share: Probability
    household_use: Probability
    shared_computers: SharedComputers
    public_computers: PublicComputers


class Beneficiaries(Section):
    type: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, BENEFICIARY_TYPES, "beneficiary type"))]
    country_risk: Annotated[Shares, AfterValidator(lambda s: _known_keys(s, ("low", "medium", "high"), "country risk"))]
    per_account: IntRange
    new_per_month: Annotated[float, Field(ge=0, le=30)]
    new_high_risk_share: Probability
    first_payment_days: IntRange
    once_off_share: Probability
    abroad_share: Probability  # individuals living in a neighbouring country (`travel.cross_border.countries`)


class Merchants(Section):
    categories: Annotated[dict[str, MerchantCategory], Field(min_length=1), AfterValidator(_shares_sum_to_one)]
    price_endings: Shares
    atm_mcc: MerchantCategoryCode

    @field_validator("price_endings")
    @classmethod
    def _cents(cls, endings: dict[str, float]) -> dict[str, float]:
        bad = [e for e in endings if not _is_cents(e)]
        if bad:
            raise ValueError(f"price ending {bad[0]!r} must be a fraction of one unit, 0.00–0.99")
        return endings
