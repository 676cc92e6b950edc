"""File formats a table can be stored in: Parquet, and the NDJSON and CSV a landing zone often receives.

Each format encodes an Arrow table to bytes deterministically (the same table gives the same
bytes) and decodes it back exactly, given the table's schema (which the storage manifest keeps).
NDJSON is written by polars' encoder (a maintained one: every control character escaped, output
deterministic): times are ISO 8601 local times with milliseconds, nulls are null, floats keep every
digit, and NaN or ±infinity — which JSON cannot hold — are written as null.
"""

from __future__ import annotations

import base64
import io

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

PARQUET_OPTIONS = {"compression": "zstd"}


def _parquet(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **PARQUET_OPTIONS)
    return sink.getvalue().to_pybytes()


def _csv(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pcsv.write_csv(table, sink)
    return sink.getvalue().to_pybytes()


def _ndjson(table: pa.Table) -> bytes:
    """One JSON object per line; times as ISO 8601 text (the format the readers parse back)."""
    columns = {name: pc.strftime(table[name], format="%Y-%m-%dT%H:%M:%S") if pa.types.is_timestamp(table[name].type)
               else table[name] for name in table.column_names}
    sink = io.BytesIO()
    pl.from_arrow(pa.table(columns)).write_ndjson(sink)
    return sink.getvalue()


def _read_parquet(payload: bytes, schema: pa.Schema | None, columns) -> pa.Table:
    # One thread: a part is small (a micro-batch, or a day's range of blocks), and Arrow's thread pool costs more
    # than it saves there — three times the CPU for a landing batch file, twice for a day of card transactions.
    return pq.read_table(pa.BufferReader(payload), columns=columns, use_threads=False)


def _read_csv(payload: bytes, schema: pa.Schema, columns) -> pa.Table:
    # Only an unquoted empty field is null: "nan" is a float, a quoted "" an empty string, "null" a word.
    options = pcsv.ConvertOptions(column_types=schema, null_values=[""], strings_can_be_null=True,
                                  quoted_strings_can_be_null=False, include_columns=columns)
    return pcsv.read_csv(pa.BufferReader(payload), parse_options=pcsv.ParseOptions(newlines_in_values=True),
                         convert_options=options)


def _read_ndjson(payload: bytes, schema: pa.Schema, columns) -> pa.Table:
    """Dates arrive as ISO text, which Arrow's JSON reader parses only as strings: read them so, then cast."""
    as_read = pa.schema([f.with_type(pa.string()) if pa.types.is_date(f.type) else f for f in schema])
    table = (pjson.read_json(io.BytesIO(payload), parse_options=pjson.ParseOptions(explicit_schema=as_read))
             if payload else as_read.empty_table())
    table = table.cast(schema)
    return table.select(columns) if columns else table


ENCODERS = {"parquet": _parquet, "ndjson": _ndjson, "csv": _csv}
DECODERS = {"parquet": _read_parquet, "ndjson": _read_ndjson, "csv": _read_csv}


def encode(table: pa.Table, fmt: str) -> bytes:
    return ENCODERS[fmt](table)


def decode(payload: bytes, fmt: str, schema: pa.Schema | None = None, columns: list[str] | None = None) -> pa.Table:
    return DECODERS[fmt](payload, schema, columns)


def schema_text(schema: pa.Schema) -> str:
    """The schema as text for a manifest: it is what CSV and NDJSON files need to be read back exactly."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def schema_from_text(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))
