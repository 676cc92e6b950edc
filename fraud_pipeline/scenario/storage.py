"""The storage section: where tables go, the landing files' format, and the curated tables' table format.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, PositiveInt, field_validator

from fraud_pipeline.scenario.base import Section


class Storage(Section):
    url: Annotated[str, Field(min_length=1)]
    endpoint_url: str | None = None
    # blocks of customers per part file of a day's table: a file is a fixed range of blocks, so file names and bytes
    # do not depend on how blocks are spread over workers (64 blocks of 5,000 customers: ~30 MB of card
    # transactions a day at 0.9 payments a customer)
    blocks_per_file: PositiveInt = 64
    # parquet: Hive-layout Parquet with the product's manifests; delta: the same files, each curated table also a Delta
    # Lake table (one transaction a write), for a catalog to register as it is (issue 25; `io.delta`)
    table_format: Literal["parquet", "delta"] = "parquet"

    @field_validator("url")
    @classmethod
    def _supported_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("", "file", "s3"):
            raise ValueError(f"storage url scheme must be a local path, file:// or s3:// (got '{parts.scheme}://')")
        if parts.username or parts.password:
            raise ValueError("storage url must not carry credentials; set them in the AWS environment variables")
        if parts.scheme == "s3" and len(parts.netloc) < 3:
            raise ValueError(f"s3 url needs a bucket name of at least 3 characters (got '{url}')")
        return url
