"""Starts a real `gatehouse serve` per test module, on SQLite and on PostgreSQL.

The binary comes from $GATEHOUSE_BIN (scripts/test builds it). PostgreSQL runs need
$GATEHOUSE_TEST_POSTGRES_URL; each gets a fresh database that is dropped afterwards.
"""

import os
import secrets
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import pytest

ADMIN_ID = "sdk-admin"
ADMIN_SECRET = "sdk-admin-secret-" + secrets.token_hex(8)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _psql(url: str, sql: str) -> None:
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, capture_output=True)


class Gatehouse:
    def __init__(self, backend: str):
        self.backend = backend
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.issuer = self.base + "/"
        self.tmp = tempfile.TemporaryDirectory(prefix="gh-sdk-")
        self.pg_admin_url = None
        self.db_name = None
        if backend == "sqlite":
            self.database_url = f"sqlite://{self.tmp.name}/gatehouse.db"
        else:
            admin = os.environ["GATEHOUSE_TEST_POSTGRES_URL"]
            self.db_name = "gh_sdk_" + secrets.token_hex(6)
            _psql(admin, f'CREATE DATABASE "{self.db_name}"')
            self.pg_admin_url = admin
            parts = urllib.parse.urlsplit(admin)
            self.database_url = urllib.parse.urlunsplit(parts._replace(path="/" + self.db_name))
        env = dict(os.environ)
        env.update(
            GATEHOUSE_LISTEN=f"127.0.0.1:{self.port}",
            GATEHOUSE_ISSUER=self.issuer,
            GATEHOUSE_DATABASE_URL=self.database_url,
            GATEHOUSE_ADMIN_CLIENT_ID=ADMIN_ID,
            GATEHOUSE_ADMIN_CLIENT_SECRET=ADMIN_SECRET,
            GATEHOUSE_HASH__ARGON2_MEMORY_KIB="1024",
            GATEHOUSE_HASH__ARGON2_ITERATIONS="1",
        )
        self.log = open(os.path.join(self.tmp.name, "server.log"), "w+")
        self.proc = subprocess.Popen(
            [os.environ["GATEHOUSE_BIN"], "serve"], env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.tmp.name
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise RuntimeError("gatehouse did not start:\n" + self.log.read())
            time.sleep(0.1)

    def server_log(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            code = self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        assert code == 0, "graceful shutdown exits 0:\n" + self.server_log()
        if self.db_name:
            _psql(self.pg_admin_url, f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')
        self.log.close()
        self.tmp.cleanup()


def _backends():
    yield "sqlite"
    if os.environ.get("GATEHOUSE_TEST_POSTGRES_URL"):
        yield "postgres"


@pytest.fixture(scope="module", params=list(_backends()))
def gatehouse(request):
    g = Gatehouse(request.param)
    yield g
    g.stop()


@pytest.fixture(scope="module")
def mgmt(gatehouse):
    """Auth0's Management API client, with a token from Auth0's GetToken."""
    from auth0.authentication import GetToken
    from auth0.management import Auth0

    host = gatehouse.base.removeprefix("http://")
    token = GetToken(host, ADMIN_ID, ADMIN_SECRET, protocol="http").client_credentials(gatehouse.issuer + "api/v2/")
    assert token["token_type"] == "Bearer"
    return Auth0(base_url=gatehouse.base + "/api/v2", token=token["access_token"], max_retries=0)
