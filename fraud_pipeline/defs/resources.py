"""The store and the executor as Dagster resources: their settings in the launchpad, the pure `ObjectStore` and
`ExecutorSettings` in the assets."""

import os

import dagster as dg
from pydantic import Field, field_validator

from fraud_pipeline.engine.executors import (
    EXECUTOR_VARIABLE,
    KINDS,
    WORKERS_VARIABLE,
    ExecutorSettings,
    check_kind,
    check_workers,
    settings_from_environment,
)
from fraud_pipeline.io.storage import ObjectStore


class StoreResource(dg.ConfigurableResource):
    """Where every table goes: a local folder (default `data`) or an `s3://bucket/prefix` URL.

    S3 credentials come from the standard AWS environment variables only; they are never fields
    here, so they never reach run config, logs or metadata. Assets receive the `ObjectStore` it makes
    (annotated `dg.ResourceParam[ObjectStore]`), so tests may pass an `ObjectStore` directly.
    """

    root_url: str = Field(default="data", description="Local folder, or s3://bucket/prefix.")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (else AWS_ENDPOINT_URL).")
    table_format: str = Field(default="parquet", description="parquet, or delta: the curated tables also as Delta "
                                                             "Lake tables (storage.table_format).")

    def create_resource(self, context: dg.InitResourceContext) -> ObjectStore:
        return ObjectStore(root_url=self.root_url, endpoint_url=self.endpoint_url, table_format=self.table_format)


def _kind_from_environment() -> str:
    return settings_from_environment().kind


def _workers_from_environment() -> int | None:
    """`FRAUD_PIPELINE_WORKERS` when set; else None, so the run's own machine decides (a run may not execute where
    the code location was loaded)."""
    value = (os.environ.get(WORKERS_VARIABLE) or "").strip()
    return check_workers(value) if value else None


class ExecutorResource(dg.ConfigurableResource):
    """Where a day's block tasks run: `kind` in_process (default; one after another in the step's process),
    processes (a local pool of `workers` processes) or ray (the cluster at `RAY_ADDRESS`, else a local Ray with
    `workers` CPUs). The defaults come from `FRAUD_PIPELINE_EXECUTOR` and `FRAUD_PIPELINE_WORKERS` when the code
    location loads, so the launchpad shows them and a run may override them. Bad values fail with the variable,
    the value and the allowed values named. Assets receive the pure `ExecutorSettings` it makes.
    """

    kind: str = Field(default="in_process",
                      description=f"One of {', '.join(KINDS)} (default: {EXECUTOR_VARIABLE}, else in_process).")
    workers: int | None = Field(default=None,
                                description=f"Worker processes, or a local Ray's CPUs (default: {WORKERS_VARIABLE}, "
                                            "else the CPUs the run's process may use).")

    def __init__(self, **values):
        # Values given explicitly become the launchpad's defaults; a default_factory would not show there.
        values.setdefault("kind", _kind_from_environment())
        values.setdefault("workers", _workers_from_environment())
        super().__init__(**values)

    @field_validator("kind", mode="before")
    @classmethod
    def _known_kind(cls, value: object) -> str:
        return check_kind(value)

    @field_validator("workers", mode="before")
    @classmethod
    def _whole_workers(cls, value: object) -> int | None:
        return check_workers(value)

    def create_resource(self, context: dg.InitResourceContext) -> ExecutorSettings:
        return ExecutorSettings(kind=check_kind(self.kind), workers=check_workers(self.workers))
