"""The WSGI application: the webhook, `/health` and `/metrics` (no framework)."""
