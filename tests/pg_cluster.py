"""A throwaway PostgreSQL server for the team store tests: initdb in a temp dir, loopback only, a free port,
trust auth, torn down after. A real server (Debian's `postgresql` package), no mock.

    with pg_cluster() as pg:
        pg.createdb("traces")  # -> 'dbname=traces host=127.0.0.1 port=54321 user=postgres'

initdb and postgres refuse to run as root (CI containers): every server command then runs as the `postgres`
system user (made by the Debian package) through runuser, in a temp dir of its own chowned to it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def find_bindir() -> Path | None:
    """Debian puts the server binaries in /usr/lib/postgresql/NN/bin (not on PATH): the newest, else PATH."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_owner() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _chown_to_owner(path: Path) -> None:
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(path, owner.pw_uid, owner.pw_gid)


@dataclass
class PgCluster:
    bindir: Path
    root: Path
    port: int
    user: str = "postgres"
    host: str = "127.0.0.1"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def dsn(self, dbname: str = "postgres") -> str:
        return f"dbname={dbname} host={self.host} port={self.port} user={self.user}"

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*_as_owner(), str(self.bindir / tool), *args],
                              check=True, capture_output=True, text=True, cwd=self.root)

    def createdb(self, name: str) -> str:
        self.run("createdb", "-h", self.host, "-p", str(self.port), "-U", self.user, name)
        return self.dsn(name)


@contextmanager
def pg_cluster(settings: Sequence[str] = ("fsync=off", "max_connections=200")) -> Iterator[PgCluster]:
    """A fresh cluster (`settings`: -c server options); stopped and deleted after."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="agenttrace-pg-"))  # its own dir: initdb wants 0700, owned by postgres
    _chown_to_owner(root)
    cluster = PgCluster(bindir, root, free_port())
    started = False
    try:
        cluster.run("initdb", "-D", str(cluster.data), "-U", cluster.user, "-A", "trust", "-E", "UTF8",
                    "--locale=C", "--no-sync", "--no-instructions")
        sockets = root / "sock"
        sockets.mkdir()
        _chown_to_owner(sockets)
        options = " ".join([f"-p {cluster.port}", f"-k {sockets}", "-c listen_addresses=127.0.0.1",
                            *(f"-c {s}" for s in settings)])
        cluster.run("pg_ctl", "-D", str(cluster.data), "-o", options, "-l", str(root / "server.log"),
                    "-w", "-t", "60", "start")
        started = True
        yield cluster
    finally:
        if started:
            subprocess.run([*_as_owner(), str(bindir / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate",
                            "-w", "stop"], capture_output=True, text=True, cwd=root)
        shutil.rmtree(root, ignore_errors=True)
