"""docker/compose.yaml, read as compose reads it: every SEMSEARCH_* variable a service sets is a real
setting, every store URL names a service of the same profile, and the postgres profile has what
docs/postgres.md describes (a primary, a hot standby, two API replicas reading it, a Ray head and its
indexer). No container engine runs here, so this is what can be checked without one."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from app.settings import ENV_PREFIX, Settings

COMPOSE = Path(__file__).resolve().parents[2] / "docker" / "compose.yaml"


def _services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_every_semsearch_variable_is_a_setting():
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    for name, service in _services().items():
        for var in (service.get("environment") or {}):
            if var.startswith(ENV_PREFIX):
                assert var in known, f"{name}: {var} is not a setting"


def test_store_urls_name_services_of_the_same_profile():
    services = _services()
    for name, service in services.items():
        env = service.get("environment") or {}
        profiles = set(service.get("profiles") or [])
        for var in ("SEMSEARCH_POSTGRES_URL", "SEMSEARCH_POSTGRES_READ_URLS", "SEMSEARCH_QDRANT_URL"):
            if var in env:
                host = re.search(r"(?:@|//)([a-z0-9-]+):\d+", env[var]).group(1)
                assert host in services and profiles <= set(services[host].get("profiles") or []), (name, var)


def test_the_postgres_profile_has_a_primary_a_standby_two_replicas_and_ray():
    services = _services()
    in_profile = {n for n, s in services.items() if "postgres" in (s.get("profiles") or [])}
    assert {"pg-primary", "pg-standby", "replica-pg-a", "replica-pg-b", "ray-head", "indexer-pg"} <= in_profile
    standby = " ".join(services["pg-standby"]["command"])
    assert "pg_basebackup" in standby and " -R " in standby
    for replica in ("replica-pg-a", "replica-pg-b"):
        env = services[replica]["environment"]
        assert env["SEMSEARCH_STORE"] == "postgres" and "pg-standby" in env["SEMSEARCH_POSTGRES_READ_URLS"]
    init = services["pg-primary"]["volumes"][1].split(":")[0]
    assert (COMPOSE.parent / init).is_file()
