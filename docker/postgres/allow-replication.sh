#!/bin/sh
# Run once by the pgvector/postgres image when it initializes the primary's data folder (compose profile
# postgres): lets the standby connect for streaming replication as $POSTGRES_USER with its password.
set -e
echo "host replication $POSTGRES_USER all scram-sha-256" >> "$PGDATA/pg_hba.conf"
