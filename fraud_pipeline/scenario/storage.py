"""The storage section: where tables go and the landing files' format.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from fraud_pipeline.scenario.base import Section


class Storage(Section):
    url: Annotated[str, Field(min_length=1)]
    endpoint_url: str | None = None

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
