"""
The exercise's implementation, as ../shared/seed describes it: Flask's
development server, a new PostgreSQL connection for every request, and
SELECT COUNT(*) over the whole table. The benchmark's first baseline.

Run: python -m bench.baselines.exercise  (DB_HOST, DB_PORT, DB_NAME, DB_USER,
DB_PASS, CACHE_HOST, CACHE_PORT, PORT, COUNTER_KEY from the environment). The
development server's one setting, EXERCISE_PROCESSES: 1 (the exercise's own, a
thread per request) or more (a process per request, at most that many at once).
"""

import os

import psycopg2
import redis
from flask import Flask

app = Flask(__name__)
cache = redis.Redis(host=os.environ["CACHE_HOST"], port=int(os.environ.get("CACHE_PORT", 6379)))
COUNTER_KEY = os.environ.get("COUNTER_KEY", "visitas")


def connect():
    return psycopg2.connect(
        host=os.environ["DB_HOST"],
        port=os.environ.get("DB_PORT", "5432"),
        dbname=os.environ["DB_NAME"],
        user=os.environ["DB_USER"],
        password=os.environ.get("DB_PASS", ""),
    )


@app.route("/")
def index():
    connection = connect()
    cursor = connection.cursor()
    cursor.execute("INSERT INTO acessos DEFAULT VALUES")
    cursor.execute("SELECT COUNT(*) FROM acessos")
    accesses = cursor.fetchone()[0]
    connection.commit()
    connection.close()
    visits = cache.incr(COUNTER_KEY)
    return f"Banco PostgreSQL tem {accesses} registros. Redis conta {visits} visitas."


if __name__ == "__main__":
    with connect() as setup:
        setup.cursor().execute(
            "CREATE TABLE IF NOT EXISTS acessos "
            "(id SERIAL PRIMARY KEY, data TIMESTAMP DEFAULT NOW())"
        )
    processes = int(os.environ.get("EXERCISE_PROCESSES", "1"))
    app.run(
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        threaded=processes == 1,
        processes=processes,
    )
