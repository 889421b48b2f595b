"""Plan and apply: phases, journal, resume, concurrency, progress events."""
