"""Platform connectors: one client per active instance, run by the supervisor."""
