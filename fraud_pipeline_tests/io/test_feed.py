"""The live feed: stored days replayed in event-time order as small files, paced, labels apart, resumable; days
stored in many parts merged without loading a day."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pjson
import pytest

from fraud_pipeline import feed
import fraud_pipeline
from fraud_pipeline.feed import CHECKPOINT, LABELS, STREAMS, Feed, Settings
from fraud_pipeline.io import formats, merge
from fraud_pipeline.io.storage import ListedPart, ObjectStore
from fraud_pipeline.life import clickstream
from fraud_pipeline.scenario import ScenarioError
from fraud_pipeline_tests.conftest import scaled

FIRST, LAST = date(2026, 1, 1), date(2026, 1, 3)
DAYS = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]


@pytest.fixture(scope="module")
def source(tmp_path_factory, small_scenario):
    """Three stored days of a small bank: the labelled stream and the clickstream."""
    scenario = scaled(small_scenario, card_transactions={"per_day": 1500})
    store = ObjectStore(root_url=str(tmp_path_factory.mktemp("source") / "data"))
    for day, tables in fraud_pipeline.generate_days(FIRST, LAST, scenario,
                                                    tables=("card_transactions", "fraud_transactions",
                                                            "customer_events")):
        for name, table in tables.items():
            layer = "fraud" if name == "fraud_transactions" else "events"
            store.write_table(layer, name, table, scenario.content_hash, partition=day.isoformat())
    return store


@pytest.fixture(scope="module")
def streams(source):
    """What the feed should write: the stored days' three streams, each in event-time order."""
    days = [feed.day_streams(source, day) for day in DAYS]
    return {name: pa.concat_tables([d[name] for d in days]).sort_by([("event_time", "ascending"),
                                                                      (feed.KEYS[name], "ascending")])
            for name in STREAMS}


def _settings(source, window: int = 600, fmt: str = "ndjson") -> Settings:
    return Settings(FIRST, LAST, window, fmt, source.root_url)


def _tree(store: ObjectStore) -> dict[str, bytes]:
    fs = store.filesystem()
    root = store.path("x", "y").rsplit("/", 2)[0]
    return {path.removeprefix(root): fs.cat_file(path) for path in fs.find(root)}


def _quiet(line: str) -> None:
    pass


def test_the_feed_replays_every_row_once_in_event_time_order_with_labels_apart(source, streams, tmp_path):
    out = ObjectStore(root_url=str(tmp_path / "live"))
    state = Feed(out, _settings(source), speed=None, report=_quiet).run(source)
    root = Path(out.root_url)
    stored = {"transactions": pa.concat_tables([source.read_table("events", "card_transactions", d.isoformat())
                                                for d in DAYS] +
                                               [source.read_table("fraud", "fraud_transactions", d.isoformat())
                                                for d in DAYS]),
              "customer_events": pa.concat_tables([source.read_table("events", "customer_events", d.isoformat())
                                                   for d in DAYS])}
    key = {"transactions": "transaction_id", "customer_events": "event_id", "labels": "transaction_id"}
    total = 0
    for name in STREAMS:
        files = sorted(root.glob(f"{name}/date=*/*.ndjson"))  # what a streaming reader's glob picks up, in order
        assert files and not list(root.glob(f"{name}/**/.*"))  # no temporary file left behind
        rows = [pjson.read_json(f) for f in files]
        total += sum(t.num_rows for t in rows)
        times = [t["event_time"].cast(pa.string()).to_pylist() for t in rows]
        for f, window_times in zip(files, times):
            start = datetime.strptime(f.stem, "%Y%m%dT%H%M%S")
            assert all(start <= datetime.fromisoformat(t) < start + timedelta(seconds=600) for t in window_times)
            assert f.parent.name == f"date={start.date()}"
        flat = [t for window_times in times for t in window_times]
        assert flat == sorted(flat)  # event-time order across files
        ids = [i for t in rows for i in t[key[name]].to_pylist()]
        assert len(ids) == len(set(ids))
        source_ids = stored["transactions" if name == "labels" else name][key[name]].to_pylist()
        assert sorted(ids) == sorted(source_ids)
        columns = set(rows[0].column_names)
        schema = json.loads((root / feed.schema_path(name)).read_text())
        assert pl.scan_ndjson(root / name).select(pl.len()).collect().item() == len(ids)  # the folder, read whole
        assert [c["name"] for c in schema["columns"]] == streams[name].column_names
        assert set(schema["duckdb_columns"]) == set(streams[name].column_names)
        if name == "labels":
            assert columns == {"transaction_id", "event_time", *LABELS}
            fraud = sum(pc.sum(t["is_fraud"]).as_py() for t in rows)
            assert fraud == stored["transactions"].filter(stored["transactions"]["is_fraud"]).num_rows > 0
        else:
            assert not columns & {*LABELS}  # a consumer never sees a label
        if name == "customer_events":
            assert not columns & {"arrival_time", "batch"}  # when the session closes: the future
    assert state["rows"] == total and state["next_window_ms"] is not None
    assert json.loads((root / CHECKPOINT).read_text())["settings"] == _settings(source).as_json()


def test_parquet_files_hold_exactly_the_stored_rows(source, streams, tmp_path):
    out = ObjectStore(root_url=str(tmp_path / "live"))
    Feed(out, _settings(source, window=3600, fmt="parquet"), speed=None, report=_quiet).run(source)
    files = sorted(Path(out.root_url).glob("transactions/*/*.parquet"))
    replayed = pa.concat_tables([formats.decode(f.read_bytes(), "parquet") for f in files])
    assert replayed.equals(streams["transactions"])
    for name in STREAMS:  # each stream's folder holds only its files: polars reads it whole
        assert pl.scan_parquet(Path(out.root_url) / name).select(pl.len()).collect().item() == streams[name].num_rows


class FakeClock:
    """Time that passes only when the feed sleeps."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_each_window_is_written_when_it_ends_on_the_feed_clock(source, streams, tmp_path, monkeypatch):
    clock, speed, window = FakeClock(), 600.0, 600
    written = []
    put = ObjectStore.put_file
    monkeypatch.setattr(ObjectStore, "put_file", lambda self, *args: written.append((clock(), args[2])) or put(self, *args))
    Feed(ObjectStore(root_url=str(tmp_path / "live")), _settings(source, window), speed, clock=clock,
         sleep=clock.sleep, report=_quiet).run(source)
    starts = sorted({datetime.strptime(name.split(".")[0], "%Y%m%dT%H%M%S") for _, name in written})
    origin = starts[0]
    for at, name in written:
        start = datetime.strptime(name.split(".")[0], "%Y%m%dT%H%M%S")
        # event time ÷ speed after the start, at the window's end: never early, never late
        assert at == pytest.approx(1000.0 + ((start - origin).total_seconds() + window) / speed)


def test_pacing_on_a_real_clock_is_the_speed_as_a_ratio(source, streams, tmp_path):
    window = 4 * 3600  # few files, so writing them (an fsync each) is small against each window's pace
    span = (datetime.combine(LAST, datetime.min.time()) + timedelta(days=1)
            - datetime.combine(FIRST, datetime.min.time())).total_seconds()
    speed = span / 3.0  # the days in about three seconds
    feed_run = Feed(ObjectStore(root_url=str(tmp_path / "live")), _settings(source, window), speed, report=_quiet)
    started = time.monotonic()
    feed_run.run(source)
    elapsed = time.monotonic() - started
    first = min(pc.min(t["event_time"]).as_py() for t in streams.values())
    last = max(pc.max(t["event_time"]).as_py() for t in streams.values())
    def window_of(moment: datetime) -> datetime:
        return datetime(1970, 1, 1) + timedelta(seconds=(moment - datetime(1970, 1, 1)).total_seconds() // window
                                                * window)

    planned = (window_of(last) + timedelta(seconds=window) - window_of(first)).total_seconds() / speed
    assert 0.999 <= elapsed / planned <= 1.5, (elapsed, planned)


def test_an_interrupted_feed_resumes_to_the_same_files(source, streams, s3_url, tmp_path):
    """On the loopback S3 server: stopped after a few windows (Ctrl-C), resumed, the prefix holds exactly the
    files an uninterrupted feed writes."""
    reference = ObjectStore(root_url=str(tmp_path / "reference"))
    Feed(reference, _settings(source, 3600), speed=None, report=_quiet).run(source)
    clock = FakeClock()
    sleeps = []

    def interrupt_after_five(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 5:
            raise KeyboardInterrupt
        clock.sleep(seconds)

    out = ObjectStore(root_url=s3_url)
    interrupted = Feed(out, _settings(source, 3600), speed=60.0, clock=clock, sleep=interrupt_after_five,
                       report=_quiet)
    with pytest.raises(KeyboardInterrupt):
        interrupted.run(source)
    assert 0 < interrupted.checkpoint()["files"] < len(_tree(reference)) - 1
    lines = []
    Feed(out, _settings(source, 3600), speed=None, report=lines.append).run(source)
    assert lines[0].startswith("resuming at")
    assert _tree(out) == _tree(reference)


def test_bad_arguments_and_missing_days_stop_before_anything_is_written(source, streams, tmp_path, capsys):
    out = tmp_path / "live"
    base = ["--from", str(FIRST), "--to", str(LAST), "--out", str(out), "--source", source.root_url]
    with pytest.raises(SystemExit):
        feed.main([*base, "--speed", "fast"])
    assert "--speed must be max or a positive number (got 'fast')" in capsys.readouterr().err
    assert feed.main([*base[:3], "2026-01-04", *base[4:], "--speed", "max"]) == 2
    err = capsys.readouterr().err
    assert "events/card_transactions of 2026-01-04 is not stored" in err
    assert "--select 'card_transactions,fraud_transactions,customer_events' --partition-range 2026-01-01...2026-01-04" in err
    assert feed.main(["--from", "2025-12-31", *base[2:], "--speed", "max"]) == 2
    assert "the scenario's calendar runs from 2026-01-01" in capsys.readouterr().err
    assert feed.main([*base[:-1], str(tmp_path / "typo"), "--speed", "max"]) == 2
    assert "holds no stored days" in capsys.readouterr().err
    assert not out.exists()
    assert feed.main([*base, "--speed", "MAX", "--window", "3600"]) == 0
    assert feed.main([*base, "--speed", "max", "--window", "600"]) == 2
    assert "holds a feed with other settings (window_seconds 3600 there, 600 here)" in capsys.readouterr().err
    assert feed.main([*base, "--speed", "max", "--window", "600", "--restart"]) == 0
    assert json.loads((out / CHECKPOINT).read_text())["settings"]["window_seconds"] == 600


@pytest.mark.slow
def test_a_killed_feed_process_resumes_without_duplicates_or_gaps(source, streams, tmp_path):
    """The command itself: stopped with Ctrl-C (SIGINT), then killed (SIGKILL) mid-run, then run to the end: the
    folder holds exactly what an uninterrupted feed writes."""
    reference = ObjectStore(root_url=str(tmp_path / "reference"))
    Feed(reference, _settings(source), speed=None, report=_quiet).run(source)
    out = tmp_path / "live"
    command = [sys.executable, "-m", "fraud_pipeline.feed", "--from", str(FIRST), "--to", str(LAST),
               "--out", str(out), "--source", source.root_url, "--window", "600"]
    slow = [*command, "--speed", str(len(DAYS) * 86400 / 20)]  # the days in about 20 s

    def files_written() -> int:
        checkpoint = out / CHECKPOINT
        return json.loads(checkpoint.read_text())["files"] if checkpoint.exists() else 0

    def started_writing(process) -> None:
        before, deadline = files_written(), time.monotonic() + 60
        while files_written() <= before and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        assert process.poll() is None, "the feed ended before it could be interrupted"

    process = subprocess.Popen(slow, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    started_writing(process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and "Run the same command again to resume" in err
    after_interrupt = json.loads((out / CHECKPOINT).read_text())["files"]

    process = subprocess.Popen(slow, stderr=subprocess.PIPE, text=True)
    started_writing(process)
    process.kill()
    process.wait(timeout=60)
    assert json.loads((out / CHECKPOINT).read_text())["files"] > after_interrupt

    finished = subprocess.run([*command, "--speed", "max"], capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert "resuming at" in finished.stderr
    # a kill during a write can leave a temporary dot-file, which readers (and this comparison) skip
    written = {name: data for name, data in _tree(ObjectStore(root_url=str(out))).items()
               if not name.rsplit("/", 1)[-1].startswith(".")}
    assert written == _tree(reference)


def test_the_readmes_duckdb_example_reads_the_feed(source, streams, tmp_path, monkeypatch):
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    [example] = [block.split("```")[0] for block in readme.split("```python\n") if "import duckdb" in block]
    Feed(ObjectStore(root_url=str(tmp_path / "live")), _settings(source), speed=None, report=_quiet).run(source)
    monkeypatch.chdir(tmp_path)
    found = {}
    exec(example, found)
    assert found["payments"].shape[0] == streams["transactions"].num_rows
    sessions = found["sessions"].df()
    online = pc.equal(streams["transactions"]["channel"], "online")
    purchases = streams["transactions"].filter(pc.and_(online, pc.equal(streams["transactions"]["transaction_type"],
                                                                      "purchase")))
    assert sessions["purchases"].sum() == purchases.num_rows > 0  # no link lost to a NULL type
    assert len(sessions) == pc.count_distinct(streams["customer_events"]["session_id"]).as_py()
    expected = streams["labels"].to_pandas().assign(channel=streams["transactions"]["channel"].to_pandas())
    expected = expected.groupby("channel").agg(payments=("is_fraud", "size"), fraud=("is_fraud", "sum"))
    result = found["fraud_by_channel"].set_index("channel")
    assert result["payments"].tolist() == expected["payments"].tolist()
    assert result["fraud"].tolist() == expected["fraud"].tolist() and expected["fraud"].sum() > 0


def test_the_horizon_outlasts_the_longest_delivery_any_scenario_allows(scenario):
    """The feed holds rows back for HORIZON_MS: no row may arrive later than that after it happens."""
    slowest = scaled(scenario, customer_events={"timeout_minutes": 240},
                     card_transactions={"arrival_lag_seconds": {"median": 2.0, "sigma": 1.0, "max": 3600}})
    assert clickstream.max_lag_ms(slowest) < feed.HORIZON_MS
    assert slowest.card_transactions.arrival_lag_seconds.max * 1000 < feed.HORIZON_MS
    with pytest.raises(ScenarioError, match="timeout_minutes"):
        scaled(scenario, customer_events={"timeout_minutes": 241})


# Days in many parts: the block engine writes each day's tables as parts, each a range of customers in arrival order.

def _store_in_parts(source: ObjectStore, root, count: int = 3, broken: tuple[str, str, int] | None = None,
                    batch: int = 100) -> ObjectStore:
    """The source's days stored again with each table split into `count` parts by customer (so the parts interleave
    in arrival time), each part in the stored (arrival) order, written from small batches; `broken` (table, day,
    part): that part's rows reversed."""
    parted = ObjectStore(root_url=str(root))
    for day in DAYS:
        for layer, name in feed.TABLES:
            table = source.read_table(layer, name, day.isoformat())
            customers = pc.unique(table["customer_id"]).sort()
            block = pc.divide(pc.multiply(pc.fill_null(pc.index_in(table["customer_id"], value_set=customers), 0),
                                          count), max(len(customers), 1))
            with parted.writing(layer, name, day.isoformat(), source.stored_scenario()) as written:
                records = []
                for number in range(count):
                    part = table.filter(pc.equal(block, number))
                    if broken == (name, day.isoformat(), number):
                        part = part.take(pa.array(range(part.num_rows - 1, -1, -1)))
                    records.append(written.put_part(f"part-{number:05d}.parquet", part.to_batches(max_chunksize=batch),
                                                    schema=table.schema))
                written.publish(records)
    return parted


@pytest.fixture(scope="module")
def parted(source, tmp_path_factory):
    return _store_in_parts(source, tmp_path_factory.mktemp("parted") / "data")


def test_days_in_three_parts_give_the_feed_of_days_in_one_part(source, parted, small_scenario, tmp_path):
    assert {len(parted.read_manifest(layer, name, str(d))["files"]) for d in DAYS for layer, name in feed.TABLES} == {3}
    horizon = feed.delivery_horizon_ms(scaled(small_scenario, card_transactions={"per_day": 1500}))
    assert horizon < feed.HORIZON_MS / 2  # the tighter bound that holds less in memory
    for window, fmt in ((600, "ndjson"), (3600, "parquet")):
        one, three = (ObjectStore(root_url=str(tmp_path / f"{name}-{fmt}")) for name in ("one", "three"))
        Feed(one, _settings(source, window, fmt), speed=None, report=_quiet).run(source)
        Feed(three, _settings(source, window, fmt), speed=None, report=_quiet, horizon_ms=horizon).run(parted)
        assert len(_tree(one)) > 20 and _tree(three) == _tree(one)  # every file, byte for byte, and the checkpoint


def test_the_merge_over_parts_read_in_small_batches_gives_the_same_windows(source, parted):
    whole = list(feed.windows(source, FIRST, LAST, 900_000))
    merged = list(feed.windows(parted, FIRST, LAST, 900_000, batch_rows=37))
    assert [start for start, _ in merged] == [start for start, _ in whole]
    for (_, expected), (_, found) in zip(whole, merged):
        assert all(found[name].equals(expected[name]) for name in STREAMS)


def test_windows_are_written_while_a_day_is_still_being_read(parted, small_scenario, monkeypatch):
    """Not a day loaded, then written: the first windows of a day go out before the last batch of its parts is read
    (the rows of about a delivery horizon wait in memory, not the day)."""
    events = []
    batches = ListedPart.batches

    def logged(part, *args, **kwargs):
        for found in batches(part, *args, **kwargs):
            events.append(("read", part.folder.rsplit("date=", 1)[1]))
            yield found

    monkeypatch.setattr(ListedPart, "batches", logged)
    horizon = feed.delivery_horizon_ms(scaled(small_scenario, card_transactions={"per_day": 1500}))
    for start, _ in feed.windows(parted, FIRST, LAST, 600_000, horizon, batch_rows=50):
        events.append(("window", start))
    reads = [i for i, (kind, day) in enumerate(events) if kind == "read" and day == str(DAYS[1])]
    written_meanwhile = [e for e in events[reads[0]:reads[-1]] if e[0] == "window"]
    assert len(reads) > 20 and len(written_meanwhile) > 10


def test_a_row_later_than_the_horizon_stops_the_feed_rather_than_rewrite_a_window(parted):
    with pytest.raises(feed.LateRow, match="more than the feed's horizon of 0.0166667 h later"):
        list(feed.windows(parted, FIRST, LAST, 60_000, horizon_ms=60_000))


def test_a_part_out_of_arrival_order_stops_the_feed_naming_it(source, tmp_path, capsys):
    broken = _store_in_parts(source, tmp_path / "broken", broken=("card_transactions", str(DAYS[1]), 1))
    out = tmp_path / "live"
    assert feed.main(["--from", str(FIRST), "--to", str(LAST), "--out", str(out), "--source", broken.root_url,
                      "--speed", "max"]) == 2
    err = capsys.readouterr().err
    assert f"events/card_transactions/date={DAYS[1]}/part-00001.parquet is not sorted by arrival_time" in err
    with pytest.raises(merge.Unsorted):
        list(feed.windows(broken, FIRST, LAST, 600_000))
