"""The log line format of worker processes (the supervisor and its children alike)."""

LOG_FORMAT = "[%(asctime)s] [PID %(process)d] [%(name)s] [%(levelname)s] %(message)s"
