"""What a moderator does through the monitor.

- :mod:`monitor.actions.platform`: a reply, hide or delete on the platform (from Slack or the
  command line), each made exactly once;
- :mod:`monitor.actions.slack`: the buttons and the Reply modal on Slack's alerts, received through
  Socket Mode, each click passing one gate before anything is done.
"""
