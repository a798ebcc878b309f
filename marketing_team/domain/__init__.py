"""The domain: goals, plans, tasks and their status machine, reviews, learnings, events, errors.

Pure pydantic models and enums; nothing here does I/O. Import names from their modules.
"""
