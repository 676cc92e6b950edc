"""Landing formats hold every value a table can carry, and the standard readers read them back.

The stress table has the values that break hand-written encoders: unicode, quotes, backslashes,
every control character, embedded newlines, empty strings next to nulls, NaN and ±infinity, and
the largest and smallest floats and integers.
"""

import io
import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pytest

from fraud_pipeline.io import formats

CONTROL = "".join(chr(c) for c in range(32)) + "\x7f"
TEXTS = ["plain", "", None, 'quote " and \\ backslash', "unicode é ñ 漢字 🙂", CONTROL, "line\nbreak\r\n",
         "comma, semicolon; tab\t", "{\"json\": [1, 2]}", "null"]
FLOATS = [0.0, -0.0, 1e-300, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308, 0.1, float("nan"),
          float("inf"), float("-inf")]


def stress_table() -> pa.Table:
    n = len(TEXTS)
    return pa.table({
        "text": pa.array(TEXTS, pa.string()),
        "amount": pa.array(FLOATS, pa.float64()),
        "count": pa.array([0, -1, 2**62, -(2**62), None, 1, 2, 3, 4, 5], pa.int64()),
        "batch": pa.array(range(n), pa.int8()),
        "flag": pa.array([True, False, None] + [True] * (n - 3), pa.bool_()),
        "event_time": pa.array([0, 1, -86_400_000, 4_102_444_799_999, None, 5, 6, 7, 8, 9], pa.timestamp("ms")),
        "day": pa.array([0, 1, 2, 3, 4, 5, 6, 7, 8, None], pa.date32()),
    })


def _finite(table: pa.Table) -> pa.Table:
    """What JSON can hold: NaN and ±infinity become null."""
    amount = [v if v is None or math.isfinite(v) else None for v in table["amount"].to_pylist()]
    return table.set_column(table.schema.get_field_index("amount"), "amount", pa.array(amount, pa.float64()))


@pytest.mark.parametrize("fmt", ["parquet", "ndjson", "csv"])
def test_every_value_reads_back_through_our_decoder(fmt):
    table = stress_table()
    decoded = formats.decode(formats.encode(table, fmt), fmt, table.schema)
    expected = _finite(table) if fmt == "ndjson" else table
    assert decoded.schema == expected.schema
    for name in table.column_names:
        got, want = decoded[name].to_pylist(), expected[name].to_pylist()
        same = [(g == w) or (isinstance(g, float) and isinstance(w, float) and math.isnan(g) and math.isnan(w))
                for g, w in zip(got, want)]
        assert all(same), (name, got, want)


def test_the_same_table_gives_the_same_bytes_in_every_format():
    for fmt in ("parquet", "ndjson", "csv"):
        assert formats.encode(stress_table(), fmt) == formats.encode(stress_table(), fmt)


def test_every_ndjson_line_is_json_for_the_standard_library():
    table = stress_table()
    lines = formats.encode(table, "ndjson").decode("utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == table.num_rows + 1  # one object per line, newline-terminated
    rows = [json.loads(line) for line in lines[:-1]]
    assert [r["text"] for r in rows] == TEXTS
    assert [r["count"] for r in rows] == table["count"].to_pylist()
    assert rows[0]["event_time"] == "1970-01-01T00:00:00.000" and rows[3]["event_time"] == "2099-12-31T23:59:59.999"
    assert [r["amount"] for r in rows] == _finite(table)["amount"].to_pylist()


def test_ndjson_reads_with_pyarrow_and_pandas():
    table = stress_table()
    payload = formats.encode(table, "ndjson")
    schemaless = pjson.read_json(io.BytesIO(payload))
    assert schemaless["text"].to_pylist() == TEXTS
    frame = pd.read_json(io.BytesIO(payload), lines=True, dtype=False)
    assert frame["text"].tolist()[:2] == TEXTS[:2] and frame["text"].tolist()[5] == CONTROL
    assert frame["count"].iloc[2] == 2**62


def test_csv_reads_with_pyarrow_and_pandas():
    table = stress_table()
    payload = formats.encode(table, "csv")
    read = pcsv.read_csv(io.BytesIO(payload), parse_options=pcsv.ParseOptions(newlines_in_values=True),
                         convert_options=pcsv.ConvertOptions(strings_can_be_null=True,
                                                             quoted_strings_can_be_null=False))
    assert read["text"].to_pylist() == TEXTS
    frame = pd.read_csv(io.BytesIO(payload))  # pandas' defaults: "", "nan" and "null" all read as missing
    assert frame["text"].tolist()[5] == CONTROL and frame["text"].tolist()[6] == "line\nbreak\r\n"
    assert np.isnan(frame["amount"].iloc[7]) and frame["amount"].iloc[8] == np.inf
    assert frame["amount"].iloc[3] == 5e-324 and frame["count"].iloc[2] == 2**62


@pytest.mark.parametrize("fmt", ["parquet", "ndjson", "csv"])
def test_an_empty_table_is_a_valid_file_that_reads_back_empty(fmt):
    empty = stress_table().schema.empty_table()
    decoded = formats.decode(formats.encode(empty, fmt), fmt, empty.schema)
    assert decoded.num_rows == 0 and decoded.schema == empty.schema
