"""The ``flowbot`` command: the composition root that starts every process (web, worker,
connectors) and manages the database and accounts. It may import every package; nothing
imports it."""
