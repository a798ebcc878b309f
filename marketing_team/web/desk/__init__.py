"""The review desk: web pages where a marketer follows goals and decides what waits for a person."""
