"""The detection section: how much of the bank the detection scorecard reads.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from fraud_pipeline.scenario.base import Section


class Detection(Section):
    # The share of customers the scorecard trains and tests on: whole customers (every account, card and payment of
    # each), chosen by a keyed hash of the customer number. 1 scores the whole bank. Its cost follows the sample.
    sample_share: Annotated[float, Field(gt=0, le=1)] = 0.25
    # ... but never fewer customers than this (a smaller bank is scored whole): their fraud is what the detectors
    # learn from, and a few dozen fraud cards are too few to train or rank.
    min_sample_customers: Annotated[int, Field(ge=0)] = 2000
    # The AML scorecard (detection.aml_scorecard) tests the last share of its days and trains on the days before
    # (AMLworld's protocol trains on 60 % and validates on 20 %; the threshold here is the test's best, so
    # train and validation are one).
    aml_test_share: Annotated[float, Field(gt=0, lt=1)] = 0.2
    # The accounts its analysts review: AMLGentex's alert budget K, per 100,000 accounts per 30 days
    # (../shared/reference/aml-anchors.md §8.3).
    aml_alerts_per_100k_accounts_month: Annotated[float, Field(gt=0)] = 100

    def share(self, customers: int) -> float:
        """The share of a bank of `customers` the scorecard samples: sample_share, raised so the sample holds
        min_sample_customers when the bank has them, and 1 when it has fewer."""
        return min(1.0, max(self.sample_share, self.min_sample_customers / max(customers, 1)))
