"""The store as a Dagster resource: its two settings in the launchpad, the pure `ObjectStore` in the assets."""

import dagster as dg
from pydantic import Field

from fraud_pipeline.io.storage import ObjectStore


class StoreResource(dg.ConfigurableResource):
    """Where every table goes: a local folder (default `data`) or an `s3://bucket/prefix` URL.

    S3 credentials come from the standard AWS environment variables only; they are never fields
    here, so they never reach run config, logs or metadata. Assets receive the `ObjectStore` it makes
    (annotated `dg.ResourceParam[ObjectStore]`), so tests may pass an `ObjectStore` directly.
    """

    root_url: str = Field(default="data", description="Local folder, or s3://bucket/prefix.")
    endpoint_url: str | None = Field(default=None, description="S3-compatible endpoint (else AWS_ENDPOINT_URL).")

    def create_resource(self, context: dg.InitResourceContext) -> ObjectStore:
        return ObjectStore(root_url=self.root_url, endpoint_url=self.endpoint_url)
