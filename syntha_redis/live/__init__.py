"""Live: what happens between calls.

    events.py    ``Watch`` / ``AsyncWatch``: the change feed (a stream per user)
    wakeups.py   one pub/sub listener per process that wakes blocked watches
    sweeper.py   the expiry sweeper (a daemon thread, a lease per user)

Built on ``core``; the mesh classes at the package root use them.
"""
