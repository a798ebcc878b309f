"""The team catalog: skills, pipelines, routing, schedules and event mappings as data files."""
