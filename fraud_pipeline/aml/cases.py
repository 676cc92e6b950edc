"""The day's laundering: every typology's cases that start on the day, their rows, and the `aml_cases` table."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pyarrow as pa

from fraud_pipeline.aml.dormant import dormant_day
from fraud_pipeline.aml.exits import cross_border_day
from fraud_pipeline.aml.front_business import front_business_day
from fraud_pipeline.aml.high_risk import high_risk_day
from fraud_pipeline.aml.integration import untyped_day
from fraud_pipeline.aml.mules import mules_day
from fraud_pipeline.aml.networks import networks_day, onward_day
from fraud_pipeline.aml.new_accounts import new_account_day
from fraud_pipeline.aml.placement import Cases, placement_day
from fraud_pipeline.core import schemas
from fraud_pipeline.core.labels import AML_PREFIX, AML_ROLES, AML_TYPOLOGIES, episode_ids
from fraud_pipeline.core.rows import Rows, concat
from fraud_pipeline.world.build import World


def aml_day(world: World, day: date, arriving: Rows) -> tuple[Cases, Rows]:
    """The block's laundering cases that start on `day` and their rows (`Cases.rows`; those of later days have
    later arrival times, which the bank's day carries until they arrive), with the rows members of cases among our
    customers make today because money reached them (`networks.onward_day`). `arriving`: the rows the day starts
    with (accounts the world's); returned with the credits our own takeovers paid to mules of ours labelled as the
    mules' cases (`mules.handed_over`)."""
    mules, arriving = mules_day(world, day, arriving)
    cases = Cases.of([placement_day(world, day), mules, untyped_day(world, day), cross_border_day(world, day),
                      dormant_day(world, day), networks_day(world, day), high_risk_day(world, day),
                      front_business_day(world, day), new_account_day(world, day)])
    cases.rows = concat([cases.rows, onward_day(world, day, arriving)])
    return cases, arriving


def case_ids(case: np.ndarray) -> pa.Array:
    """Case numbers as ids (`<TYPOLOGY>-<start date>-<block>-<number>`), null for NONE."""
    return episode_ids(case, AML_PREFIX)


def case_table(world: World, cases: Cases) -> pa.Table:
    """`cases` as `aml_cases` rows: one per case and member account of the world (a case among our customers has
    several, in any blocks: each block writes its own), by start time."""
    order = np.lexsort((cases.case, cases.start_ms))
    account = cases.account[order]
    label = cases.label_ms[order]
    return schemas.AML_CASES.build({
        "case_id": case_ids(cases.case[order]),
        "typology": pa.array(AML_TYPOLOGIES).take(pa.array(cases.typology[order].astype(np.int64))),
        "account_id": world.account_id.take(pa.array(account)),
        "customer_id": world.customer_id.take(pa.array(world.account_customer[account])),
        "role": pa.array(AML_ROLES).take(pa.array(cases.role[order].astype(np.int64))),
        "start_time": pa.array(cases.start_ms[order], pa.timestamp("ms")),
        "end_time": pa.array(cases.end_ms[order], pa.timestamp("ms")),
        "proceeds": cases.proceeds[order] / 100,
        "stealth": cases.stealth[order].astype(bool),
        "parameters": [json.dumps(cases.parameters[i], sort_keys=True) for i in order],
        "label_available_at": pa.array(label, pa.timestamp("ms"), mask=label < 0),
    })
