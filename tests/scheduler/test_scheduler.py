"""The scheduler on one database: one leader at a time, takeover after the lease, tasks on their intervals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from postroom.scheduler import repo as scheduler_repo
from postroom.scheduler.runner import LEASE, Scheduler
from postroom.scheduler.task import PeriodicTask
from postroom.storage.tables import leases
from postroom.testing import FakeClock

LEASE_TIME = timedelta(seconds=30)


class Counter:
    def __init__(self, fail: bool = False) -> None:
        self.runs = 0
        self.fail = fail

    async def run(self) -> str:
        self.runs += 1
        if self.fail:
            raise RuntimeError("the task broke")
        return f"run {self.runs}"


def _scheduler(db: Any, clock: FakeClock, tasks: list[PeriodicTask], holder: str) -> Scheduler:
    return Scheduler(db, tasks, lease=LEASE_TIME, clock=clock, holder=holder)


def _holder(db: Any, clock: FakeClock) -> str:
    return str(db.read_sync(lambda c: scheduler_repo.lease_holder(c, LEASE, clock.now())))


async def test_one_leader_at_a_time_and_a_takeover_after_the_lease_expires(db: Any) -> None:
    clock = FakeClock()
    first_task, second_task = Counter(), Counter()
    first = _scheduler(db, clock, [PeriodicTask("count", timedelta(minutes=1), first_task.run)], "first")
    second = _scheduler(db, clock, [PeriodicTask("count", timedelta(minutes=1), second_task.run)], "second")
    assert await first.step() == ["count"]
    assert await second.step() == [] and not second.leading
    assert _holder(db, clock) == "first"
    for _ in range(5):  # the leader renews: the other never gets in while it lives
        clock.advance(LEASE_TIME.total_seconds() / 2)
        await first.step()
        await second.step()
        assert first.leading and not second.leading
    # the leader dies (no more renewals); once its lease has run out the other takes over
    clock.advance(LEASE_TIME.total_seconds() - 1)
    await second.step()
    assert not second.leading
    clock.advance(2)
    await second.step()
    assert second.leading and _holder(db, clock) == "second"
    assert await first.step() == [] and not first.leading  # it came back: it follows now
    assert (first_task.runs, second_task.runs) == (2, 0)  # at 0 and 60 s; the next is due at 120 s
    clock.advance(120 - 106)
    await first.step()
    await second.step()
    assert (first_task.runs, second_task.runs) == (2, 1)  # by the new leader only


async def test_a_task_runs_once_per_interval_across_leaders(db: Any) -> None:
    clock = FakeClock()
    counter = Counter()
    task = PeriodicTask("count", timedelta(minutes=10), counter.run)
    first = _scheduler(db, clock, [task], "first")
    assert await first.step() == ["count"]
    clock.advance(60)
    assert await first.step() == []
    await first._release()  # a clean stop gives the lease up: the next one need not wait
    second = _scheduler(db, clock, [task], "second")
    assert await second.step() == []  # it reads when the task last ran, by any process
    clock.advance(9 * 60)
    assert await second.step() == ["count"] and counter.runs == 2
    runs = db.read_sync(scheduler_repo.runs)
    assert [(r["task"], r["holder"], r["runs"], r["failed"]) for r in runs] == [("count", "second", 2, False)]
    assert runs[0]["outcome"] == "run 2" and runs[0]["finished_at"] is not None


async def test_an_initial_delay_holds_the_first_run(db: Any) -> None:
    clock = FakeClock()
    counter = Counter()
    task = PeriodicTask("later", timedelta(minutes=7), counter.run, initial_delay=timedelta(minutes=7))
    scheduler = _scheduler(db, clock, [task], "only")
    assert await scheduler.step() == []
    clock.advance(7 * 60)
    assert await scheduler.step() == ["later"]


async def test_a_failing_task_is_recorded_and_runs_again_at_its_next_turn(db: Any) -> None:
    clock = FakeClock()
    broken, fine = Counter(fail=True), Counter()
    tasks = [
        PeriodicTask("broken", timedelta(minutes=1), broken.run),
        PeriodicTask("fine", timedelta(minutes=1), fine.run),
    ]
    scheduler = _scheduler(db, clock, tasks, "only")
    assert await scheduler.step() == ["broken", "fine"]  # one failing does not stop the others
    clock.advance(61)
    await scheduler.step()
    assert broken.runs == 2 and fine.runs == 2
    runs = {r["task"]: r for r in db.read_sync(scheduler_repo.runs)}
    assert runs["broken"]["failed"] and "the task broke" in runs["broken"]["outcome"]
    assert not runs["fine"]["failed"]


async def test_run_until_stop_releases_the_lease(db: Any) -> None:
    import asyncio

    counter = Counter()
    scheduler = Scheduler(
        db, [PeriodicTask("count", timedelta(hours=1), counter.run)], tick=timedelta(seconds=0.05)
    )
    running = asyncio.create_task(scheduler.run())
    for _ in range(200):
        if counter.runs:
            break
        await asyncio.sleep(0.01)
    scheduler.stop()
    await asyncio.wait_for(running, 5)
    assert counter.runs == 1
    row = db.read_sync(lambda c: c.execute(select(leases).where(leases.c.name == LEASE)).one())
    assert row.holder == ""
