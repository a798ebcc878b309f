"""Persistence adapters: goals, deliverables, learnings, review items, replies, schedules, leases."""
