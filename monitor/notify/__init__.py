"""Notifiers: one per channel (Slack, email), each sending one outbox row at a time."""
