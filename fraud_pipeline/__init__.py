"""fraud_pipeline: a simulated bank as a Dagster code location, for labelled synthetic test data.

Without Dagster: `fraud_pipeline.generate("2026-01-15")` gives a day's tables, `fraud_pipeline.load_scenario(...)`
a validated scenario (see `fraud_pipeline.api`).
"""

from fraud_pipeline.api import generate, generate_days, load_scenario

__all__ = ["generate", "generate_days", "load_scenario"]
