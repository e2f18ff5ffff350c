"""Acknowledgement deadlines: every comment the school must answer, answered in time.

- :mod:`monitor.sla.calendar`: the school's working days (weekends, public holidays, closures);
- :mod:`monitor.sla.deadlines`: when a comment is due, as pure functions of its time of receipt;
- :mod:`monitor.sla.cases`: one case per comment to answer, opened in the poll's transaction and
  closed when it is acknowledged or the comment is removed;
- :mod:`monitor.sla.clock`: the SLA clock, run every minute: reminders, breach notices and
  escalations, written to the outbox.
"""
