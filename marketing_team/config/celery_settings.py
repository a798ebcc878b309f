"""Celery's static settings, read by `marketing_team.orchestration.app.create_app`.

Inside the package (not a top-level `celeryconfig`) so that no module of that name earlier on
sys.path can shadow it.

Values that depend on the environment (broker URL, time limits, visibility timeout) are added by
create_app from the product settings, so that one variable (MT_HARD_TIME_LIMIT) moves them together.
"""

from __future__ import annotations

# Durability: a task is acknowledged only after it finished, a worker holds one message at a
# time, and a task whose worker died is requeued rather than failed.
task_acks_late = True
worker_prefetch_multiplier = 1
task_reject_on_worker_lost = True

# Serialization and results: chords need stored results; results expire after a day (the
# store keeps everything that matters).
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
result_expires = 86400
result_extended = True

# Priorities: P0..P3 map to 0, 3, 6, 9; on Redis lower numbers are consumed first.
task_queue_max_priority = 9
task_default_priority = 6

# Director work (review, advance, finish) has its own queue so skill work never starves it.
task_default_queue = "skills"
task_routes = {"director.*": {"queue": "director"}, "triggers.*": {"queue": "director"}}

# Task events only while a monitor asks for them: Flower switches them on when it starts (and
# `celery -A marketing_team control enable_events` does by hand). Always on, they cost about a
# tenth of a skill step's own time with nobody listening.
worker_send_task_events = False
task_send_sent_event = False
worker_hijack_root_logger = False
broker_connection_retry_on_startup = True
timezone = "UTC"
enable_utc = True

# An errback on a chord also covers its header tasks (the behaviour Celery will make default).
task_allow_error_cb_on_chord_header = True
