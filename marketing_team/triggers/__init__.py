"""What starts work without a person: cron schedules, the event bus and the team's own events."""
