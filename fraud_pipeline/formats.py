"""File formats a table can be stored in: Parquet, and the NDJSON and CSV a landing zone often receives.

Each format encodes an Arrow table to bytes deterministically (the same table gives the same
bytes) and decodes it back exactly, given the table's schema (which the storage manifest keeps).
NDJSON is built with Arrow string kernels, not row by row: times are ISO 8601 local times with
milliseconds, nulls are null, floats keep every digit.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

PARQUET_OPTIONS = {"compression": "zstd"}
JSON_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))


def _parquet(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **PARQUET_OPTIONS)
    return sink.getvalue().to_pybytes()


def _csv(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pcsv.write_csv(table, sink)
    return sink.getvalue().to_pybytes()


def _json_value(values: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(values.type):
        for plain, escaped in JSON_ESCAPES:
            values = pc.replace_substring(values, plain, escaped)
        values = pc.binary_join_element_wise('"', values, '"', "")
    elif pa.types.is_timestamp(values.type):
        values = pc.binary_join_element_wise('"', pc.strftime(values, format="%Y-%m-%dT%H:%M:%S"), '"', "")
    else:
        values = pc.cast(values, pa.string())  # numbers in shortest round-trip form, true/false
    return pc.fill_null(values, "null")


def _ndjson(table: pa.Table) -> bytes:
    if table.num_rows == 0:
        return b""
    fields = [pc.binary_join_element_wise(f'"{name}":', _json_value(table[name]), "") for name in table.column_names]
    lines = pc.binary_join_element_wise("{", pc.binary_join_element_wise(*fields, ","), "}\n", "")
    lines = lines.combine_chunks().cast(pa.large_string())
    # The lines' character buffer, from the first line's start to the last one's end, is the file.
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset:lines.offset + len(lines) + 1]
    return lines.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]]


def _read_parquet(payload: bytes, schema: pa.Schema | None, columns) -> pa.Table:
    return pq.read_table(pa.BufferReader(payload), columns=columns)


def _read_csv(payload: bytes, schema: pa.Schema, columns) -> pa.Table:
    options = pcsv.ConvertOptions(column_types=schema, strings_can_be_null=True, quoted_strings_can_be_null=False,
                                  include_columns=columns)
    return pcsv.read_csv(pa.BufferReader(payload), convert_options=options)


def _read_ndjson(payload: bytes, schema: pa.Schema, columns) -> pa.Table:
    table = (pjson.read_json(io.BytesIO(payload), parse_options=pjson.ParseOptions(explicit_schema=schema))
             if payload else schema.empty_table())
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
