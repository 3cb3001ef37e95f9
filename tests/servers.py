"""
The helpers' former place, kept only for the two files that still import from
here (test_services.py, test_embedded.py); new code imports tests.support.
"""

from tests.support.servers import PROJECT_ROOT, fetch
from tests.support.services import free_port, wait_until

__all__ = ["PROJECT_ROOT", "fetch", "free_port", "wait_until"]
