"""The Celery application. Its settings are the ``CELERY_*`` names in ``gapportal.settings``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gapportal.settings")

app = Celery("gapportal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
