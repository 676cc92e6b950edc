"""fraud_pipeline: a simulated bank as a Dagster code location, for labelled synthetic test data.

Without Dagster: `fraud_pipeline.generate("2026-01-15")` gives a day's tables, `fraud_pipeline.entities()` its world,
`fraud_pipeline.load_scenario(...)` a validated scenario (see `fraud_pipeline.api`).

The Python API is imported when first asked for (PEP 562), not with the package: a worker process that runs a
range of blocks imports `fraud_pipeline.engine` alone, without the API's reports and their pictures (matplotlib).
Every process that imports the package (the code location, a pool's or Ray's workers, a user's script) allocates
pyarrow's buffers with the system allocator unless `ARROW_DEFAULT_MEMORY_POOL` says otherwise (`core.allocator`).
"""

from fraud_pipeline.core.allocator import use_system_allocator

use_system_allocator()

__all__ = ["entities", "generate", "generate_days", "load_scenario"]


def __getattr__(name: str):
    if name in __all__:
        from fraud_pipeline import api

        return getattr(api, name)
    raise AttributeError(f"module 'fraud_pipeline' has no attribute {name!r}")
