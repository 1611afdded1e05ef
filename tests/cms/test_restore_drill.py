"""`make restore-drill` from a clean start: it makes a PostgreSQL database with
demo data, backs it and the files up, restores them into a fresh database and
folder, prints each figure side by side and passes; then a restored copy that no
longer matches the database makes it fail, naming the figures."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

pytestmark = pytest.mark.postgres

PROJECT = Path(__file__).resolve().parents[2]
SOURCE = "brightwell_data_drill"
RESTORED = f"{SOURCE}_restored"


def _server():
    config = settings.DATABASES["default"]
    return {"host": config.get("HOST") or None, "port": config.get("PORT") or None,
            "user": config.get("USER") or None, "password": config.get("PASSWORD") or None}


def _drop_databases():
    with psycopg.connect(dbname="postgres", autocommit=True, **_server()) as conn:
        for name in (SOURCE, RESTORED):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def drill_env(tmp_path):
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("the restore drill backs up PostgreSQL")
    server = _server()
    url = (f"postgres://{server['user'] or 'postgres'}{':' + server['password'] if server['password'] else ''}"
           f"@{server['host'] or '127.0.0.1'}:{server['port'] or 5432}/{SOURCE}")
    _drop_databases()
    env = {key: value for key, value in os.environ.items()
           if key not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "MAKEFLAGS", "MAKELEVEL")}
    env.update(RESTORE_DATABASE_URL=url, DEMO_SUPPORTERS="30", MEDIA_ROOT=str(tmp_path / "media"),
               PRIVATE_FILES_ROOT=str(tmp_path / "private"), LOCAL_STRIPE_ENV=str(tmp_path / "no-stripe.env"))
    # An imported file kept with the records: the private root is backed up too.
    (tmp_path / "private" / "imports").mkdir(parents=True)
    (tmp_path / "private" / "imports" / "supporters.csv").write_text("first_name,last_name\nAda,Lovelace\n")
    yield env, url
    _drop_databases()
    shutil.rmtree(Path(tempfile.gettempdir()) / f"brightwell-restore-drill-{SOURCE}", ignore_errors=True)


def test_the_drill_restores_a_backup_and_finds_every_figure_the_same_then_fails_on_a_difference(drill_env):
    env, url = drill_env
    # -o: the shared environment is installed already; the drill must not reinstall it.
    ran = subprocess.run(["make", "-o", ".venv/.installed", "restore-drill"], cwd=PROJECT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    output = ran.stdout
    assert f"Created the database {SOURCE}" in output and "Loading demo data (30 supporters)" in output
    assert any(line.split() == [SOURCE, RESTORED] for line in output.splitlines()), output
    lines = {line.split("  ")[0]: line for line in output.splitlines()}
    for label in ("supporters", "gifts succeeded", "Gift Aid claims accepted", "media files the database lists",
                  "private files on disk"):
        assert label in lines, output
    assert lines["supporters"].split()[1:] == ["30", "30"]
    assert lines["private files on disk"].count("1 files") == 2
    media = lines["media files the database lists"]
    assert "0 listed" not in media and media.count("present") == 2  # the demo's images, there on both sides
    assert "Restore drill passed" in output and "differs" not in output

    # The restored copy is kept; once the database moves on, the copy no longer matches.
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE donations_donation SET amount_pence = amount_pence + 1 "
                     "WHERE id = (SELECT min(id) FROM donations_donation WHERE status = 'succeeded')")
    compared = subprocess.run([sys.executable, "manage.py", "restore_drill", "--compare-only"], cwd=PROJECT,
                              env={**env, "DATABASE_URL": url}, capture_output=True, text=True, timeout=300)
    assert compared.returncode == 1, compared.stdout + compared.stderr
    differing = [line for line in compared.stdout.splitlines() if line.endswith("<-- differs")]
    assert differing and all(line.startswith("gifts") for line in differing), compared.stdout
    assert any(line.startswith("gifts succeeded") for line in differing)
    assert "differs in" in compared.stderr
