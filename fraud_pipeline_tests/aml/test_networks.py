"""Laundering among our own customers (issue 24, `aml.networks`): layering chains, round-tripping cycles,
scatter-gather and gather-scatter. Their structure (§8.2 rows 4–6) over whole cases on the busy small bank: every hop
between two members of ours is a transfer that settles overnight for the same amount, one to or from a member at
another bank a payment out to or in from that member, money only shrinks as it passes, each member passes on after
it receives, and the case's shape is its typology's (followed whole where every member is ours)."""

import json

from datetime import timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fraud_pipeline.aml import networks
from fraud_pipeline.core.labels import AML_TYPOLOGIES, NETWORK_TYPOLOGIES
from fraud_pipeline.core.rows import NONE, TRANSFER_IN, make
from fraud_pipeline.core.timeline import MS_PER_DAY, MS_PER_HOUR
from fraud_pipeline.engine.bank import Bank
from fraud_pipeline.engine.blocks import block_world
from fraud_pipeline.engine.world_store import directory_of
from fraud_pipeline.scenario.aml import CASE_DAYS
from fraud_pipeline_tests.aml.conftest import FIRST, finished, laundering_rows
from fraud_pipeline_tests.conftest import scaled

NETWORKS = [AML_TYPOLOGIES[t] for t in NETWORK_TYPOLOGIES]


def _case_rows(days, typology, all_ours=False):
    """The typology's finished cases that ran to their end (`all_ours`: only those whose every member is ours), and
    its rows. A member who spent the money before passing it on is declined (`insufficient_funds`) and the case stops
    there (nobody after it sends money it never had): rare, and those cases are left out."""
    rows, cases = days
    mine = finished(cases, typology)
    if all_ours:
        mine = mine[mine["parameters"].map(lambda p: json.loads(p)["elsewhere"] == 0)]
        assert mine["case_id"].nunique() >= 4, typology
    laundering = laundering_rows(rows)
    laundering = laundering[laundering["aml_typology"] == typology]
    declined = set(laundering.loc[laundering["status"] != "approved", "aml_case_id"])
    assert (laundering["status"] != "approved").mean() <= 0.01  # under 1 % of hops (the README's figure)
    return mine[~mine["case_id"].isin(declined)], laundering


@pytest.mark.parametrize("typology", NETWORKS)
def test_every_hop_settles_overnight_between_members_and_money_only_shrinks(days, busy, typology):
    config = getattr(busy.aml, typology)
    cases, laundering = _case_rows(days, typology)
    holders = Bank(busy).entities["accounts"].select(["account_id", "customer_id"]).to_pandas()
    away_seen = 0
    for case_id, members in cases.groupby("case_id"):
        mine = laundering[laundering["aml_case_id"] == case_id]
        role = dict(zip(members["account_id"], members["role"]))
        drawn = json.loads(members["parameters"].iloc[0])
        elsewhere = set(drawn["elsewhere_payees"])  # the members at other banks, as the bank sees them: payees
        assert members["customer_id"].is_unique  # no self-transfers
        assert len(members) + drawn["elsewhere"] == drawn["members"] == len(role) + len(elsewhere)
        assert set(holders.set_index("account_id").loc[list(role), "customer_id"]) == set(members["customer_id"])
        assert (mine["aml_role"] == mine["account_id"].map(role)).all()  # every row's role is its account's
        assert mine["event_time"].between(members["start_time"].iloc[0], members["end_time"].iloc[0]).all()
        approved = mine
        hops = approved[approved["counterparty_account_id"].notna()]
        sent, settled = hops[hops["direction"] == "debit"], hops[hops["direction"] == "credit"]
        # each approved hop between two members settles in the next overnight batch, for the same amount
        assert sent["counterparty_account_id"].isin(role).all() and settled["counterparty_account_id"].isin(role).all()
        pairs = sent.merge(settled, left_on=["account_id", "counterparty_account_id", "amount"],
                           right_on=["counterparty_account_id", "account_id", "amount"], suffixes=("", "_in"))
        assert len(pairs) == len(sent) == len(settled)
        next_day = pairs["event_time"].dt.normalize() + pd.Timedelta(days=1)
        overnight = (next_day + pd.Timedelta(minutes=30), next_day + pd.Timedelta(hours=2))
        assert pairs["event_time_in"].between(*overnight).all()
        # money enters from elsewhere, moves between members and leaves to elsewhere: never more out than in
        outside = approved["beneficiary_id"].notna() & ~approved["beneficiary_id"].isin(elsewhere)
        came_in = approved[(approved["direction"] == "credit") & outside]
        paid_out = approved[(approved["direction"] == "debit") & approved["beneficiary_id"].notna()]
        assert len(came_in) and abs(came_in["amount"].sum() - members["proceeds"].iloc[0]) < 0.01
        assert paid_out["amount"].sum() <= approved.loc[approved["direction"] == "credit", "amount"].sum()
        # a member at another bank pays on after it was paid, and (where it has one payer, and the bank sees it) less
        # than it was paid (an exit's payment out may go to the same person by chance: the plan's test is exact)
        via = approved[approved["beneficiary_id"].isin(elsewhere)]
        for member, seen in via.groupby("beneficiary_id"):
            to, back = seen[seen["direction"] == "debit"], seen[seen["direction"] == "credit"]
            if len(to) and len(back):
                away_seen += 1
                assert back["event_time"].min() > to["event_time"].min()
                if typology != "gather_scatter":  # a hub elsewhere is paid by placers elsewhere too
                    assert back["amount"].sum() <= to["amount"].sum() * (1 - config.shave.min) + 1
        for account, own in approved.groupby("account_id"):
            got, gave = own[own["direction"] == "credit"], own[own["direction"] == "debit"]
            assert gave["amount"].sum() <= got["amount"].sum() * (1 - config.shave.min) + 1  # each keeps some back
            assert gave["event_time"].min() > got["event_time"].min()  # it passes on what it received
        if not members["stealth"].iloc[0]:  # plainly the morning it settles or the day after
            assert (pairs["event_time"].dt.hour >= networks.SETTLED_HOUR).all()
    assert away_seen >= 3  # money followed out to members at other banks and back


def _shape(mine: pd.DataFrame, members: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    hops = mine[(mine["direction"] == "debit") & mine["counterparty_account_id"].notna()]
    return hops, dict(zip(members["account_id"], members["role"]))


def test_a_layering_chain_is_a_path_from_its_placer_to_its_exit(days):
    cases, laundering = _case_rows(days, "layering", all_ours=True)
    for case_id, members in cases.groupby("case_id"):
        hops, role = _shape(laundering[laundering["aml_case_id"] == case_id], members)
        drawn = json.loads(members["parameters"].iloc[0])
        assert sorted(role.values()) == sorted(["placer", "exit"] + ["layer"] * (drawn["members"] - 2))
        assert 3 <= drawn["members"] <= 6 and len(hops) == drawn["hops"] == drawn["members"] - 1
        assert hops["account_id"].is_unique and hops["counterparty_account_id"].is_unique  # a path: one in, one out
        path = hops.sort_values("event_time")
        assert role[path["account_id"].iloc[0]] == "placer" and role[path["counterparty_account_id"].iloc[-1]] == "exit"
        assert (path["counterparty_account_id"].to_numpy()[:-1] == path["account_id"].to_numpy()[1:]).all()
        assert (np.diff(path["amount"].to_numpy()) <= 0).all()  # shaved at every hop


def test_a_cycle_brings_the_money_back_to_its_source_which_then_spends_it(days, busy):
    c = busy.aml.cycle
    cases, laundering = _case_rows(days, "cycle", all_ours=True)
    for case_id, members in cases.groupby("case_id"):
        mine = laundering[laundering["aml_case_id"] == case_id]
        hops, role = _shape(mine, members)
        source = [a for a, r in role.items() if r == "source"]
        assert len(source) == 1 and len(hops) == len(role)  # one hop out of each member, back to the source
        path = hops.sort_values("event_time")
        assert path["account_id"].iloc[0] == source[0] == path["counterparty_account_id"].iloc[-1]
        assert hops["account_id"].is_unique and set(hops["counterparty_account_id"]) == set(role)
        returned, sent = path["amount"].iloc[-1], path["amount"].iloc[0]
        assert (1 - c.shave.max) ** len(role) * sent - 100 * len(role) <= returned <= sent
        spent = mine[(mine["account_id"] == source[0]) & mine["beneficiary_id"].notna()
                     & (mine["direction"] == "debit")]
        assert len(spent) and spent["event_time"].min() > path["event_time"].iloc[-1]  # after it came back


def test_scatter_gather_and_gather_scatter_fan_out_and_in_through_their_hub(days):
    """Over every finished case whose hub is ours: its payers and payees are the fan's members, ours by account and
    those at other banks by the payee the bank sees (a member elsewhere paid by another elsewhere shows as a payer
    only, which the hub's credits still name)."""
    for typology in ("scatter_gather", "gather_scatter"):
        cases, laundering = _case_rows(days, typology)
        hubs = 0
        for case_id, members in cases.groupby("case_id"):
            mine = laundering[laundering["aml_case_id"] == case_id]
            role = dict(zip(members["account_id"], members["role"]))
            middle = [a for a, r in role.items() if r == "consolidator"]
            if not middle:
                continue  # the hub is at another bank
            hubs += 1
            drawn = json.loads(members["parameters"].iloc[0])
            elsewhere = set(drawn["elsewhere_payees"])
            at_hub = mine[mine["account_id"] == middle[0]]
            ours_in = mine[(mine["counterparty_account_id"] == middle[0]) & (mine["direction"] == "debit")]
            away_in = at_hub[(at_hub["direction"] == "credit") & at_hub["beneficiary_id"].isin(elsewhere)]
            payers = set(ours_in["account_id"]) | set(away_in["beneficiary_id"])
            if typology == "scatter_gather":  # placer → mules → consolidator, each mule passing on what it got
                assert payers >= {a for a, r in role.items() if r == "mule"} and len(payers) == drawn["members"] - 2
                assert not at_hub.loc[at_hub["direction"] == "debit", "beneficiary_id"].isin(elsewhere).any()
            else:  # placers → hub → exits: the hub pays each exit once, after its last placer paid it
                out_of = at_hub[at_hub["direction"] == "debit"]
                payees = set(out_of["counterparty_account_id"].dropna()) | set(out_of["beneficiary_id"].dropna())
                assert payers >= {a for a, r in role.items() if r == "placer"}
                assert payees == {a for a, r in role.items() if r == "exit"} | (elsewhere - payers)
                assert len(payers) + len(payees) == drawn["members"] - 1
                assert out_of["event_time"].min() > at_hub.loc[at_hub["direction"] == "credit", "event_time"].max()
        assert hubs >= 4, typology


def test_the_bank_wide_plan_is_the_same_from_every_block_and_keyed_by_nothing_but_the_day(busy):
    """Every block computes the plan from the directory: the stored directory (what a worker holds of the bank) gives
    the bank's cases, members and rows, and each member's block makes that member's rows and no other's."""
    bank = Bank(busy).world
    day = FIRST
    whole = networks.plan_of(bank, day)
    assert len(whole.number) > 0 and set(whole.typology) == set(NETWORK_TYPOLOGIES)
    stored = networks.plan_of(directory_of(bank), day)
    for name in ("number", "member_account", "member_role", "move_kind", "move_account", "move_to", "move_party",
                 "move_payee", "move_ms", "move_cents", "move_after"):
        assert np.array_equal(getattr(stored, name), getattr(whole, name)), name
    assert stored.parameters == whole.parameters
    made = []
    for b in range(bank.n_blocks):
        block = block_world(bank, b)
        cases = networks.networks_day(block, day)
        made.append(np.sort(block.bank_accounts(cases.rows.account)))
        assert np.isin(block.bank_accounts(cases.account), whole.member_account).all()
    first = whole.move_after == NONE  # before any money reaches a member from another: the rest waits for it
    assert first.any() and (~first).any()
    assert np.array_equal(np.sort(np.concatenate(made)), np.sort(whole.move_account[first]))


def test_a_member_passes_money_on_only_when_it_arrives_and_only_once(busy):
    """`onward_day`: with every hop's credit settling the morning after it is sent, each block makes each of its
    members' later rows exactly once, on the planned day; without the credit to one member (its sender's hop was
    declined), that member makes none of them."""
    bank = Bank(busy).world
    plan = networks.plan_of(bank, FIRST)
    hop = np.flatnonzero(plan.move_kind == networks.HOP)
    settles = (plan.move_ms[hop] // MS_PER_DAY + 1) * MS_PER_DAY + MS_PER_HOUR  # 01:00, the overnight batch
    credits = make(len(hop), account=plan.move_to[hop], kind=TRANSFER_IN, counterparty=plan.move_account[hop],
                   event_ms=settles, arrival_ms=settles, cents=plan.move_cents[hop],
                   aml_case=plan.number[plan.move_case[hop]])
    later = np.flatnonzero(plan.move_after != NONE)

    def made(credits):
        rows = []
        for b in range(bank.n_blocks):
            block = block_world(bank, b)
            arriving = credits.take(np.flatnonzero(block.local_accounts(credits.account) >= 0))
            arriving.account = block.local_accounts(arriving.account)
            for k in range(CASE_DAYS + 1):
                found = networks.onward_day(block, FIRST + timedelta(days=k), arriving)
                rows += list(zip(found.aml_case, block.bank_accounts(found.account), found.event_ms, found.cents))
        return sorted(rows)

    planned = sorted(zip(plan.number[plan.move_case[later]], plan.move_account[later], plan.move_ms[later],
                         plan.move_cents[later]))
    assert len(planned) and made(credits) == planned
    silent = plan.move_to[hop[0]]  # the first hop's receiver never gets its money
    without = made(credits.take(np.flatnonzero(credits.account != silent)))
    case = plan.number[plan.move_case[hop[0]]]
    assert without == [r for r in planned if not (r[0] == case and r[1] == silent)] != planned


def test_members_after_the_first_are_at_other_banks_at_the_scenario_s_share(busy):
    """Each member after a case's first is at another bank with chance `elsewhere_share` (the first always ours): over
    a week of plans, the share is the scenario's within 4 standard errors; a member elsewhere is no member of ours,
    and the rows that pay it or are paid by it name it as the case's parameters do. At share 1 no hop stays inside
    the bank: a case is its first account, paid in, paying the next member out."""
    drawn = later = early = 0
    bank = Bank(busy).world
    for k in range(7):
        plan = networks.plan_of(bank, FIRST + timedelta(days=k))
        for case, parameters in enumerate(plan.parameters):
            assert (plan.member_case == case).sum() == parameters["members"] - parameters["elsewhere"]
            drawn, later = drawn + parameters["elsewhere"], later + parameters["members"] - 1
            via = plan.move_payee[(plan.move_case == case) & (plan.move_party == networks.MEMBER)]
            names = set(bank.beneficiary_id.take(pa.array(via)).to_pylist())
            # every member elsewhere a person of its own
            assert names <= set(parameters["elsewhere_payees"]) and len(set(parameters["elsewhere_payees"])) == \
                parameters["elsewhere"]
        assert ((plan.move_party == networks.MEMBER) == (plan.move_payee != NONE)).all()
        paid_in = (plan.move_kind == networks.IN) & (plan.move_party == networks.MEMBER)
        paid_to = (plan.move_kind == networks.OUT) & (plan.move_party == networks.MEMBER)
        for case, payee in set(zip(plan.move_case[paid_in], plan.move_payee[paid_in])):  # it pays on after all it got
            back = paid_in & (plan.move_case == case) & (plan.move_payee == payee)
            to = paid_to & (plan.move_case == case) & (plan.move_payee == payee)
            assert not to.any() or plan.move_ms[back].min() > plan.move_ms[to].max()
        early += int((plan.move_ms[paid_in] % MS_PER_DAY < networks.SETTLED_HOUR * MS_PER_HOUR).sum())
    assert early > 0  # a payment in from another bank comes at any hour, not after our overnight batch
    share = busy.aml.layering.elsewhere_share
    assert abs(drawn / later - share) <= 4 * np.sqrt(share * (1 - share) / later) and later > 500
    away = scaled(busy, aml={name: {"elsewhere_share": 1.0} for name in NETWORKS})
    plan = networks.plan_of(Bank(away).world, FIRST)
    assert len(plan.number) and (np.bincount(plan.member_case) == 1).all()
    assert not (plan.move_kind == networks.HOP).any()
    assert set(AML_TYPOLOGIES[t] for t in plan.typology) == set(NETWORKS)
    first_out = (plan.move_kind == networks.OUT) & (plan.move_party == networks.MEMBER)
    assert set(plan.move_case[first_out]) == set(range(len(plan.number)))  # each first member pays the next one out


def test_hops_are_typed_as_genuine_transfers_are(days):
    """A hop is typed as people type transfers and rounded down (never more than was received): the four typologies'
    transfers out are whole rands as often as genuine customers' within 0.05 (a fourth analyst found 32–53 % against
    81 %, where a share that would round up was paid to the cent)."""
    rows, _ = days
    typed = rows[(rows["transaction_type"] == "transfer") & rows["device_id"].notna()]
    whole = np.round(typed["amount"] * 100) % 100 == 0
    genuine = typed["aml_typology"].isna() & typed["fraud_scenario"].isna()
    for typology in NETWORKS:
        mine = typed["aml_typology"] == typology
        assert mine.sum() >= 200 and abs(whole[mine].mean() - whole[genuine].mean()) <= 0.05, typology
