"""Fixtures of the client's tests: the live service and database that
test/python (a Go test, run by `make test`) starts, and psql for checks.

The tests need the LOADSVC_TEST_* variables that harness sets; without them
they fail, never skip.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Optional

import pytest

import loadsvc


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"{name} is not set: run these tests through test/python "
            "(go test ./test/python/ or make test), which starts loadsvc and PostgreSQL"
        )
    return value


class Database:
    """The test database, through psql."""

    NULL = "\x02NULL\x03"

    def __init__(self, url: str, psql: str) -> None:
        self.url = url
        self.psql = psql

    def run(self, sql: str) -> None:
        """Run SQL (one or more statements), failing on an error."""
        self._psql("-c", sql)

    def run_file(self, path: str) -> str:
        """Run a script with psql -f, as a person would; its output."""
        return self._psql("-f", path)

    def rows(self, sql: str) -> list[tuple[Optional[str], ...]]:
        """The rows of a query, each value as PostgreSQL's text (None for
        NULL)."""
        out = self._psql("-A", "-t", "-F", "\x1f", "-R", "\x1e", "-P", f"null={self.NULL}", "-c", sql)
        out = out.rstrip("\n")
        if not out:
            return []
        return [
            tuple(None if v == self.NULL else v for v in rec.split("\x1f"))
            for rec in out.split("\x1e")
        ]

    def scalar(self, sql: str) -> Optional[str]:
        (row,) = self.rows(sql)
        return row[0]

    def _psql(self, *args: str) -> str:
        proc = subprocess.run(
            [self.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url, *args],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise AssertionError(f"psql {args}: exit {proc.returncode}\n{proc.stderr}")
        return proc.stdout


class Control:
    """Stops and starts the database under the service (the Go harness)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def stop_db(self) -> None:
        self._post("/db/stop")

    def start_db(self) -> None:
        self._post("/db/start")

    def _post(self, path: str) -> None:
        req = urllib.request.Request(self.url + path, method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=120) as resp:
            assert resp.status == 200, resp.read()


@pytest.fixture(scope="session")
def target() -> str:
    return _env("LOADSVC_TEST_TARGET")


@pytest.fixture(scope="session")
def token() -> str:
    return _env("LOADSVC_TEST_TOKEN")


@pytest.fixture(scope="session")
def db() -> Database:
    return Database(_env("LOADSVC_TEST_DATABASE_URL"), _env("LOADSVC_TEST_PSQL"))


@pytest.fixture(scope="session")
def control() -> Iterator[Control]:
    c = Control(_env("LOADSVC_TEST_CONTROL"))
    yield c
    c.start_db()


@pytest.fixture(scope="session")
def tls() -> dict[str, str]:
    """The Client arguments of the service's mTLS: the CA, a client
    certificate and its key (paths)."""
    return {
        "root_certificates": _env("LOADSVC_TEST_CA"),
        "certificate_chain": _env("LOADSVC_TEST_CLIENT_CERT"),
        "private_key": _env("LOADSVC_TEST_CLIENT_KEY"),
    }


@pytest.fixture
def connect(target: str, token: str, tls: dict[str, str]) -> Iterator[Callable[..., loadsvc.Client]]:
    """Clients of the service (mTLS, the token, a 120s timeout), closed after
    the test; keyword arguments override Client's."""
    made: list[loadsvc.Client] = []

    def make(**overrides: Any) -> loadsvc.Client:
        c = loadsvc.Client(target, **{"token": token, "timeout": 120, **tls, **overrides})
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def client(connect: Callable[..., loadsvc.Client]) -> loadsvc.Client:
    return connect()


@pytest.fixture
def table() -> str:
    """A table name of the test's own."""
    return "t_" + uuid.uuid4().hex[:12]
