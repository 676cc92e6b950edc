"""Column helpers the world's build and the checks lean on at scale: distinct keys by a sort, rows of ids by their
numbers, runs of positions, foreign keys found by their numbers — each equal to the plain (slower) way."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings, strategies as st

from fraud_pipeline.core.columns import id_numbers, ids, row_of, row_of_id, sorted_unique, spans
from fraud_pipeline.core import findings
from fraud_pipeline.core.findings import foreign_key_finding
from fraud_pipeline.quality.profile import QUANTILES, statistics


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-2**62, 2**62), max_size=300), st.booleans())
def test_distinct_values_by_a_sort_are_numpys(values, in_place):
    array = np.array(values, np.int64)
    expected = np.unique(array)
    found = sorted_unique(array.copy() if in_place else array, in_place=in_place)
    assert found.dtype == expected.dtype and np.array_equal(found, expected)
    if not in_place:
        assert np.array_equal(array, np.array(values, np.int64))  # the caller's array is left as it was


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-10**12, 10**12), max_size=200), st.text("ABCTé", max_size=4), st.integers(1, 10))
def test_ids_are_the_prefix_and_the_number_padded_to_the_width(numbers, prefix, width):
    """The byte-matrix path (numbers that fit the width) and the formatting path (any others) give Python's text."""
    found = ids(prefix, np.array(numbers, np.int64), width)
    assert found.type == pa.string()
    assert found.to_pylist() == [prefix + str(n).rjust(width, "0") for n in numbers]


@pytest.mark.parametrize("numbers", [np.array([2**63], np.uint64), np.array([2**64 - 1], np.uint64),
                                     np.array([1.9, -0.5])])
def test_ids_refuse_numbers_beyond_int64_and_fractions_as_pyarrows_cast_does(numbers):
    with pytest.raises(pa.ArrowInvalid):
        ids("C", numbers, 19)


def test_ids_of_any_integer_type_and_of_no_width_are_the_formatted_ones():
    for dtype in (np.int8, np.uint16, np.int32, np.uint32, np.uint64):
        assert ids("A", np.array([0, 7, 99], dtype), 4).to_pylist() == ["A0000", "A0007", "A0099"]
    assert ids("C", np.array([0, 12]), 0).to_pylist() == ["C0", "C12"]


def test_id_numbers_read_a_prefix_of_several_bytes_and_nineteen_digits():
    """The byte matrix takes the prefix for one byte; ids it cannot read there are read one at a time."""
    assert id_numbers(pa.array(["é000003", "é000001"])).tolist() == [3, 1]
    assert id_numbers(pa.array(["é123", "C124"])).tolist() == [123, 124]
    assert id_numbers(ids("C", np.array([5, 10**18, 2**63 - 1]), 19)).tolist() == [5, 10**18, 2**63 - 1]
    assert id_numbers(pa.array(["C9223372036854775808", "C", "C-5", None, "12"])).tolist() == [-1, -1, -1, -1, 2]
    keys = pa.array([f"é{i:06d}" for i in range(5)])
    assert row_of_id(pa.chunked_array([keys.slice(3, 1), keys.slice(1, 1)]), keys).tolist() == [3, 1]


def test_rows_of_ids_are_read_from_their_numbers_and_foreign_ids_are_refused():
    keys = ids("C", np.arange(5_000), 6)
    values = pa.chunked_array([keys.take(pa.array([4_999, 0, 17])), keys.take(pa.array([17, 2_500]))])
    assert row_of_id(values, keys).tolist() == row_of(values, keys).tolist() == [4_999, 0, 17, 17, 2_500]
    assert len(row_of_id(pa.array([], pa.string()), keys)) == 0
    for foreign in (["C005000"], ["M000003"], ["C00003"], ["C"], ["C000001", None]):  # past the end, another
        with pytest.raises(ValueError, match="ids not of the keys' rows"):  # table's, too short, no number, null
            row_of_id(pa.array(foreign, pa.string()), keys)
    shuffled = keys.take(pa.array([1, 0, *range(2, 5_000)]))  # keys out of id order: refused, never mismatched
    with pytest.raises(ValueError, match="ids not of the keys' rows"):
        row_of_id(keys.slice(0, 2), shuffled)


def test_runs_of_positions_follow_their_starts_and_counts():
    assert spans(np.array([10, 3, 7]), np.array([2, 0, 3])).tolist() == [10, 11, 7, 8, 9]
    assert spans(np.zeros(0, np.int64), np.zeros(0, np.int64)).tolist() == []


def test_profile_statistics_are_pandas_quantiles_in_one_call():
    rng = np.random.default_rng(5)
    values = pd.Series(np.where(rng.random(1_001) < 0.1, np.nan, rng.lognormal(3, 1.2, 1_001)))
    found = statistics(values)
    clean = values.dropna()
    assert found["observations"] == len(clean)
    assert {name: found[name] for name in QUANTILES} == {name: clean.quantile(q) for name, q in QUANTILES.items()}
    empty = statistics(pd.Series([np.nan, np.nan]))
    assert empty["observations"] == 0 and all(np.isnan(empty[name]) for name in QUANTILES)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["C00000003", "C00000099", "C00000100", "C00000500", "D00000005", "C0000x007",
                                 "4000000000000002", "C", "", None]), max_size=40),
       st.booleans())
def test_a_foreign_key_found_by_its_number_is_found_as_a_lookup_finds_it(values, shuffled):
    """The values a foreign-key check names as orphans are those a plain lookup does not find, whether the
    referenced ids are in row order (found by number) or not (looked up), whatever the values look like."""
    referenced = ids("C", np.arange(100), 8)
    if shuffled:
        referenced = referenced.take(pa.array(np.random.default_rng(1).permutation(100)))
    column = pa.chunked_array([pa.array(values, pa.string())])
    found = foreign_key_finding(column, pa.chunked_array([referenced]), "rule")
    orphans = column.filter(pc.invert(pc.is_in(column, referenced)))
    assert found.failures == len(orphans)
    assert found.examples == orphans.unique().slice(0, 5).to_pylist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["D35926973", "D65703609", "D00000007", "D00000001", "D99999999", "E35926973",
                                 "D3592697x"]),
                min_size=1, max_size=40), st.integers(0, 3), st.integers(0, 3))
def test_ids_of_one_length_are_found_in_a_sorted_copy_as_a_lookup_finds_them(values, cut, chunks):
    """Random ids of one length (device ids, card numbers: not found by number) are looked up in a sorted copy of
    the referenced column kept per process; slices, several chunks and repeated checks find what `is_in` finds."""
    referenced = pa.array(["D65703609", "D00000007", "D35926973", "D12345678", "D99999999"][cut:], pa.string())
    findings.forget_sorted_ids()  # only the first is the id of the row its number names (counted from the first's)
    column = pa.chunked_array([pa.array(["X"] + values + ["E35926973"], pa.string()).slice(1)]  # offsets not at 0
                              * (chunks + 1))  # an id of another letter is never found by number: one lookup at least
    orphans = column.filter(pc.invert(pc.is_in(column, referenced)))
    for _ in range(2):  # the second finds the sorted copy kept
        found = foreign_key_finding(column, pa.chunked_array([referenced]), "rule")
        assert (found.failures, found.examples) == (len(orphans), orphans.unique().slice(0, 5).to_pylist())
    assert any(kept is not None and np.array_equal(ids, np.sort(np.array(referenced.to_pylist(), "S9")))
               for kept, ids in findings._SORTED.values())  # found in the sorted copy, not by a hash
    wider = foreign_key_finding(pa.chunked_array([pa.array(["D659703609"])]), pa.chunked_array([referenced]), "r")
    assert wider.failures == 1  # another length: looked up by a hash, never compared as padded bytes


def test_a_foreign_key_of_numbers_is_looked_up():
    """Keys that are not text cannot be ids with a number: they are looked up as they are."""
    found = foreign_key_finding(pa.chunked_array([pa.array([1, 2, 7, 7])]), pa.chunked_array([pa.array([1, 2, 3])]),
                                "rule")
    assert (found.failures, found.examples) == (2, [7])


def test_the_data_dictionary_names_every_transaction_type_and_typology():
    """The columns' descriptions (the feature catalogue a user reads) name every value the generators write:
    each transaction type in `transaction_type`, each typology in `aml_typology` and `aml_cases.typology`."""
    from fraud_pipeline.core import schemas
    from fraud_pipeline.core.labels import AML_TYPOLOGIES
    from fraud_pipeline.core.rows import TYPES

    def described(table, name: str) -> set[str]:
        text = next(c.description for c in table.columns if c.name == name)
        return {word.strip(" .,:") for word in text.replace("|", " ").split()}

    assert set(TYPES) <= described(schemas.CARD_TRANSACTIONS, "transaction_type")
    assert set(AML_TYPOLOGIES) <= described(schemas.CARD_TRANSACTIONS, "aml_typology")
    assert set(AML_TYPOLOGIES) <= described(schemas.AML_CASES, "typology")
