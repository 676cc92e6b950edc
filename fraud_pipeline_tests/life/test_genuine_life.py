"""Genuine life in four weeks of the default bank: each behaviour of "How genuine customers behave" in the
README, measured in the stored tables against what the scenario configures (tolerances stated per test).

Customer-initiated payments are what `card_transactions.per_day` counts: purchases (point of sale and
online), ATM withdrawals and transfers made from a device; debit orders, sweeps and credits come on top.
"""

from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from fraud_pipeline.world import calendar

NIGHT_HOURS = [22, 23, 0, 1, 2, 3, 4, 5, 6]


@pytest.fixture(scope="module")
def month(default_month):
    rows = default_month["transactions"].copy()
    rows["day"] = rows["arrival_time"].dt.date
    return {**default_month, "transactions": rows}


@pytest.fixture(scope="module")
def initiated(month):
    """The customers' own payments, approved or declined."""
    t = month["transactions"]
    own = t["transaction_type"].isin(["purchase", "withdrawal"]) | ((t["transaction_type"] == "transfer")
                                                                   & t["device_id"].notna())
    return t[own & (t["direction"] == "debit")]


def _night_share(profile) -> float:
    weights = np.asarray(profile, float)
    return weights[NIGHT_HOURS].sum() / weights.sum()


def test_cards_are_over_dispersed_and_few_customers_buy_every_day(month, initiated):
    """Gamma–Poisson activity: a card's daily count varies far more than Poisson's (variance = mean)."""
    per_card = initiated[initiated["card_number"].notna()].groupby(["card_number", "day"]).size().unstack(fill_value=0)
    dispersion = (per_card.var(axis=1) / per_card.mean(axis=1)).median()
    assert dispersion > 1.5  # 1.9 for the default scenario; Poisson gives 1
    customers = month["entities"]["customers"]["customer_id"]
    per_customer = initiated.groupby(["customer_id", "day"]).size().unstack(fill_value=0).reindex(customers,
                                                                                                   fill_value=0)
    active_days = (per_customer > 0).sum(axis=1)
    assert per_customer.shape[1] == 28
    assert (active_days == 28).mean() < 0.20  # the bound; 0.005 % here
    assert (active_days <= 4).mean() > 0.15  # many buy only a few times a month (27 %)
    assert (active_days >= 20).mean() > 0.01  # and some almost daily (3.6 %)


def test_daily_volume_per_channel_follows_the_configured_calendar(scenario, initiated):
    """Point-of-sale and online volume per day equal `calendar.channel_volume` (weekday rhythm, paydays, noise)
    within 5 % (7 % below: the declined attempts customers give up are never made), so their weekend/weekday ratio
    is the configured one."""
    observed = initiated.groupby(["day", "channel"]).size().unstack()
    for channel in ("pos", "online"):
        expected = pd.Series([calendar.channel_volume(scenario, channel, d) for d in observed.index], observed.index)
        ratio = observed[channel] / expected
        assert ratio.between(0.93, 1.05).all(), ratio.describe()
        weekend = pd.Series([d.weekday() >= 5 and not calendar.is_holiday(scenario, d) for d in observed.index],
                            observed.index)
        weekday = pd.Series([d.weekday() < 5 and not calendar.is_holiday(scenario, d) for d in observed.index],
                            observed.index)
        configured = expected[weekend].mean() / expected[weekday].mean()
        assert observed[channel][weekend].mean() / observed[channel][weekday].mean() == pytest.approx(configured,
                                                                                                      rel=0.03)
    # transfers are a weekday affair, card purchases peak at the weekend (default weekly rhythm)
    weekend = observed.index.map(lambda d: d.weekday() >= 5)
    assert observed["transfer"][weekend].mean() < 0.8 * observed["transfer"][~weekend].mean()
    assert observed["pos"][weekend].mean() > 1.05 * observed["pos"][~weekend].mean()


def test_payday_lifts_the_days_after_it_as_configured(scenario, month, initiated):
    """Salaried customers (paid on the 25th, or the business day before: Friday 23 January 2026) buy more on
    payday and the day after than public servants (paid on the 15th), by the configured lift within 10 %."""
    schedule = month["entities"]["customers"].set_index("customer_id")["pay_schedule"]
    purchases = initiated[initiated["transaction_type"] == "purchase"]
    per_day = purchases.groupby(["day", purchases["customer_id"].map(schedule)]).size().unstack()
    rate = per_day["day_25"] / per_day["day_15"]
    paydays = {name: calendar.payday(scenario, name, 2026, 1) for name in ("day_25", "day_15")}
    assert paydays == {"day_25": date(2026, 1, 23), "day_15": date(2026, 1, 15)}
    near = lambda d: any(0 <= (d - p).days < 4 for p in paydays.values())  # noqa: E731
    ordinary = rate[[not near(d) for d in rate.index]].median()
    lift = scenario.card_transactions.payday.volume
    # within 15 %: before payday some customers have run out and give up after declines, which lifts the ratio
    for offset in (0, 1):
        d = date(2026, 1, 23 + offset)
        assert rate[d] / ordinary == pytest.approx(lift[offset], rel=0.15)
        d = date(2026, 1, 15 + offset)  # and the other way round on the 15th
        assert ordinary / rate[d] == pytest.approx(lift[offset], rel=0.15)


def test_every_channel_has_night_activity_in_its_configured_share(scenario, initiated):
    """22:00–06:59 is rare but never empty: each channel's night share within 20 % of its hourly profile's
    (point of sale: of its categories' own profiles, weighted by the categories bought)."""
    hour = initiated["event_time"].dt.hour
    observed = hour.isin(NIGHT_HOURS).groupby(initiated["channel"]).mean()
    c = scenario.card_transactions
    expected = {channel: _night_share(c.hourly[channel]) for channel in ("online", "transfer", "atm")}
    mix = initiated.loc[initiated["channel"] == "pos", "category"].value_counts(normalize=True)
    expected["pos"] = sum(share * _night_share(c.category_hourly.get(category, c.hourly["pos"]))
                          for category, share in mix.items())
    for channel, share in expected.items():
        assert observed[channel] > 0.03
        assert observed[channel] == pytest.approx(share, rel=0.20), channel


def test_purchase_amounts_respect_category_caps_and_end_on_price_points(scenario, initiated):
    purchases = initiated[initiated["transaction_type"] == "purchase"]
    unit = scenario.card_transactions.reference_unit_value
    categories = scenario.merchants.categories
    home = purchases[purchases["original_currency"] == scenario.geography.currency]
    for name, category in categories.items():
        amounts = home.loc[home["category"] == name, "amount"]
        assert len(amounts) > 0, name
        assert amounts.max() <= category.max_price * unit + 1e-9, name  # e.g. no grocery basket above R4,500
        assert amounts.min() >= category.min_price * unit - 1e-9, name
    # abroad, the local price is capped the same way before conversion (0.5 % daily rate noise)
    abroad = purchases[purchases["original_currency"] != scenario.geography.currency]
    caps = abroad["category"].map({name: c.max_price * unit for name, c in categories.items()})
    assert (abroad["amount"] <= caps * 1.05).all()
    # endings: each category's price-point share × the ending's share, the rest spread over 100 cents
    cents = np.round(home["amount"] * 100).astype(np.int64) % 100
    point_share = home["category"].map({name: c.price_points for name, c in categories.items()})
    for ending, share in scenario.merchants.price_endings.items():
        expected = (point_share * share + (1 - point_share) / 100).mean()
        assert (cents == round(float(ending) * 100)).mean() == pytest.approx(expected, rel=0.10), ending
    assert (cents == 99).mean() > 10 * 0.01  # far above uniform cents


def test_avg_spend_is_the_mean_purchase(month, initiated):
    """`avg_spend` is each customer's expected purchase on an ordinary day: the data's mean purchase, weighted by
    how much each customer buys, agrees within 5 % (payday baskets lift it a little)."""
    purchases = initiated[initiated["transaction_type"] == "purchase"]
    avg_spend = month["entities"]["customers"].set_index("customer_id")["avg_spend"]
    assert purchases["amount"].mean() / purchases["customer_id"].map(avg_spend).mean() == pytest.approx(1.0, abs=0.05)
    tier = month["entities"]["customers"].set_index("customer_id")["spend_tier"]
    by_tier = purchases.groupby(purchases["customer_id"].map(tier))["amount"].mean()
    assert by_tier["low"] < by_tier["medium"] < by_tier["high"]


def test_ages_follow_the_configured_pyramid(scenario, month):
    ages = month["entities"]["customers"]["age"]
    for band in scenario.customers.age_pyramid:
        share = ages.between(band.min_age, min(band.max_age, scenario.customers.age.max)).mean()
        assert share == pytest.approx(band.share, abs=0.012), band
    assert 0 < (ages > 90).mean() < 0.005  # a handful over 90, not 12 %


def test_channel_mix_shifts_with_age(initiated, month):
    """Online shopping falls and ATM use rises with age (online_by_age, atm_by_age)."""
    age = month["entities"]["customers"].set_index("customer_id")["age"]
    band = pd.cut(initiated["customer_id"].map(age), [17, 34, 54, 120], labels=["young", "middle", "older"])
    mix = pd.crosstab(band, initiated["channel"], normalize="index")
    assert mix.loc["young", "online"] > mix.loc["middle", "online"] > mix.loc["older", "online"]
    assert mix.loc["young", "atm"] < mix.loc["middle", "atm"] < mix.loc["older", "atm"]


def test_customers_return_to_their_shops_web_shops_and_atms(scenario, month, initiated):
    usual = month["entities"]["customer_merchants"]
    pairs = set(zip(usual["customer_id"], usual["merchant_id"]))
    at_home = initiated[initiated["country"] == "ZA"]
    # online: 48 % (favourites for 70 % of sessions, a session's later purchases partly at other shops)
    for channel, least in (("pos", 0.6), ("online", 0.4), ("atm", 0.6)):
        rows = at_home[at_home["channel"] == channel]
        usual_share = np.mean([pair in pairs for pair in zip(rows["customer_id"], rows["merchant_id"])])
        assert usual_share > least, (channel, usual_share)
    atms = usual[usual["role"] == "atm"].groupby("customer_id").size()
    assert atms.between(scenario.card_transactions.habits.atms.min, scenario.card_transactions.habits.atms.max).all()


def test_sessions_make_short_gaps_common(scenario, initiated):
    """A card's next transaction within 2 minutes: the sessions' extra purchases (Poisson mean 0.45) at a
    log-normal gap (median 240 s, sigma 1.1) give P(gap < 120 s) × extras ÷ purchases, within 25 %."""
    card = initiated[initiated["card_number"].notna()].sort_values(["card_number", "event_time"])
    gap = card.groupby("card_number")["event_time"].diff().dt.total_seconds()
    observed = (gap < 120).mean()
    s = scenario.card_transactions.sessions
    purchases = card["channel"].isin(["pos", "online"]).mean()
    expected = norm.cdf(np.log(120 / s.gap_seconds.median) / s.gap_seconds.sigma) * s.extra_purchases / (
        1 + s.extra_purchases) * purchases
    assert observed == pytest.approx(expected, rel=0.25)


def test_genuine_digital_payments_sometimes_come_from_an_untrusted_device(scenario, month, initiated):
    """Shared and public computers, second devices, household phones and new phones in their first days: the share
    of digital payments not on the account's trusted device at the time is near what the device settings imply
    (within 30 %)."""
    digital = initiated[initiated["device_id"].notna()].sort_values("event_time")
    bound = month["entities"]["device_history"]
    bound = bound.assign(at=pd.to_datetime(bound["trusted_from"]).astype(digital["event_time"].dtype))
    latest = pd.merge_asof(digital.assign(at=digital["event_time"].dt.normalize()),
                           bound.sort_values("at")[["customer_id", "at", "device_id"]].rename(
                               columns={"device_id": "trusted"}),
                           on="at", by="customer_id", direction="backward")
    assert latest["trusted"].notna().all()
    untrusted = (latest["device_id"] != latest["trusted"]).mean()
    d = scenario.devices
    changes_a_day = 1 / (d.phone_change_years * 365.25)
    new_phone = changes_a_day * (d.new_phone_trust_days.min + d.new_phone_trust_days.max) / 2
    for channel, second_use in (("online", d.second_device_shopping), ("transfer", d.second_device_use)):
        mine = latest["channel"] == channel
        observed = (latest.loc[mine, "device_id"] != latest.loc[mine, "trusted"]).mean()
        shared, public = d.shared_computers, d.public_computers  # at home, before any other device
        computer = shared.share * shared.use + (1 - shared.share * shared.use) * public.share * public.use
        expected = computer + (1 - computer) * (d.second_device_share * second_use
                                                + d.household_share * d.household_use) + new_phone
        assert observed == pytest.approx(expected, rel=0.30), channel
    assert 0.01 < untrusted < 0.5


def test_genuine_customers_add_payees_some_high_risk(scenario, month):
    t, entities = month["transactions"], month["entities"]
    links = entities["account_beneficiaries"]
    added_on = pd.to_datetime(links["added_date"]).dt.date
    added = links[(added_on >= scenario.start_date) & (added_on < date(2026, 1, 29))]
    accounts = entities["accounts"]
    expected = scenario.beneficiaries.new_per_month * len(accounts) * 28 / (365.25 / 12)
    assert len(added) == pytest.approx(expected, rel=0.15)
    to_payees = t[(t["beneficiary_id"].notna()) & (t["status"] == "approved")]
    new = to_payees[to_payees["recipient_status"] == "NEW_RECIPIENT"]
    assert len(new) > 0.5 * len(added[pd.to_datetime(added["added_date"]).dt.date < date(2026, 1, 25)])
    high_risk = set(entities["beneficiaries"].loc[entities["beneficiaries"]["is_high_risk"], "beneficiary_id"])
    assert new["beneficiary_id"].isin(high_risk).sum() > 0  # honest payments to a crypto exchange exist


def test_travel_puts_genuine_activity_abroad_every_day(month, initiated):
    merchants = month["entities"]["merchants"].set_index("merchant_id")
    abroad = initiated[initiated["country"] != "ZA"]
    assert abroad.groupby("day").size().reindex(sorted(initiated["day"].unique()), fill_value=0).min() > 0
    assert set(abroad["channel"]) >= {"pos", "online", "atm"}
    # every foreign row names a real merchant row of that country, priced in its currency (transfers made from
    # abroad have no merchant: the session's place)
    assert (abroad["merchant_id"].isna() == (abroad["channel"] == "transfer")).all()
    abroad = abroad[abroad["merchant_id"].notna()]
    known = abroad["merchant_id"].map(merchants["country"])
    assert (known == abroad["country"]).all()
    assert (abroad["original_currency"] == abroad["merchant_id"].map(merchants["currency"])).all()
    assert (abroad["original_currency"] != "ZAR").all()
    cash = abroad[abroad["channel"] == "atm"]
    assert len(cash) > 0 and (cash["original_amount"] % 10 == 0).all()  # whole local notes
    # domestic trips: point-of-sale rows in a province other than the customer's home province
    home = month["entities"]["customers"].set_index("customer_id")["home_province"]
    domestic = initiated[(initiated["channel"] == "pos") & (initiated["country"] == "ZA")]
    away = domestic["province"] != domestic["customer_id"].map(home)
    assert 0.01 < away.mean() < 0.15


def test_online_rows_sit_at_the_merchants_registered_place_not_at_home(month, initiated):
    merchants = month["entities"]["merchants"].set_index("merchant_id")
    customers = month["entities"]["customers"].set_index("customer_id")
    online = initiated[initiated["channel"] == "online"]
    assert np.allclose(online["lat"], online["merchant_id"].map(merchants["lat"]))
    assert np.allclose(online["lon"], online["merchant_id"].map(merchants["lon"]))
    at_home = np.isclose(online["lat"], online["customer_id"].map(customers["home_lat"])) & np.isclose(
        online["lon"], online["customer_id"].map(customers["home_lon"]))
    assert at_home.mean() < 0.001


def test_recipient_status_is_the_history_rule_on_every_row(scenario, month):
    """Recomputed from the stored tables alone: a payment out is NEW_RECIPIENT exactly when its account had not
    paid that merchant, payee or account before — not among its customer's usual merchants, its payees saved
    before the start, its customer's other accounts, nor an approved row earlier in the data."""
    entities = month["entities"]
    rows = pd.concat([month["transactions"], month["fraud"]], ignore_index=True)
    rows = rows[rows["direction"] == "debit"].sort_values(["arrival_time", "event_time"], kind="stable")
    recipient = rows["merchant_id"].fillna(rows["beneficiary_id"]).fillna(rows["counterparty_account_id"])
    rows = rows.assign(recipient=recipient)
    accounts = entities["accounts"][["account_id", "customer_id"]]
    usual = entities["customer_merchants"].merge(accounts, on="customer_id")
    links = entities["account_beneficiaries"]
    saved = links[pd.to_datetime(links["added_date"]).dt.date < scenario.start_date]
    own = accounts.merge(accounts, on="customer_id", suffixes=("", "_other"))
    own = own[own["account_id"] != own["account_id_other"]]
    known_before = set(zip(usual["account_id"], usual["merchant_id"])) | set(
        zip(saved["account_id"], saved["beneficiary_id"])) | set(zip(own["account_id"], own["account_id_other"]))
    # first approved payment of each (account, recipient) in arrival order
    pair = list(zip(rows["account_id"], rows["recipient"]))
    rows = rows.assign(pair=pair, position=np.arange(len(rows)))
    first_paid = rows[rows["status"] == "approved"].groupby("pair")["position"].min()
    paid_earlier = rows["pair"].map(first_paid).fillna(len(rows)) < rows["position"]
    expected = np.where(rows["pair"].isin(known_before) | paid_earlier, "FAVORITE", "NEW_RECIPIENT")
    mismatched = rows[rows["recipient_status"].to_numpy() != expected]
    assert len(mismatched) == 0, mismatched[["transaction_id", "recipient_status", "channel", "is_fraud"]].head()
    assert rows["recipient"].notna().all()
    # money coming in has no recipient status
    credits = month["transactions"][month["transactions"]["direction"] == "credit"]
    assert credits["recipient_status"].isna().all()
    # and NEW_RECIPIENT is common among honest rows, not a fraud signature
    genuine = rows[~rows["is_fraud"]]
    assert (genuine["recipient_status"] == "NEW_RECIPIENT").groupby(genuine["channel"]).mean().min() > 0.01
