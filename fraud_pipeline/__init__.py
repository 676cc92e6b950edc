"""fraud_pipeline: a simulated bank as a Dagster code location, for labelled synthetic test data.

Without Dagster: `fraud_pipeline.generate("2026-01-15")` gives a day's tables, `fraud_pipeline.load_scenario(...)`
a validated scenario (see `fraud_pipeline.api`).

The Python API is imported when first asked for (PEP 562), not with the package: a worker process that runs a
range of blocks imports `fraud_pipeline.engine` alone, without the API's reports and their pictures (matplotlib).
"""

__all__ = ["generate", "generate_days", "load_scenario"]


def __getattr__(name: str):
    if name in __all__:
        from fraud_pipeline import api

        return getattr(api, name)
    raise AttributeError(f"module 'fraud_pipeline' has no attribute {name!r}")
