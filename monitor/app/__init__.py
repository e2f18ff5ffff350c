"""The application around the engine: what runs it on a school server.

- :mod:`monitor.app.assembly`: builds the store, classifier, hooks and pipeline from a
  configuration; the command line, the daemon and the demo all start from here;
- :mod:`monitor.app.daemon`: ``monitor run``, the scheduler of every source and periodic job;
- :mod:`monitor.app.systemd`: readiness and watchdog keep-alives for systemd;
- :mod:`monitor.app.status`: ``monitor status``;
- :mod:`monitor.app.checks`: what ``monitor check-config`` and the daemon's start warn about;
- :mod:`monitor.app.maintenance`: consistent backups and the retention purge.

The command line itself is :mod:`monitor.cli` (the ``monitor`` command, ``python -m monitor.cli``).
"""
