"""Live: what happens between calls.

    events.py    ``Watch`` / ``AsyncWatch``: the change feed (a stream per user)
    wakeups.py   a pub/sub listener per watch (its own connection) that wakes it
    sweeper.py   the expiry sweeper (a daemon thread, a lease per user)

Built on ``core``; the mesh classes at the package root use them.
"""
