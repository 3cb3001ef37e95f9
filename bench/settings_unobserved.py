"""The project's settings without the metrics middleware, to measure what metrics cost."""

from visits_project.settings import *  # noqa: F403
from visits_project.settings import MIDDLEWARE

MIDDLEWARE = [name for name in MIDDLEWARE if name != "visits.metrics.MetricsMiddleware"]
