"""Column builders shared by the generators: ids, dates and card numbers, all vectorised in Arrow."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def row_of(values: pa.ChunkedArray | pa.Array, keys: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Row of each value in `keys`, -1 where absent."""
    return pc.fill_null(pc.index_in(values, value_set=keys), -1).to_numpy().astype(np.int64)


def row_of_id(values: pa.ChunkedArray | pa.Array, keys: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Row of each id in `keys`, for keys made by `ids` over consecutive numbers (the bank's rows 0, 1, …, or a
    block's from its first): an id's number less the first key's is its row, so this reads the number instead of
    hashing the keys (`row_of` builds a hash table of every key per call: 0.9 s for two
    million ids, each time a chunk of a large table is looked up). Raises ValueError when a value is not the id of
    the row its number names (not an id of `keys`)."""
    if values.null_count:
        raise ValueError(f"ids not of the keys' rows: {values.null_count} null")
    rows = id_numbers(values)
    if (rows < 0).any():
        raise ValueError(f"ids not of the keys' rows: {values.take(pa.array(np.flatnonzero(rows < 0)[:3])).to_pylist()}")
    if len(keys):
        rows -= max(int(id_numbers(keys.slice(0, 1))[0]), 0)
    inside = (rows >= 0) & (rows < len(keys))
    if not inside.all() or pc.any(pc.not_equal(values, keys.take(pa.array(rows)))).as_py():
        raise ValueError(f"ids not of the keys' rows: {values.slice(0, 3).to_pylist()} …")
    return rows


def id_numbers(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Per id (a one-letter prefix and digits, as `ids` makes them: C00000042), its number (42); −1 for a value that
    is not one (null, no digits, too long). Ids of one length (every id the project numbers) are read as a byte
    matrix, ~20× faster than parsing each string."""
    if isinstance(values, pa.ChunkedArray):
        return np.concatenate([id_numbers(chunk) for chunk in values.chunks] or [np.zeros(0, np.int64)])
    fixed = fixed_width(values)
    width = fixed.dtype.itemsize if fixed is not None else 0
    if 2 <= width <= 19:
        digits = fixed.view(np.uint8).reshape(len(fixed), width)[:, 1:].astype(np.int64) - ord("0")
        number = np.zeros(len(fixed), np.int64)
        for column in digits.T:
            number = number * 10 + column
        read = ((digits >= 0) & (digits <= 9)).all(axis=1)
        if read.all():
            return number
        number[~read] = _parsed_numbers(values.filter(pa.array(~read)))  # a prefix of several bytes, say
        return number
    return _parsed_numbers(values)


def _parsed_numbers(values: pa.Array) -> np.ndarray:
    """`id_numbers` one string at a time (the prefix one character, up to 19 digits within int64); −1 for others."""
    digits = pc.utf8_slice_codeunits(values, 1)
    numeric = pc.and_(pc.match_substring_regex(digits, r"^[0-9]{1,19}$"),
                      pc.or_(pc.less(pc.utf8_length(digits), 19), pc.less_equal(digits, str(2**63 - 1))))
    numeric = pc.fill_null(numeric, False).to_numpy(zero_copy_only=False)
    numbers = np.full(len(values), -1, np.int64)
    if numeric.any():
        numbers[numeric] = pc.cast(digits.filter(pa.array(numeric)), pa.int64()).to_numpy(zero_copy_only=False)
    return numbers


def fixed_width(values: pa.Array) -> np.ndarray | None:
    """`values` as numpy bytes over their own buffer, if they are strings of one length without nulls; else None."""
    if not pa.types.is_string(values.type) or values.null_count or not len(values):
        return None
    offsets = np.frombuffer(values.buffers()[1], np.int32, len(values) + 1, values.offset * 4)
    width = int(offsets[1] - offsets[0])
    if width == 0 or not np.all(np.diff(offsets) == width):
        return None
    return np.frombuffer(values.buffers()[2], f"S{width}", len(values), int(offsets[0]))


def in_pools(pools: list[np.ndarray], which: np.ndarray, position: np.ndarray) -> np.ndarray:
    """Element `position` of pool `which[i]` for each i, without a Python loop: `position` is an integer (taken
    modulo the pool's size) or a fraction in [0, 1) of the pool's size. Pools must not be empty."""
    sizes = np.array([len(p) for p in pools], np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    flat = np.concatenate(pools) if pools else np.zeros(0, np.int64)
    size = sizes[which]
    integer = np.issubdtype(np.asarray(position).dtype, np.integer)
    offset = position % size if integer else (position * size).astype(np.int64)
    return flat[starts[which] + offset]


def sorted_unique(values: np.ndarray, in_place: bool = False) -> np.ndarray:
    """`np.unique(values)` of integers (the distinct values, ascending) by a sort: numpy 2.4's `np.unique` hashes
    integers first, 16 times slower on millions of keys (9.2 against 0.57 CPU s for 8 million int64). `in_place`
    sorts `values` itself (a 1-d array the caller gives up) instead of a copy. Not for floats: NaNs stay apart."""
    if in_place:
        values.sort()
    ordered = values if in_place else np.sort(np.asarray(values).ravel())
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def spans(first: np.ndarray, count: np.ndarray) -> np.ndarray:
    """first[0], …, first[0] + count[0] - 1, first[1], …: the positions of consecutive runs, one after another."""
    ends = np.cumsum(count)
    return np.repeat(first - (ends - count), count) + np.arange(ends[-1] if len(ends) else 0)


def positions(count: np.ndarray) -> np.ndarray:
    """0, 1, … within each group of rows laid out one group after another, `count` rows a group: (2, 3) gives
    (0, 1, 0, 1, 2). `spans` from 0."""
    return spans(np.zeros(len(count), np.int64), np.asarray(count, np.int64))


def earlier_equal(values: np.ndarray) -> np.ndarray:
    """For each element, how many earlier elements equal it (0 for a value's first occurrence): a group's running
    count, in order."""
    order = np.argsort(values, kind="stable")
    first = np.r_[True, values[order][1:] != values[order][:-1]] if len(values) else np.zeros(0, bool)
    count = np.empty(len(values), np.int64)
    count[order] = np.arange(len(values)) - np.maximum.accumulate(np.where(first, np.arange(len(values)), 0))
    return count


def nullable(rows: np.ndarray) -> pa.Array:
    """Row indices where -1 means none: a take through them gives null there."""
    return pa.array(rows, mask=rows < 0)


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Readable, sortable ids such as C00000042: the prefix and a zero-padded number (`width` digits at least).

    Numbers that fit the width (nearly all) are written as a byte matrix, a digit a column: twice as fast as
    formatting and padding each (the day's event ids are millions)."""
    numbers = np.asarray(numbers)
    head = np.frombuffer(prefix.encode(), np.uint8)
    size = len(head) + width
    if (not np.issubdtype(numbers.dtype, np.integer) or len(numbers) == 0 or width < 1 or numbers.min() < 0
            or numbers.max() >= min(10**width, 2**63) or len(numbers) * size >= 2**31):  # formatted (a float or
        # a number beyond int64 raises, as pyarrow's cast does)
        digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width=width, padding="0")
        return pc.binary_join_element_wise(prefix, digits, "")
    numbers = numbers.astype(np.int64)  # below 10**width: fits
    text = np.empty((len(numbers), size), np.uint8)
    text[:, :len(head)] = head
    rest = numbers.copy()
    for column in range(size - 1, len(head) - 1, -1):
        text[:, column] = rest % 10 + ord("0")
        rest //= 10
    offsets = np.arange(0, (len(numbers) + 1) * size, size, dtype=np.int32)
    return pa.StringArray.from_buffers(len(numbers), pa.py_buffer(offsets), pa.py_buffer(text))


def unused_numbers(rng: np.random.Generator, used: np.ndarray, n: int, space: int) -> np.ndarray:
    """`n` distinct numbers below `space` that are not in `used`: ids that cannot collide with existing ones."""
    used = np.sort(used)
    fresh = np.zeros(0, np.int64)
    while len(fresh) < n:
        drawn = rng.integers(0, space, 2 * n + 8)
        drawn = drawn[~_in_sorted(used, drawn) & ~np.isin(drawn, fresh)]
        _, first = np.unique(drawn, return_index=True)
        fresh = np.concatenate([fresh, drawn[np.sort(first)]])
    return fresh[:n]


def _in_sorted(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    if len(sorted_values) == 0:
        return np.zeros(len(values), bool)
    position = np.minimum(np.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[position] == values


def id_width(count: int) -> int:
    """Digits for ids of a table of `count` rows, with room for the table to grow tenfold."""
    return max(8, len(str(count * 10)))


def days_before(start: date, days: np.ndarray) -> np.ndarray:
    return np.datetime64(start, "D") - days.astype("timedelta64[D]")


def years_before(day: date, years: int) -> np.datetime64:
    """The same calendar day `years` earlier (28 February for a 29 February with no match)."""
    try:
        earlier = day.replace(year=day.year - years)
    except ValueError:
        earlier = day.replace(year=day.year - years, day=28)
    return np.datetime64(earlier, "D")


def whole_years_between(earlier: np.ndarray, later: date) -> np.ndarray:
    """Completed years from each `earlier` date to `later` (an age on a given day)."""
    years = earlier.astype("datetime64[Y]").astype(int) + 1970
    month = earlier.astype("datetime64[M]").astype(int) % 12 + 1
    day = (earlier - earlier.astype("datetime64[M]")).astype(int) + 1
    before_birthday = (later.month < month) | ((later.month == month) & (later.day < day))
    return later.year - years - before_birthday


def luhn_check_digit(payload: np.ndarray, digits: int) -> np.ndarray:
    """The Luhn check digit for each `digits`-long number in `payload` (int64)."""
    positions = 10 ** np.arange(digits - 1, -1, -1, dtype=np.int64)
    matrix = (payload[:, None] // positions[None, :]) % 10
    doubled = np.arange(digits)[None, :] % 2 == (digits - 1) % 2  # every second digit, from the right
    values = np.where(doubled, matrix * 2, matrix)
    values = np.where(values > 9, values - 9, values)
    return (10 - values.sum(axis=1) % 10) % 10


def luhn_valid(numbers: pa.Array) -> np.ndarray:
    """Whether each card number string passes the Luhn check."""
    as_int = pc.cast(numbers, pa.int64()).to_numpy()
    return luhn_check_digit(as_int // 10, 15) == as_int % 10


def month_year(start: date, months_after: np.ndarray) -> pa.Array:
    """MM/YY strings for dates `months_after` months after `start` (card expiry format)."""
    absolute = start.year * 12 + (start.month - 1) + months_after
    month = pc.utf8_lpad(pc.cast(pa.array(absolute % 12 + 1), pa.string()), width=2, padding="0")
    year = pc.utf8_lpad(pc.cast(pa.array((absolute // 12) % 100), pa.string()), width=2, padding="0")
    return pc.binary_join_element_wise(month, year, "/")
