"""The bank's world, built once per scenario and stored by file range, so a worker holds its ranges, not the bank.

A worker used to build the whole bank's world (every customer's habits, payees, trips, the keys of what each account
paid before) and slice its blocks from it: its memory and its start-up followed the bank. The world is a pure
function of the scenario and the entities, so it is built once (`engine.world_ranges.store_world`, by range, by the
first bank day that finds it missing) and stored as
- `state/world/directory-<fingerprint>.pkl`: the bank minus its blocks' own rows — the shared part every block
  reads (merchants, ATMs, cities, beneficiaries, the device plan's counts; per account its id, owner, status,
  opened and closed days, for transfers to other blocks), compressed field by field; the fingerprint names the code
  and the entities it was built from (`fingerprint`), so a stale world is never read. Neither the device plan's rows
  nor the IP addresses are in it (they are per customer): each block holds its customers' devices
  (`DevicePlan.of_customers`) and the addresses they can use, their homes' and computers' and the shared pools';
- `state/world/totals-<fingerprint>.pkl`: the bank's totals its blocks' calibrations are shares of
  (`money.activity.Totals`), the blocks' partials added in block order; loaded into the directory;
- `state/world/blocks-bXXXXXX-bYYYYYY.pkl`: per file range, each block's own fields (`engine.blocks.OWN_FIELDS`),
  compressed block by block (a range is unpacked one block at a time).
A block loaded from these equals the block sliced from the bank, field for field, so every output byte is the same.

The files are Python pickles of numpy and pyarrow arrays, zstd-compressed, checked against the manifest's SHA-256
before they are unpickled. Like Dagster's own pickling I/O managers, they trust the store: it is the run's own
output location, which nobody else should be able to write.
"""

from __future__ import annotations

import functools
import hashlib
import json
import pickle
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from fraud_pipeline.engine.bank_day import file_ranges, range_name
from fraud_pipeline.io.storage import ObjectStore
from fraud_pipeline.money.activity import bank_totals
from fraud_pipeline.scenario import Scenario
from fraud_pipeline.world.build import WORLD_COLUMNS, Trips, World
from fraud_pipeline.world.devices import DevicePlan
from fraud_pipeline.world.habits import Habits

WORLD = ("state", "world")
CODEC = "zstd"
# What other blocks read of the bank (everything else per customer, account or card is a block's own, and the
# directory keeps it empty): ids and owners of accounts (transfers to them), their status and opened and closed days
# (who may be paid), the customers' ids (how many; the checks' foreign keys) and home cities (a credit's place), and
# whether each account is its holder's salary account (who laundering among our customers draws: `aml.networks`).
DIRECTORY_ROWS = ("customer_id", "home_city", "account_id", "account_customer", "status", "opened_day", "closed_day",
                  "salary")


def pack_directory(directory: World) -> bytes:
    """The directory as stored: each field compressed on its own (not the scenario: it names where it is stored)."""
    return pickle.dumps({f.name: _packed(getattr(directory, f.name)) for f in fields(directory) if f.name != "scenario"},
                        protocol=5)


def unpack_directory(payload: bytes, scenario: Scenario) -> World:
    """A directory from its `pack_directory` bytes, unpacked a field at a time."""
    packed = pickle.loads(payload)
    return World(scenario=scenario, **{name: _unpacked(packed.pop(name)) for name in list(packed)})


def pack_block(found: dict) -> bytes:
    """A block's own fields (`engine.blocks.OWN_FIELDS`) compressed, as a range's file holds them (`pack_blocks`):
    packed as each block is built, a range's task holds one block's world, not its range's."""
    return _packed(_own(found))


def pack_blocks(blocks: dict[int, bytes]) -> bytes:
    """A file range's file: its blocks, each `pack_block`ed, so a range is unpacked one block at a time."""
    return pickle.dumps(blocks, protocol=5)


def stored(store: ObjectStore, scenario: Scenario) -> bool:
    """Whether `store` holds this scenario's world, built from the stored entities by this code (`fingerprint`) and
    cut into its file ranges, every file its manifest lists there at its size. Another scenario's world, one of
    other entities or code, one cut otherwise (`storage` is not in the scenario's hash) or with a file deleted or cut
    short does not count: it is built again."""
    manifest = store.read_manifest(*WORLD)
    if manifest is None or manifest["scenario_hash"] != scenario.content_hash:
        return False
    wanted = {_directory_name(store), _totals_name(store), *(_name(first, end) for first, end in file_ranges(scenario))}
    if {f["path"] for f in manifest["files"]} != wanted:
        return False
    fs = store.filesystem()
    try:
        found = {entry["name"].rstrip("/").rsplit("/", 1)[-1]: entry.get("size")
                 for entry in fs.ls(store.path(*WORLD), detail=True)}
    except FileNotFoundError:
        return False
    return all(found.get(f["path"]) == f["bytes"] for f in manifest["files"])


def fingerprint(store: ObjectStore) -> str:
    """What a world stored in `store` now would be built from, as 16 hex digits: this package's code and the stored
    entity tables the world reads (their manifests' checksums). The scenario's hash sees neither: entities written
    again under the same scenario, or a release that builds the world otherwise, make the stored world stale."""
    digest = hashlib.sha256(_code_digest().encode())
    for name in WORLD_COLUMNS:
        manifest = store.read_manifest("entities", name)
        digest.update(json.dumps([name, [f["sha256"] for f in manifest["files"]] if manifest else None]).encode())
    return digest.hexdigest()[:16]


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    """SHA-256 of this package's Python source (any change of it rebuilds a stored world: a cost, never stale)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _directory_name(store: ObjectStore) -> str:
    return f"directory-{fingerprint(store)}.pkl"


def _totals_name(store: ObjectStore) -> str:
    return f"totals-{fingerprint(store)}.pkl"


def load_directory(store: ObjectStore, scenario: Scenario) -> World:
    """The stored directory of `scenario`'s world (`stored` must hold), unpacked a field at a time, with the bank's
    totals its blocks' calibrations are shares of."""
    names = [p.name for p in store.listed_parts(*WORLD)]
    name = next((n for n in names if n.startswith("directory-")), "directory-")
    totals = pickle.loads(_part(store, next((n for n in names if n.startswith("totals-")), "totals-")).payload())
    return replace(unpack_directory(_part(store, name).payload(), scenario), totals=totals)


def load_blocks(store: ObjectStore, directory: World, first: int, end: int) -> list[World]:
    """The worlds of blocks `first` … `end` − 1, one file range of them, over `directory` (all at once: a range's
    task unpacks them one at a time, `packed_blocks`). Raises what `packed_blocks` raises."""
    packed = packed_blocks(store, first, end)
    return [unpacked_block(directory, packed.pop(block)) for block in range(first, end)]


def packed_blocks(store: ObjectStore, first: int, end: int) -> dict[int, bytes]:
    """The stored blocks `first` … `end` − 1 (one file range), each still compressed (about 3.7 MB a block of 5,000
    customers, a quarter of it unpacked): by block. Raises KeyError naming the range when the stored world has no
    such range (blocked otherwise than this scenario)."""
    return pickle.loads(_part(store, _name(first, end)).payload())


def unpacked_block(directory: World, payload: bytes) -> World:
    """A block's world from its `packed_blocks` payload, over `directory`."""
    return replace(directory, **_unpacked(payload), bank=directory)


def directory_of(bank: World) -> World:
    """`bank` without its blocks' own rows: the fields other blocks read (DIRECTORY_ROWS and the shared tables),
    every other per-customer, per-account and per-card field empty, no caches; with the bank's totals (`Totals`),
    which its blocks' calibrations are shares of. (What `world_ranges.build_directory` builds without the bank.)"""
    return replace(bank, **emptied_rows(bank, set(DIRECTORY_ROWS)), caches={}, block_key=(), global_customers=None,
                   global_accounts=None, global_cards=None, bank=None, totals=bank_totals(bank))


def emptied_rows(world: World, keep: set[str]) -> dict:
    """Every field of `world` that holds rows of customers, accounts, cards or payees but those in `keep`, empty."""
    return {name: _empty(getattr(world, name)) for name in _ROWS if name not in keep}


# a block's own fields that hold rows of customers, accounts, cards, payees or keys (see `blocks.block_fields`)
_ROWS = ("customer_id", "age", "age_group", "income", "turnover", "affluence", "schedule", "occupation", "pep",
         "home_country", "family_abroad", "remittance_share", "home_lat", "home_lon", "home_city", "home_province",
         "category_weights", "basket", "avg_spend", "home_ip", "habits", "account_id", "account_customer", "status",
         "opened_day", "closed_day", "salary", "credit", "savings", "business", "limit", "opening", "activity",
         "salary_of", "buffer", "sweep_payee", "card_number", "card_account", "card_issue_day", "card_expiry_month",
         "card_bin", "payee_offsets", "payee", "payee_added", "payee_first_paid", "payee_is_business", "bills", "trips",
         "ato_plan", "known_at_start", "ip_address", "devices")


def _empty(value):
    """`value` with no rows, of its type (an arrow slice would pickle its whole buffer: a new empty array)."""
    if isinstance(value, pa.ChunkedArray):
        return pa.chunked_array([], value.type)
    if isinstance(value, pa.Array):
        return pa.array([], value.type)
    if isinstance(value, np.ndarray):
        return value[:0]
    if isinstance(value, pd.DataFrame):
        return value.iloc[:0]
    if isinstance(value, Habits):
        return replace(value, local_shops=value.local_shops[:0], web_shops=value.web_shops[:0], atms=value.atms[:0])
    if isinstance(value, Trips):
        return Trips(*(getattr(value, f.name)[:0] for f in fields(value)))
    if isinstance(value, DevicePlan):  # the bank's counts stay (device rows, blocks, the rings' and burners' rows)
        return value.of_customers(0, 0)
    raise TypeError(f"no empty form for {type(value).__name__}")


def _own(found: dict) -> dict:
    """A block's fields as stored: without the bank (the loader's directory stands for it), its arrow arrays
    compacted (a slice would pickle its whole buffer)."""
    return {name: pa.concat_arrays([value]) if isinstance(value, pa.Array) else value
            for name, value in found.items() if name != "bank"}


def blocks_name(first: int, end: int) -> str:
    return _name(first, end)


def _name(first: int, end: int) -> str:
    return f"blocks-{range_name(first, end)}.pkl"


def _part(store: ObjectStore, name: str):
    parts = {p.name: p for p in store.listed_parts(*WORLD)}
    if name not in parts:
        raise KeyError(f"{store.uri(*WORLD)} has no {name}: it was stored for other file ranges")
    return parts[name]


def _packed(value) -> bytes:
    raw = pickle.dumps(value, protocol=5)
    return len(raw).to_bytes(8, "little") + pa.compress(raw, CODEC, asbytes=True)


def _unpacked(payload: bytes):
    size = int.from_bytes(payload[:8], "little")
    return pickle.loads(pa.decompress(payload[8:], size, CODEC, asbytes=True))
