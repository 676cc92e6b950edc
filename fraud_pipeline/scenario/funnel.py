"""The web acquisition funnel's section.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, PositiveInt

from fraud_pipeline.scenario.base import FloatRange, IntRange, MerchantCategoryCode, Probability, Section, Shares
from fraud_pipeline.scenario.behaviour import ArrivalLag


class SessionSeconds(Section):
    mean: Annotated[float, Field(gt=0)]
    sd: Annotated[float, Field(ge=0)]
    min: Annotated[float, Field(gt=0)]


class WebFunnel(Section):
    visitors_per_day: PositiveInt
    daily_volume_sd: Annotated[float, Field(ge=0, le=0.5)]
    hourly_weights: Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=24, max_length=24)]
    event_types: Shares
    device_types: Shares
    geo: Shares
    session_seconds: SessionSeconds
    application_rate: Probability
    application_delay_minutes: FloatRange
    applicant_age: IntRange
    annual_income: FloatRange
    employment_status: Shares
    approval_rate: Probability
    not_approved_status: Shares
    opening_delay_hours: FloatRange
    limit_factor: FloatRange
    interest_rate: FloatRange
    first_transaction_rate: Probability
    first_transactions: IntRange
    first_transaction_delay_days: FloatRange
    first_transaction_amount: FloatRange
    mccs: Annotated[list[MerchantCategoryCode], Field(min_length=1)]
    arrival_lag_seconds: ArrivalLag
