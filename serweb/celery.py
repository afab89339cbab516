import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "serweb.settings")

app = Celery("serweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# DNS verification and housekeeping tasks live beside the reload tasks.
app.autodiscover_tasks(related_name="dns_tasks")
