"""
PostgreSQL and Redis servers of the project's own: `make run` starts them where
DB_HOST or CACHE_HOST is not set (python -m devservices), and `make test` where
none answers at the configured address (tests/support/services.py).
"""
