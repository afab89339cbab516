# The Celery app (serweb/celery.py) is imported by the task modules and by `celery -A
# serweb`, not here: a command or a web request that starts no task never loads Celery.
