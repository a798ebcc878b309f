"""The Celery edge (the only package that imports Celery): app, canvases, tasks, beat, workers."""
