"""The restore drill: back up the PostgreSQL database (pg_dump, custom format)
and the two file roots (MEDIA_ROOT, PRIVATE_FILES_ROOT), restore them into a
fresh database and a fresh folder, and compare what the charity relies on in
each: gifts by status and by campaign, Gift Aid claims, supporters, and every
file the database lists. A backup is only proven by restoring it."""

import hashlib
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.apps import apps
from django.conf import settings
from django.db import connections, models
from django.db.models import Count, Sum

from donations.models import Donation, GiftAidClaim
from supporters.models import Supporter

RESTORED_ALIAS = "restored"


@dataclass(frozen=True)
class Database:
    """Where a PostgreSQL database is, as Django's settings name it."""
    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""

    @classmethod
    def from_settings(cls, config: dict) -> "Database":
        return cls(name=config["NAME"], host=config.get("HOST") or "", port=str(config.get("PORT") or ""),
                   user=config.get("USER") or "", password=config.get("PASSWORD") or "")

    def renamed(self, name: str) -> "Database":
        return Database(name=name, host=self.host, port=self.port, user=self.user, password=self.password)

    def client_args(self) -> list[str]:
        args = [f"--host={self.host}"] if self.host else []
        args += [f"--port={self.port}"] if self.port else []
        return args + ([f"--username={self.user}"] if self.user else [])

    def client_env(self) -> dict:
        return {**os.environ, **({"PGPASSWORD": self.password} if self.password else {})}

    def connect(self, name: str | None = None, **kwargs):
        return psycopg.connect(dbname=name or self.name, host=self.host or None, port=self.port or None,
                               user=self.user or None, password=self.password or None, **kwargs)


def default_database() -> Database:
    config = settings.DATABASES["default"]
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise RuntimeError("The restore drill needs PostgreSQL: set DATABASE_URL (or RESTORE_DATABASE_URL for make).")
    return Database.from_settings(config)


def database_ensure(database: Database) -> bool:
    """Create the database if the server lacks it; True if it was created."""
    with database.connect("postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database.name]).fetchone():
            return False
        conn.execute(f'CREATE DATABASE "{database.name}"')
        return True


def database_recreate(database: Database) -> None:
    with database.connect("postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database.name}"')


def file_roots() -> dict[str, Path]:
    return {"media": Path(settings.MEDIA_ROOT), "private": Path(settings.PRIVATE_FILES_ROOT)}


def backup_make(*, database: Database, into: Path) -> dict[str, Path]:
    """The database as pg_dump's custom format, and each file root as a tar file."""
    into.mkdir(parents=True, exist_ok=True)
    dump = into / "database.dump"
    subprocess.run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={dump}",
                    *database.client_args(), database.name], env=database.client_env(), check=True)
    made = {"database": dump}
    for key, root in file_roots().items():
        archive = into / f"{key}.tar"
        with tarfile.open(archive, "w") as tar:
            if root.is_dir():
                tar.add(root, arcname=".")
        made[key] = archive
    return made


def backup_restore(*, backup: dict[str, Path], database: Database, files_into: Path) -> dict[str, Path]:
    """A fresh database from the dump, and each file root unpacked into
    `files_into/<key>`; returns the restored roots."""
    database_recreate(database)
    subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", f"--dbname={database.name}",
                    *database.client_args(), str(backup["database"])], env=database.client_env(), check=True)
    shutil.rmtree(files_into, ignore_errors=True)
    roots = {}
    for key in file_roots():
        root = files_into / key
        root.mkdir(parents=True)
        with tarfile.open(backup[key]) as tar:
            tar.extractall(root, filter="data")
        roots[key] = root
    return roots


def restored_alias(database: Database) -> str:
    """A Django connection to the restored database, beside the default one."""
    config = dict(connections.settings["default"])
    config.update(NAME=database.name, HOST=database.host, PORT=database.port, USER=database.user,
                  PASSWORD=database.password, CONN_MAX_AGE=0)
    connections.settings[RESTORED_ALIAS] = config
    return RESTORED_ALIAS


def _pence(value) -> int:
    return int(value or 0)


def figures(*, using: str, roots: dict[str, Path]) -> dict[str, str]:
    """What must be the same after a restore, as label -> printable value."""
    found: dict[str, str] = {}
    gifts = Donation.objects.using(using)
    for row in gifts.values("status").annotate(n=Count("id"), pence=Sum("amount_pence")).order_by("status"):
        found[f"gifts {row['status']}"] = f"{row['n']} gifts, {_pence(row['pence'])}p"
    for row in (gifts.values("campaign__code").annotate(n=Count("id"), pence=Sum("amount_pence"))
                .order_by("campaign__code")):
        found[f"gifts to campaign {row['campaign__code'] or '(none)'}"] = f"{row['n']} gifts, {_pence(row['pence'])}p"
    claims = GiftAidClaim.objects.using(using)
    for row in (claims.values("status").annotate(n=Count("id"), gifts=Sum("gift_count"), pence=Sum("gifts_pence"),
                                                 tax=Sum("tax_pence")).order_by("status")):
        found[f"Gift Aid claims {row['status']}"] = (f"{row['n']} claims, {_pence(row['gifts'])} gifts, "
                                                     f"{_pence(row['pence'])}p given, {_pence(row['tax'])}p tax")
    found["supporters"] = str(Supporter.objects.using(using).count())
    for key, root in roots.items():
        listed = sorted(_listed_files(using=using, key=key))
        present = [name for name in listed if (root / name).is_file()]
        found[f"{key} files the database lists"] = f"{len(listed)} listed, {len(present)} present"
        found[f"{key} files' contents"] = _digest(root, present)
        on_disk = sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())
        found[f"{key} files on disk"] = f"{len(on_disk)} files, {_digest(root, on_disk)}"
    return found


def _listed_files(*, using: str, key: str) -> Iterator[str]:
    """Every file name the database's file and image fields hold under one root."""
    root = os.path.realpath(file_roots()[key])
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        for field in model._meta.concrete_fields:
            if not isinstance(field, models.FileField):
                continue
            if os.path.realpath(getattr(field.storage, "location", "")) != root:
                continue
            names = model._base_manager.using(using).exclude(**{field.attname: ""}).values_list(field.attname,
                                                                                               flat=True)
            yield from (name for name in names.iterator() if name)


def _digest(root: Path, names: list[str]) -> str:
    digest = hashlib.sha256()
    for name in names:
        digest.update(name.encode() + b"\0")
        with open(root / name, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return "sha256 " + digest.hexdigest()[:16]


def differences(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return [label for label in sorted(before.keys() | after.keys()) if before.get(label) != after.get(label)]
