"""``monitor run``: the scheduler that drives every source and the periodic jobs.

One APScheduler job per source on its interval, with jitter so that sources do not all fire at
once; ``max_instances=1`` keeps two polls of one source from overlapping and ``coalesce`` turns a
backlog of missed runs into one. A failing source backs off (see ``Pipeline.poll``) and never
stops the others.

Polls run in their own pool of workers (``polls``); the housekeeping jobs (the heartbeat that feeds
systemd's watchdog, the outbox dispatcher, the SLA clock, the digest, the health check, the purge)
run in another, with a thread for each, so a server that keeps every poll hanging (one byte at a
time) cannot starve them, nor can one of them starve another.

SIGTERM or SIGINT lets the running jobs finish for up to :data:`STOP_GRACE` seconds, then closes
the database and exits without waiting for a job still hanging: a poll cut short has moved no
cursor, so the next start repeats it and nothing is lost.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.app.systemd import Watchdog, notify, watchdog_interval
from monitor.clock import Clock, system_clock
from monitor.config import Config
from monitor.pipeline import Pipeline
from monitor.store import Store

logger = logging.getLogger(__name__)

#: seconds a stop waits for running jobs before it leaves them (systemd's TimeoutStopSec is 2 min)
STOP_GRACE = 10.0
#: the executor of the source polls; every other job runs in "default"
POLLS = "polls"


@dataclass(frozen=True)
class JobSpec:
    """A periodic job: ``func()`` run on ``trigger``, in the scheduler's ``executor``."""

    id: str
    func: Callable[[], Any]
    trigger: BaseTrigger
    first_run: datetime | None = None
    options: dict[str, Any] = field(default_factory=dict)
    executor: str = "default"


def source_jobs(config: Config, pipeline: Pipeline) -> list[JobSpec]:
    jobs = []
    now = datetime.now(timezone.utc)
    for settings in config.sources:
        if not settings.enabled:
            continue
        seconds = max(settings.interval.total_seconds(), 1.0)
        jitter = min(30.0, seconds * 0.1)
        jobs.append(
            JobSpec(
                id=f"poll:{settings.name}",
                func=lambda name=settings.name: pipeline.poll(name, respect_backoff=True),
                trigger=IntervalTrigger(seconds=seconds, jitter=jitter or None),
                # a small stagger so that a restart does not fire every source in the same second
                first_run=now + timedelta(seconds=random.uniform(0, min(5.0, seconds))),
                executor=POLLS,
            )
        )
    return jobs


def build_jobs(config: Config, store: Store, pipeline: Pipeline, clock: Clock = system_clock) -> list[JobSpec]:
    """Every job the daemon runs: the sources, then the periodic capabilities."""
    return source_jobs(config, pipeline) + [
        purge_job(config, store), sla_clock_job(config, store, clock, pipeline), digest_job(config, store, clock),
    ] + alert_jobs(config, store, clock) + platform_action_jobs(config, store, clock)


def platform_action_jobs(config: Config, store: Store, clock: Clock = system_clock) -> list[JobSpec]:
    """Replies, hides and deletes left pending or in doubt (a crash, a timeout) are checked on the
    platform and finished, soon after a start and then every two minutes."""
    if not any(source.actions for source in config.sources):
        return []
    from monitor.actions.platform import resume

    return [JobSpec(id="platform-actions", func=lambda: resume(store, config, clock=clock),
                    trigger=IntervalTrigger(minutes=2), first_run=datetime.now(timezone.utc) + timedelta(seconds=5))]


def alert_jobs(config: Config, store: Store, clock: Clock = system_clock) -> list[JobSpec]:
    """The outbox dispatcher every few seconds, and the source-health check every few minutes."""
    from monitor.notify.alerting import check_health
    from monitor.notify.outbox import Dispatcher, build_notifiers

    jobs = [JobSpec(id="source-health", func=lambda: check_health(store, config, clock),
                    trigger=IntervalTrigger(minutes=5), first_run=datetime.now(timezone.utc) + timedelta(seconds=30))]
    notifiers = build_notifiers(config, clock)
    if not notifiers:
        logger.warning("no [notify.slack] or [notify.email] configured: alerts stay in the outbox")
        return jobs
    dispatcher = Dispatcher(store, notifiers, clock=clock)
    return jobs + [JobSpec(id="outbox", func=dispatcher.run, trigger=IntervalTrigger(seconds=5),
                           first_run=datetime.now(timezone.utc) + timedelta(seconds=2))]


def button_jobs(buttons) -> list[JobSpec]:
    """Keeps the Slack buttons' Socket Mode connection up (None: no ``notify.slack.app_token``)."""
    if buttons is None:
        return []
    return [JobSpec(id="slack-buttons", func=buttons.keep_connected, trigger=IntervalTrigger(seconds=60))]


def sla_clock_job(config: Config, store: Store, clock: Clock = system_clock,
                  pipeline: Pipeline | None = None) -> JobSpec:
    """Reminders, breach notices and escalations of acknowledgement cases, every minute; with a
    pipeline, a comment gone from its platform closes its case instead."""
    from monitor.sla.clock import tick

    still_there = pipeline.still_there if pipeline is not None else None
    # first soon after start: deadlines passed while the monitor was off are noticed at once
    return JobSpec(id="sla-clock", func=lambda: tick(store, config, clock(), still_there),
                   trigger=IntervalTrigger(seconds=60), first_run=datetime.now(timezone.utc) + timedelta(seconds=5))


def purge_job(config: Config, store: Store) -> JobSpec:
    """The retention purge, daily at night in the school's time zone."""
    from monitor.app.maintenance import purge

    return JobSpec(
        id="purge",
        func=lambda: purge(store, config),
        trigger=CronTrigger(hour=3, minute=15, jitter=600, timezone=config.school.tz),
    )


def digest_job(config: Config, store: Store, clock: Clock = system_clock) -> JobSpec:
    """The weekly digest, checked every minute: queued at ``digest.weekday`` ``digest.time`` (school
    time zone), or at start when the server was off at that moment; the outbox key makes it once."""
    from monitor.digest.send import send_due_digest

    return JobSpec(
        id="digest",
        func=lambda: send_due_digest(store, config, now=clock()),
        trigger=IntervalTrigger(seconds=60),
        first_run=datetime.now(timezone.utc) + timedelta(seconds=20),
    )


class Daemon:
    def __init__(
        self,
        jobs: list[JobSpec],
        *,
        on_stop: Callable[[], None] | None = None,
        on_start: Callable[[], None] | None = None,
        on_stopping: Callable[[], None] | None = None,
        workers: int = 4,
        stop_grace: float = STOP_GRACE,
    ):
        self.jobs = jobs
        self.on_stop = on_stop
        self.on_start = on_start
        self.on_stopping = on_stopping
        self.stop_grace = stop_grace
        self.stopped = threading.Event()
        #: the jobs still running when the last stop stopped waiting for them
        self.abandoned: list[str] = []
        self._running: dict[str, int] = {}
        self._idle = threading.Condition()
        housekeeping = sum(1 for job in jobs if job.executor != POLLS)
        self.scheduler = BackgroundScheduler(
            executors={POLLS: ThreadPoolExecutor(workers), "default": ThreadPoolExecutor(max(1, housekeeping))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=timezone.utc,
        )

    def start(self) -> None:
        for job in self.jobs:
            options = dict(job.options)
            if job.first_run is not None:  # APScheduler reads next_run_time=None as "paused"
                options["next_run_time"] = job.first_run
            self.scheduler.add_job(self._tracked(job), job.trigger, id=job.id, name=job.id,
                                   executor=job.executor, **options)
        self.scheduler.start()
        logger.info("monitor started: %d jobs (%s)", len(self.jobs), ", ".join(j.id for j in self.jobs))
        if self.on_start:
            self.on_start()

    def stop(self) -> None:
        """Let the running jobs finish for up to ``stop_grace`` seconds, then stop. Safe to call twice.

        A job still running then is left to the process's exit (see :attr:`abandoned`).
        """
        if self.stopped.is_set():
            return
        self.stopped.set()
        if self.on_stopping:
            self.on_stopping()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.abandoned = self._wait_for_jobs(self.stop_grace)
        if self.abandoned:
            logger.warning(
                "stopping without %s, still running after %.0fs: nothing is lost, a poll cut short "
                "moved no cursor and is repeated at the next start", ", ".join(self.abandoned), self.stop_grace,
            )
        if self.on_stop:
            self.on_stop()
        logger.info("monitor stopped")

    def running_jobs(self) -> list[str]:
        with self._idle:
            return sorted(self._running)

    def run_forever(self, tick: Callable[[], None] | None = None, tick_every: float = 10.0) -> None:
        """Start, then wait for SIGTERM/SIGINT; ``tick`` runs in the main thread between waits."""
        wake = threading.Event()

        def request_stop(signum: int, _frame: Any) -> None:
            logger.info("received %s: finishing running jobs", signal.Signals(signum).name)
            wake.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        self.start()
        try:
            while not wake.wait(tick_every):
                if tick:
                    tick()
        finally:
            self.stop()

    def _tracked(self, job: JobSpec) -> Callable[[], None]:
        """The guarded job, counted while it runs (for the stop); none starts once stopping."""
        guarded = _guarded(job)

        def run() -> None:
            with self._idle:
                if self.stopped.is_set():
                    return
                self._running[job.id] = self._running.get(job.id, 0) + 1
            try:
                guarded()
            finally:
                with self._idle:
                    self._running[job.id] -= 1
                    if not self._running[job.id]:
                        del self._running[job.id]
                    self._idle.notify_all()

        return run

    def _wait_for_jobs(self, timeout: float) -> list[str]:
        """Wait until no job runs, for at most ``timeout`` seconds; returns those still running."""
        with self._idle:
            self._idle.wait_for(lambda: not self._running, timeout=timeout)
            return sorted(self._running)


def _guarded(job: JobSpec) -> Callable[[], None]:
    """A job whose failure is logged and never stops the scheduler."""

    def run() -> None:
        try:
            job.func()
        except Exception:  # noqa: BLE001
            logger.exception("job=%s failed", job.id)

    return run


def run_daemon(config: Config) -> None:
    """Open everything, run until a signal, close everything."""
    from monitor.app.assembly import build_pipeline, open_store
    from monitor.app.checks import warn_about_permissions

    store = open_store(config)
    warn_about_permissions(config)
    pipeline = build_pipeline(config, store)

    from monitor.actions.slack import start_slack_actions

    buttons = start_slack_actions(config, store)

    def close() -> None:
        if buttons is not None:
            buttons.close()
        for connector in pipeline.connectors.values():
            connector.close()
        store.close()

    jobs = build_jobs(config, store, pipeline) + button_jobs(buttons)
    daemon: Daemon
    watchdog = supervise(jobs, lambda: daemon.scheduler.running)

    daemon = Daemon(jobs, on_stop=close, on_start=lambda: notify("READY=1\nSTATUS=monitoring"),
                    on_stopping=lambda: notify("STOPPING=1"))
    tick_every = min(10.0, watchdog_interval() / 3) if watchdog_interval() else 10.0
    daemon.run_forever(tick=watchdog.tick, tick_every=tick_every)
    if daemon.abandoned:
        # the interpreter would wait at exit for the worker threads still hanging in a request
        logging.shutdown()
        os._exit(0)


def supervise(jobs: list[JobSpec], running: Callable[[], bool]) -> Watchdog:
    """A watchdog for systemd, fed by a heartbeat job appended to ``jobs``.

    The heartbeat runs in the housekeeping pool, which polls do not use: if it has not run for
    three of its periods (or half the unit's WatchdogSec, if shorter), the keep-alives stop.
    """
    every = 10.0
    limit = watchdog_interval()
    max_age = min(3 * every, limit / 2) if limit else 3 * every
    every = min(every, max_age / 3)
    watchdog = Watchdog(max_age, running=running)
    jobs.append(JobSpec(id="heartbeat", func=watchdog.beat, trigger=IntervalTrigger(seconds=every)))
    return watchdog
