"""What every materialisation shows in the UI: row count, schema, a preview, where it lives."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa

from fraud_pipeline.core.schemas import TableSpec
from fraud_pipeline.io.storage import WrittenTable

PREVIEW_ROWS = 10


def column_schema(spec: TableSpec) -> dg.TableSchema:
    unique_key = spec.primary_key[0] if len(spec.primary_key) == 1 else None
    return dg.TableSchema(columns=[
        dg.TableColumn(c.name, str(c.type), description=c.description,
                       constraints=dg.TableColumnConstraints(nullable=c.nullable, unique=c.name == unique_key))
        for c in spec.columns
    ])


def definition_metadata(spec: TableSpec) -> dict:
    return {"dagster/column_schema": column_schema(spec)}


def materialization_metadata(table: pa.Table, written: WrittenTable, scenario_hash: str) -> dict:
    return {
        "dagster/row_count": written.rows,
        "dagster/uri": dg.MetadataValue.path(written.uri),  # shown on the asset page, read by catalog tools
        "preview": dg.MetadataValue.md(table.slice(0, PREVIEW_ROWS).to_pandas().to_markdown(index=False, disable_numparse=True)),
        "files": written.files,
        "size_bytes": written.bytes,
        "scenario_hash": scenario_hash,
        **delta_metadata(written),
    }


def delta_metadata(written: WrittenTable) -> dict:
    """The Delta table's version this write committed (Delta mode): what `DeltaTable(uri, version=…)` reads back."""
    return {} if written.delta_version is None else {"delta_version": written.delta_version}
