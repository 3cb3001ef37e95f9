-- One page view as PostgreSQL sees it, for pgbench (python -m bench.headroom): the
-- one statement visits/access_queries.py (store_access) sends per page, in autocommit, with
-- the statement-level triggers of migrations 0002 and 0003 firing on it.
INSERT INTO visits_access (client_address, user_agent) VALUES ('127.0.0.1', 'pgbench (bench.headroom)') RETURNING (SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) FROM visits_accesscount) + 1;
