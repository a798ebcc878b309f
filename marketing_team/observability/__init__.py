"""What every layer reports: JSON logs, goal progress events (pub/sub), metric counters, process liveness."""
