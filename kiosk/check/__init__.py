"""``main.py check``: the venue check of one PC (command.py runs checks.py, report.py words it)."""
