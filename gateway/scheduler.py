"""Adapter: the periodic jobs (APScheduler) that drive the runtime's time-based steps."""

from __future__ import annotations

from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from gateway.runtime import Runtime


def build_scheduler(runtime: Runtime, *, offline_grace: timedelta) -> AsyncIOScheduler:
    """Jobs: the offline watchdog, checked often enough to honour the grace period closely."""
    scheduler = AsyncIOScheduler(timezone="UTC")
    every = max(1.0, min(5.0, offline_grace.total_seconds() / 4))
    scheduler.add_job(
        runtime.expire_offline,
        "interval",
        seconds=every,
        id="offline-watchdog",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
    )
    return scheduler
