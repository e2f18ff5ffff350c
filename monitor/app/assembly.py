"""Assembly: builds the store, classifier, hooks and pipeline from a configuration.

This is the one place where the capabilities are wired together; the CLI, the daemon and the
demo all start from here.
"""

from __future__ import annotations

import logging

from classifiers.base import Classifier
from monitor.clock import Clock, ManualClock, system_clock
from monitor.config import Config
from monitor.pipeline import Pipeline, PipelineHook
from monitor.store import Store, database_exists

logger = logging.getLogger(__name__)


def open_store(config: Config, clock: Clock = system_clock, *, create: bool = True) -> Store:
    """The configured database, created if need be; with ``create=False`` a database not created
    yet is an empty stand-in in memory (``Store.absent``) and nothing is written: a command that
    only looks must not leave a database owned by whoever ran it, which the service could not write."""
    path = config.database_path
    if create or database_exists(path):
        return Store(path, clock=clock)
    store = Store(":memory:", clock=clock)
    store.path, store.absent = path, True
    return store


def open_store_to_report(config: Config, *, create: bool = False) -> Store:
    """The store for a command that reports on it (status, cases, a digest), judged now; or, for a
    database ``monitor demo`` filled, at its simulated clock's last time, where what it holds is true.
    A database not created yet is not created unless ``create`` (see :func:`open_store`)."""
    store = open_store(config, create=create)
    simulated = store.simulated_time()
    if simulated is not None:
        store.clock = ManualClock(simulated)
    return store


def build_classifier(config: Config) -> Classifier:
    """The configured classifier (model plus safeguarding rules); ConfigError if it cannot load."""
    from classifiers import load_classifier
    from monitor.tune import tuning_path

    return load_classifier(config.classifier, tuning=tuning_path(config.database_path))


def build_hooks(config: Config, clock: Clock = system_clock) -> list[PipelineHook]:
    """The capabilities that react to each poll, in order."""
    from monitor.sla.cases import CasesHook

    # cases first: the alerts written after them can name the case and its deadline
    hooks: list[PipelineHook] = [CasesHook(config)]
    from monitor.notify.alerting import AlertsHook

    hooks.append(AlertsHook(config, clock))
    return hooks


def build_pipeline(
    config: Config,
    store: Store,
    *,
    clock: Clock = system_clock,
    classifier: Classifier | None = None,
) -> Pipeline:
    return Pipeline(
        config=config,
        store=store,
        classifier=classifier if classifier is not None else build_classifier(config),
        clock=clock,
        hooks=build_hooks(config, clock),
    )
