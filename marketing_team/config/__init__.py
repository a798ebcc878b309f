"""Configuration: the product's settings from the environment, and Celery's static settings."""
