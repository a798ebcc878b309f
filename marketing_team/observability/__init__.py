"""What every layer reports: JSON logs, goal progress events and metric counters (Redis only)."""
