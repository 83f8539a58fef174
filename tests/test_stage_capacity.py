"""Stage runs have slots of their own (issue 8 point 7), against the real stack on PostgreSQL
with the sweep every 15 s: 20 stages started at once complete while one background slot is
held by a bulletin blocked on a table lock and the sweeps run in the other."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from runtime.demo import wait_for_run
from runtime.stack import Stack
from tests.test_recurring_runs import (
    _never_overlapped,
    _office,
    _post,
    _runs_of,
    _state_names,
    _topic,
    serving,
)

STAGES = 20


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    # Often enough for sweeps to run during the burst; each sweep is a process of ~6
    # CPU-seconds, so a shorter interval would mostly measure the sweeps' own load. A Prefect
    # server of its own: a bulletin run that an earlier module's stack left unfinished on the
    # shared server held the deployment's one slot, and this test's bulletin never started.
    with serving(tmp_path_factory, follow_up_interval_seconds=15, own_prefect=True) as running:
        yield running


def test_stage_runs_have_slots_of_their_own_while_sweeps_run_and_a_bulletin_is_stuck(stack):
    """20 stages started at once while the sweep runs every 15 s in one background slot and a
    bulletin blocked on a table lock holds the other: no stage run waits for a slot, and
    sweeps keep completing during the burst."""
    c = _office(stack)
    tids = [
        _topic(c, f"照明修复议题 {uuid.uuid4().hex}") for _ in range(STAGES)
    ]  # never near-duplicates
    dsn = stack.settings.resolved_database_url.replace("postgresql+psycopg", "postgresql")
    at = dt.datetime.fromisoformat
    with psycopg.connect(dsn) as lock:
        lock.execute("LOCK TABLE bulletin IN ACCESS EXCLUSIVE MODE")
        held = c.post("/bulletins/monthly", {"period": "2026-08"})
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if c.get(f"/runs/{held['id']}")["state_type"] == "RUNNING":
                break
            time.sleep(0.5)
        assert c.get(f"/runs/{held['id']}")["state_type"] == "RUNNING"

        burst_began = dt.datetime.now(dt.UTC)
        with ThreadPoolExecutor(max_workers=STAGES) as pool:
            starts = list(
                pool.map(lambda t: _post(c, f"{stack.api_url}/topics/{t}/stages/topic"), tids)
            )
        assert [status for status, _ in starts] == [202] * STAGES, starts
        runs = [body["flow_run_id"] for _, body in starts]
        ends = []
        for run_id in runs:
            final = wait_for_run(c, run_id)
            assert final["state_type"] == "COMPLETED"
            assert "AwaitingConcurrencySlot" not in _state_names(stack, run_id)
            ends.append(at(final["end_time"]))
        burst_ended = max(ends)
        # The bulletin held its slot the whole time; the sweeps ran in the other one.
        assert c.get(f"/runs/{held['id']}")["state_type"] == "RUNNING"
        swept = [
            r
            for r in _runs_of(stack, "follow-up")
            if r["state_type"] == "COMPLETED"
            and burst_began <= at(r["start_time"])
            and at(r["end_time"]) <= burst_ended
        ]
        assert swept, "no sweep completed while the stages ran"
        lock.rollback()

    assert wait_for_run(c, held["id"])["state_type"] == "COMPLETED"
    for t in tids:
        assert c.get(f"/topics/{t}")["status"] == "awaiting_approval"
    assert _never_overlapped(_runs_of(stack, "follow-up"))
