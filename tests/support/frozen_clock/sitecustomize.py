"""
Stops Django's clock at VISITS_FROZEN_NOW (ISO 8601) in a Python started with
this folder on PYTHONPATH, which imports it before anything else: the browser
tests' gunicorn draws the stats at the same hours whenever it runs. The
database's clock (an access's created_at) goes on.
"""

import datetime
import os

from django.utils import timezone

FROZEN_NOW = datetime.datetime.fromisoformat(os.environ["VISITS_FROZEN_NOW"])

timezone.now = lambda: FROZEN_NOW
