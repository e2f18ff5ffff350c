"""Alerts, from the poll to the person (``docs/ALERTS.md``).

- :mod:`monitor.notify.alerting`: what each poll alerts (flagged items, new comments to acknowledge,
  source health), written in the poll's transaction;
- :mod:`monitor.notify.routing`: why an item was flagged, which channels each kind goes to, and when;
- :mod:`monitor.notify.outbox`: every alert written first to the outbox, then delivered by its
  dispatcher;
- one notifier per channel (:mod:`~monitor.notify.slack`, :mod:`~monitor.notify.email`,
  :mod:`~monitor.notify.teams`), each sending one outbox row at a time, with the shared rendering
  (:mod:`~monitor.notify.render`) and Slack's size limits (:mod:`~monitor.notify.slack_limits`).
"""
