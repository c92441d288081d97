"""The core: one user's keyspace on Redis, and the one path to it.

    keys.py         every Redis name (the keyspace contract)
    codec.py        values to bytes and back (msgpack)
    config.py       ``Settings``: one typed settings object
    connection.py   clients, pools, error translation
    calls.py        ``ScriptCall`` / ``CommandCall`` / ``CachedRead``: what an operation
                    asks of Redis (a leaf: every layer imports the call types here)
    scripts.py      the Lua scripts of ``syntha_redis/lua/``, loaded by SHA
    store.py        ``Store`` / ``AsyncStore``: the only path to Redis
    metrics.py      the store's Prometheus timings (off unless enabled)
    read_cache.py   the client-side read cache (off unless ``read_cache_entries``)
    tracking.py     CLIENT TRACKING connections that keep that cache coherent
    operations.py   the mesh's operations, as generators (sync and async share them)
    topic_operations.py, batches.py   topics and multi-item operations
    limits.py, registry.py            limits kept in Redis, the user registry
    models.py       ``StoredItem`` / ``ContextItem``
    health.py       the health probe (an operation like the others)
    untrusted.py    what trusted readers make of bytes tenants can write: typed values
                    or a ``Malformed`` reason, set aside and counted

Nothing here imports from the layers above (``live``, ``agents``, ``snapshot``,
``ops``, ``cli``) or from the mesh classes.
"""
