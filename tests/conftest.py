"""Root conftest: Celery's in-process fixtures win over pytest-celery's Docker ones; our harness."""

pytest_plugins = ("celery.contrib.pytest", "marketing_team.testing.fixtures")
