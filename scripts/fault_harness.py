"""The fault harness's driver (run by scripts/fault-harness, which creates the database,
picks the ports and starts haproxy): starts the Redis and the `gatehouse serve` nodes,
drives mixed traffic through haproxy while it injects faults at fixed points of the run,
then checks the store and prints the report (markdown), also written to --report.

Traffic: CONCURRENCY workers, one kind each in turn: sign-ups (POST /dbconnections/signup),
password-realm logins, refresh-token rotations, Management API reads (GET
/api/v2/users?q=email:"…") and writes (PATCH /api/v2/users/{id} user_metadata); one users
import job (POST /api/v2/jobs/users-imports) posted just before the node kill and polled
until it ends. Faults, at fractions of the duration: kill -9 a node (the one running the
import while it runs) and restart it 5 s later; pg_terminate_backend on every connection
to the database; SIGSTOP Redis for 5 s; kill -9 Redis and restart it on its port 5 s later.

Exit status: 0, or 1 when a user was lost or duplicated or the import did not end
`completed` with every user inserted once.

Standard library and httpx only (the venv at ~/.cache/gatehouse-venv).
"""

import argparse
import asyncio
import base64
import collections
import datetime
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import httpx

CONNECTION = "Username-Password-Authentication"
PASSWORD_REALM = "http://auth0.com/oauth/grant-type/password-realm"
ADMIN_ID = "fault-harness-admin"
KINDS = ["signup", "login", "refresh", "mgmt_read", "mgmt_write"]
KIND_LABELS = {
    "signup": "sign-up (`POST /dbconnections/signup`)",
    "login": "login (password-realm grant)",
    "refresh": "refresh (`refresh_token` grant, rotated)",
    "mgmt_read": "Management API read (`GET /api/v2/users?q=`)",
    "mgmt_write": "Management API write (`PATCH /api/v2/users/{id}`)",
    "job_upload": "import upload (`POST /api/v2/jobs/users-imports`)",
    "job_poll": "import poll (`GET /api/v2/jobs/{id}`)",
    "admin_token": "Management API token (`client_credentials`)",
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", required=True, help="scratch folder: node data, logs, pid files")
    p.add_argument("--bin", required=True, help="the gatehouse binary")
    p.add_argument("--db-url", required=True, help="the harness's database")
    p.add_argument("--db-name", required=True)
    p.add_argument("--pg-admin-url", required=True, help="a database on the same server, for pg_terminate_backend")
    p.add_argument("--node-ports", required=True, help="comma-separated")
    p.add_argument("--lb-port", type=int, required=True)
    p.add_argument("--redis-port", type=int, required=True)
    p.add_argument("--duration", type=float, default=60)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--import-users", type=int, default=20000)
    p.add_argument("--redis-failure-mode", default="open")
    p.add_argument("--report", required=True)
    p.add_argument("--haproxy-log", default="")
    return p.parse_args()


A = args()
RUN = f"{random.getrandbits(32):08x}"
ADMIN_SECRET = f"fault-harness-{random.getrandbits(128):032x}"
SECRETS_KEY = f"fh-{RUN}:{base64.b64encode(os.urandom(32)).decode()}"
PASSWORD = f"Fault-Harness-Horse-{RUN}-9!"
ISSUER = f"http://127.0.0.1:{A.lb_port}/"
T0 = time.monotonic()
WALL0 = time.time()
os.makedirs(os.path.join(A.work, "pids"), exist_ok=True)


def now():
    return time.monotonic() - T0


def say(msg):
    print(f"[{now():7.2f} s] {msg}", file=sys.stderr, flush=True)


# --- processes: Redis and the nodes ------------------------------------------------------


class Proc:
    """A child process of the harness, its pid in <work>/pids/<name>.pid for the cleanup
    of scripts/fault-harness, its output appended to <work>/<name>.log across restarts."""

    def __init__(self, name, argv, env=None, cwd=None):
        self.name, self.argv, self.env, self.cwd = name, argv, env, cwd
        self.log = os.path.join(A.work, f"{name}.log")
        self.popen = None
        self.starts = 0

    def start(self):
        self.starts += 1
        with open(self.log, "ab") as f:
            f.write(f"=== fault harness: start {self.starts} at +{now():.2f} s ===\n".encode())
        out = open(self.log, "ab")
        self.popen = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
        out.close()
        with open(os.path.join(A.work, "pids", f"{self.name}.pid"), "w") as f:
            f.write(f"{self.popen.pid}\n")

    def signal(self, sig):
        if self.popen and self.popen.poll() is None:
            os.kill(self.popen.pid, sig)

    async def wait_exit(self, timeout=30):
        for _ in range(int(timeout * 20)):
            if self.popen.poll() is not None:
                return self.popen.returncode
            await asyncio.sleep(0.05)
        return None

    def alive(self):
        return self.popen is not None and self.popen.poll() is None


redis = Proc("redis", ["redis-server", "--port", str(A.redis_port), "--bind", "127.0.0.1", "--save", "",
                       "--appendonly", "no", "--daemonize", "no"], cwd=A.work)

NODE_PORTS = [int(p) for p in A.node_ports.split(",")]
nodes = []
for i, port in enumerate(NODE_PORTS, 1):
    home = os.path.join(A.work, f"node-{i}")
    os.makedirs(home, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "GATEHOUSE_DATABASE_URL": A.db_url,
        "GATEHOUSE_LISTEN": f"127.0.0.1:{port}",
        "GATEHOUSE_ISSUER": ISSUER,
        "GATEHOUSE_ADMIN_CLIENT_ID": ADMIN_ID,
        "GATEHOUSE_ADMIN_CLIENT_SECRET": ADMIN_SECRET,
        "GATEHOUSE_SECRETS__KEYS": SECRETS_KEY,
        # No shared disk: job files travel through the database (the default on PostgreSQL).
        "GATEHOUSE_DATA_DIR": os.path.join(home, "data"),
        "GATEHOUSE_RATE_LIMITS__REDIS_URL": f"redis://127.0.0.1:{A.redis_port}",
        "GATEHOUSE_RATE_LIMITS__REDIS_PREFIX": f"gh_faults_{RUN}",
        "GATEHOUSE_RATE_LIMITS__REDIS_FAILURE_MODE": A.redis_failure_mode,
        # Every request comes from haproxy's one address with one admin token.
        "GATEHOUSE_RATE_LIMITS__AUTHENTICATION_PER_IP_PER_MINUTE": "1000000000",
        "GATEHOUSE_RATE_LIMITS__MANAGEMENT_PER_TOKEN_PER_MINUTE": "1000000000",
        # Which node starts, resumes or takes over the job is read from its log.
        "GATEHOUSE_LOG": "warn,gatehouse_services::jobs=info",
    }
    nodes.append(Proc(f"node-{i}", [A.bin, "serve"], env=env, cwd=home))


async def wait_ready(node, http, timeout=60):
    """Polls the node's own /readyz (not through haproxy) until 200; returns the time."""
    port = int(node.env["GATEHOUSE_LISTEN"].rsplit(":", 1)[1])
    deadline = now() + timeout
    while now() < deadline:
        if not node.alive():
            raise SystemExit(f"{node.name} exited with {node.popen.returncode}; its log: {node.log}")
        try:
            r = await http.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
            if r.status_code == 200:
                return now()
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit(f"{node.name} not ready after {timeout} s; its log: {node.log}")


# --- requests and what they gave ---------------------------------------------------------


class Stats:
    def __init__(self):
        self.events = []  # (kind, start, end, ok, label)
        self.samples = {}  # (kind, label) -> the first answer's body, as evidence

    def add(self, kind, start, end, ok, label, sample=""):
        self.events.append((kind, start, end, ok, label))
        if not ok and (kind, label) not in self.samples:
            self.samples[(kind, label)] = (round(start, 2), sample)


stats = Stats()
running = True


def classify(r):
    """`<status> <Auth0 error code>`, and the Retry-After a 503 carries; haproxy's own
    answers (no node could take the request) say so."""
    text = r.text
    if text.startswith("<html><body><h1>"):
        label = f"{r.status_code} from haproxy"
    else:
        try:
            body = r.json()
        except ValueError:
            body = None
        code = None
        if isinstance(body, dict):
            code = body.get("code") or body.get("errorCode") or body.get("error")
        label = f"{r.status_code} {code}" if code else f"{r.status_code}"
    if "retry-after" in r.headers:
        label += f" (Retry-After: {r.headers['retry-after']})"
    return label


async def call(http, kind, method, path, ok=(200,), check=None, relabel=None, **kw):
    """One request through haproxy, recorded under `kind`. `check(response)` may turn an
    answer with an expected status into an error label. Returns the response, or None
    when none came (the exception's class is the error's label)."""
    start = now()
    try:
        r = await http.request(method, path, **kw)
    except httpx.HTTPError as e:
        label = type(e).__name__
        stats.add(kind, start, now(), False, relabel(label) if relabel else label, repr(e)[:300])
        return None
    end = now()
    if r.status_code in ok:
        bad = check(r) if check else None
        if bad is None:
            stats.add(kind, start, end, True, str(r.status_code))
            return r
        stats.add(kind, start, end, False, bad, r.text[:300])
        return r
    label = classify(r)
    stats.add(kind, start, end, False, relabel(label) if relabel else label, r.text[:300])
    return r


class World:
    """What the workers share: the application, the admin token, the users signed up."""

    def __init__(self):
        self.app_id = self.app_secret = self.connection_id = self.admin = None
        self.answered = []  # emails whose sign-up was answered 200
        self.unanswered = []  # emails whose sign-up got no 200 (error or no answer)
        self.user_ids = []
        self.seq = 0

    def email(self):
        self.seq += 1
        return f"su-{RUN}-{self.seq}@faults.test"

    def admin_headers(self):
        return {"authorization": f"Bearer {self.admin}"}


W = World()


async def admin_token(http):
    for _ in range(50):
        r = await call(http, "admin_token", "POST", "/oauth/token", data={
            "grant_type": "client_credentials", "client_id": ADMIN_ID, "client_secret": ADMIN_SECRET,
            "audience": f"{ISSUER}api/v2/"})
        if r is not None and r.status_code == 200:
            W.admin = r.json()["access_token"]
            return
        await asyncio.sleep(0.2)
    raise SystemExit("no Management API token")


async def setup(http):
    await admin_token(http)
    h = W.admin_headers()
    r = await http.get("/api/v2/connections", params={"name": CONNECTION}, headers=h)
    r.raise_for_status()
    W.connection_id = r.json()[0]["id"]
    r = await http.post("/api/v2/clients", headers=h, json={
        "name": f"fault harness {RUN}", "app_type": "regular_web", "token_endpoint_auth_method": "client_secret_post",
        "grant_types": [PASSWORD_REALM, "refresh_token"]})
    if r.status_code != 201:
        raise SystemExit(f"creating the client: {r.status_code} {r.text}")
    W.app_id, W.app_secret = r.json()["client_id"], r.json()["client_secret"]
    r = await http.patch(f"/api/v2/connections/{W.connection_id}", headers=h, json={"enabled_clients": [W.app_id]})
    if r.status_code != 200:
        raise SystemExit(f"enabling the client: {r.status_code} {r.text}")
    # One client address makes every sign-up and login: suspicious-IP throttling still
    # counts them (in Redis) but with budgets no run reaches. Passwords are always right,
    # so brute-force protection never counts a failure.
    stage = {"max_attempts": 1000000, "rate": 1}
    r = await http.patch("/api/v2/attack-protection/suspicious-ip-throttling", headers=h,
                         json={"stage": {"pre-login": stage, "pre-user-registration": stage}})
    if r.status_code != 200:
        raise SystemExit(f"suspicious-IP throttling: {r.status_code} {r.text}")
    # Nodes read client and connection changes within 1 s (their configuration cache).
    await asyncio.sleep(1.5)
    # A few users to log in as before the first sign-ups are answered (checked like the rest).
    for _ in range(4):
        email = W.email()
        r = await http.post("/dbconnections/signup", json={
            "client_id": W.app_id, "connection": CONNECTION, "email": email, "password": PASSWORD})
        if r.status_code != 200:
            raise SystemExit(f"seed sign-up: {r.status_code} {r.text}")
        W.answered.append(email)
        W.user_ids.append("auth0|" + r.json()["_id"])


def login_form(email):
    return {"grant_type": PASSWORD_REALM, "realm": CONNECTION, "client_id": W.app_id, "client_secret": W.app_secret,
            "username": email, "password": PASSWORD, "scope": "openid offline_access"}


async def signup_worker(http):
    while running:
        email = W.email()
        r = await call(http, "signup", "POST", "/dbconnections/signup", json={
            "client_id": W.app_id, "connection": CONNECTION, "email": email, "password": PASSWORD})
        if r is not None and r.status_code == 200:
            W.answered.append(email)
            W.user_ids.append("auth0|" + r.json()["_id"])
        else:
            W.unanswered.append(email)
            await asyncio.sleep(0.05)


async def login_worker(http):
    while running:
        r = await call(http, "login", "POST", "/oauth/token", data=login_form(random.choice(W.answered)))
        if r is None or r.status_code != 200:
            await asyncio.sleep(0.05)


async def refresh_worker(http):
    token, unanswered = None, False
    while running:
        if token is None:
            r = await call(http, "login", "POST", "/oauth/token", data=login_form(random.choice(W.answered)))
            if r is not None and r.status_code == 200:
                token, unanswered = r.json()["refresh_token"], False
            else:
                await asyncio.sleep(0.05)
            continue
        was_unanswered = unanswered

        def relabel(label, was=was_unanswered):
            if was and label.startswith(("401", "403")):
                return f"{label} (the token sent again after an unanswered rotation)"
            return label

        r = await call(http, "refresh", "POST", "/oauth/token", relabel=relabel, data={
            "grant_type": "refresh_token", "client_id": W.app_id, "client_secret": W.app_secret,
            "refresh_token": token})
        if r is not None and r.status_code == 200:
            token, unanswered = r.json()["refresh_token"], False
        elif r is None or r.status_code in (500, 502, 504):
            # Rotated or not, nobody knows: the same token again (a reuse if it had been).
            unanswered = True
            await asyncio.sleep(0.05)
        elif r.status_code in (401, 403):
            token = None  # the family is gone: log in again
        else:
            await asyncio.sleep(0.05)


async def mgmt_read_worker(http):
    while running:
        email = random.choice(W.answered)

        def check(r, email=email):
            found = [u for u in r.json() if u.get("email") == email]
            return None if len(found) == 1 else f"200 but {len(found)} users found"

        r = await call(http, "mgmt_read", "GET", "/api/v2/users", check=check, headers=W.admin_headers(),
                       params={"q": f'email:"{email}"', "search_engine": "v3"})
        if r is not None and r.status_code == 401:
            await admin_token(http)
        elif r is None or r.status_code != 200:
            await asyncio.sleep(0.05)


async def mgmt_write_worker(http):
    n = 0
    while running:
        n += 1
        user_id = random.choice(W.user_ids)
        r = await call(http, "mgmt_write", "PATCH", f"/api/v2/users/{user_id}", headers=W.admin_headers(),
                       json={"user_metadata": {"fault_harness": n}})
        if r is not None and r.status_code == 401:
            await admin_token(http)
        elif r is None or r.status_code != 200:
            await asyncio.sleep(0.05)


WORKERS = {"signup": signup_worker, "login": login_worker, "refresh": refresh_worker,
           "mgmt_read": mgmt_read_worker, "mgmt_write": mgmt_write_worker}


# --- the import job ----------------------------------------------------------------------


JOB = {"id": None, "posted": None, "accepted": None, "ended": None, "status": None, "final": None, "polls": 0}


def import_file():
    users = [{"email": f"imp-{RUN}-{i}@faults.test"} for i in range(A.import_users)]
    return json.dumps(users).encode()


async def import_job(http, at, data):
    await asyncio.sleep(max(0.0, at - now()))
    for attempt in range(3):
        JOB["posted"] = now()
        r = await call(http, "job_upload", "POST", "/api/v2/jobs/users-imports", ok=(201, 202),
                       headers=W.admin_headers(),
                       data={"connection_id": W.connection_id, "send_completion_email": "false"},
                       files={"users": ("users.json", data, "application/json")})
        if r is not None and r.status_code in (201, 202):
            JOB["id"], JOB["accepted"] = r.json()["id"], now()
            break
        say(f"import upload failed (attempt {attempt + 1}); trying again in 2 s")
        await asyncio.sleep(2)
    else:
        return
    say(f"import job {JOB['id']} accepted ({A.import_users} users, {len(data)} bytes)")
    deadline = A.duration + 300
    while now() < deadline:
        JOB["polls"] += 1
        r = await call(http, "job_poll", "GET", f"/api/v2/jobs/{JOB['id']}", headers=W.admin_headers())
        if r is not None and r.status_code == 200:
            job = r.json()
            if job.get("status") != JOB["status"]:
                say(f"import job {job.get('status')}")
            JOB["status"] = job.get("status")
            if JOB["status"] in ("completed", "failed"):
                JOB["ended"], JOB["final"] = now(), job
                return
        elif r is not None and r.status_code == 401:
            await admin_token(http)
        await asyncio.sleep(0.5)


def job_runner():
    """The live node whose log, since its last start, says it started the job and has not
    said it finished it (None when none does)."""
    if not JOB["id"]:
        return None
    for node in nodes:
        if not node.alive():
            continue
        try:
            with open(node.log, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        lines = [l for l in text[text.rfind("=== fault harness: start"):].splitlines() if JOB["id"] in l]
        started = [i for i, l in enumerate(lines) if "job started" in l]
        if started and not any("job finished" in l for l in lines[started[-1]:]):
            return node
    return None


# --- faults ------------------------------------------------------------------------------


FAULTS = []  # dicts: name, at (when injected), notes, undone_at (when the harness undid it)


async def fault_kill_node(http, f):
    # The import was posted a second before: give it up to 5 s more to start on a node, so
    # that the kill lands mid-job (the fault's time is when the kill happens).
    deadline = now() + 5
    while JOB["status"] not in ("completed", "failed") and job_runner() is None and now() < deadline:
        await asyncio.sleep(0.05)
    f["at"] = now()
    victim = job_runner() if JOB["status"] not in ("completed", "failed") else None
    f["notes"].append("the node running the import" if victim else "no import running: the first node")
    victim = victim or nodes[0]
    victim.signal(signal.SIGKILL)
    await victim.wait_exit()
    f["name"] = f"kill -9 {victim.name}"
    say(f"killed {victim.name} (kill -9); restart in 5 s")
    await asyncio.sleep(5)
    victim.start()
    ready = await wait_ready(victim, http)
    f["undone_at"] = ready
    f["notes"].append(f"restarted at +{f['at'] + 5:.1f} s, ready after {ready - f['at'] - 5:.1f} s")
    say(f"{victim.name} ready again")


async def fault_pg_terminate(http, f):
    sql = (f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
           f"WHERE datname = '{A.db_name}' AND pid <> pg_backend_pid()")
    proc = await asyncio.create_subprocess_exec("psql", "-XAtq", A.pg_admin_url, "-c", sql,
                                                stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    f["notes"].append(f"{out.decode().strip()} connections terminated")
    say(f"terminated {out.decode().strip()} database connections")


async def fault_redis_pause(http, f):
    redis.signal(signal.SIGSTOP)
    say("Redis stopped (SIGSTOP)")
    await asyncio.sleep(5)
    redis.signal(signal.SIGCONT)
    f["undone_at"] = now()
    f["notes"].append("SIGCONT after 5 s")
    say("Redis continued (SIGCONT)")


async def fault_redis_kill(http, f):
    redis.signal(signal.SIGKILL)
    await redis.wait_exit()
    say("Redis killed (kill -9); restart in 5 s")
    await asyncio.sleep(5)
    redis.start()
    f["undone_at"] = now()
    f["notes"].append("restarted on the same port (empty) after 5 s")
    say("Redis restarted")


SCHEDULE = [
    (0.20, "kill -9 a node, restarted 5 s later", fault_kill_node),
    (0.40, "pg_terminate_backend on every connection of the database", fault_pg_terminate),
    (0.55, "SIGSTOP Redis for 5 s", fault_redis_pause),
    (0.75, "kill -9 Redis, restarted 5 s later", fault_redis_kill),
]


async def faults(http):
    for fraction, name, fn in SCHEDULE:
        at = fraction * A.duration
        await asyncio.sleep(max(0.0, at - now()))
        f = {"name": name, "at": now(), "notes": [], "undone_at": None}
        FAULTS.append(f)
        await fn(http, f)


# --- after the run: the store, the logs, the report --------------------------------------


async def psql(sql):
    proc = await asyncio.create_subprocess_exec("psql", "-XAtq", "-v", "ON_ERROR_STOP=1", A.db_url, "-f", "-",
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate(sql.encode())
    if proc.returncode != 0:
        raise SystemExit(f"psql failed ({proc.returncode})")
    return out.decode()


async def store_checks():
    answered = os.path.join(A.work, "answered.txt")
    unanswered = os.path.join(A.work, "unanswered.txt")
    with open(answered, "w") as f:
        f.writelines(e + "\n" for e in W.answered)
    with open(unanswered, "w") as f:
        f.writelines(e + "\n" for e in W.unanswered)
    out = await psql(f"""
CREATE TEMP TABLE answered (email text);
CREATE TEMP TABLE unanswered (email text);
\\copy answered FROM '{answered}'
\\copy unanswered FROM '{unanswered}'
SELECT
  (SELECT count(*) FROM answered a WHERE NOT EXISTS (SELECT 1 FROM users u WHERE lower(u.email) = a.email)),
  (SELECT count(*) FROM (SELECT lower(email) FROM users WHERE email IS NOT NULL GROUP BY lower(email)
     HAVING count(*) > 1) d),
  (SELECT count(*) FROM unanswered a WHERE EXISTS (SELECT 1 FROM users u WHERE lower(u.email) = a.email)),
  (SELECT count(*) FROM users WHERE email LIKE 'imp-{RUN}-%'),
  (SELECT count(DISTINCT email) FROM users WHERE email LIKE 'imp-{RUN}-%'),
  (SELECT count(*) FROM users);
""")
    lost, dup, made_anyway, imported, imported_distinct, total = (int(x) for x in out.strip().split("|"))
    return {"lost": lost, "duplicated": dup, "made_anyway": made_anyway, "imported": imported,
            "imported_distinct": imported_distinct, "total": total}


LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z?\s+(TRACE|DEBUG|INFO|WARN|ERROR)\s+(.*)$")


def log_rel(stamp):
    try:
        t = datetime.datetime.fromisoformat(stamp).replace(tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None
    return t - WALL0


def read_logs():
    """Every WARN/ERROR line of the nodes, grouped by message (numbers and ids blanked);
    the job's lines in order."""
    groups = collections.OrderedDict()
    job_lines = []
    for node in nodes:
        try:
            with open(node.log, errors="replace") as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for raw in lines:
            line = ANSI.sub("", raw)
            m = LOG_TIME.match(line)
            if not m:
                # Untimed lines: the start's notices, or a panic's message.
                if not re.search(r"panic|error|fatal", line, re.I):
                    continue
                level, rest, rel = "OTHER", line, None
            else:
                level, rest, rel = m.group(2), m.group(3), log_rel(m.group(1))
            if JOB["id"] and JOB["id"] in rest:
                job_lines.append((rel, node.name, rest))
            if level in ("WARN", "ERROR", "OTHER"):
                key = re.sub(r"[0-9a-f]{8,}|\d+(\.\d+)?", "#", f"{level} {rest}")[:160]
                g = groups.setdefault(key, {"count": 0, "nodes": set(), "first": None, "example": None})
                g["count"] += 1
                g["nodes"].add(node.name)
                if g["example"] is None:
                    g["first"], g["example"] = rel, f"{node.name}: {level} {rest}"[:400]
    return groups, job_lines


def haproxy_figures():
    """Requests haproxy retried and redispatched (httplog's retries field, `+` when
    redispatched to another server), and its answers by termination state."""
    if not A.haproxy_log or not os.path.exists(A.haproxy_log):
        return None
    retried = redispatched = total = 0
    states = collections.Counter()
    pat = re.compile(r" (-?\d+) -?\d+ \S+ \S+ (\S{4}) \d+/\d+/\d+/\d+/(\+?)(\d+) ")
    with open(A.haproxy_log, errors="replace") as f:
        for line in f:
            m = pat.search(line)
            if not m:
                continue
            total += 1
            if int(m.group(4)) > 0:
                retried += 1
            if m.group(3):
                redispatched += 1
            if m.group(2) != "----":
                states[m.group(2)] += 1
    return {"total": total, "retried": retried, "redispatched": redispatched, "states": states}


def fmt_s(x):
    return f"{x:.1f} s" if x is not None else "–"


def recovery(kind, f, until):
    """For one fault and one kind: errors of that kind among the requests in flight at the
    fault or started before the next fault (or the end), the last such error, and the time
    from the fault to the end of the first success after it (after that last error, when
    any)."""
    t = f["at"]
    window = [e for e in stats.events if e[0] == kind and e[2] >= t and e[1] < until]
    errors = [e for e in window if not e[3]]
    last_err = max((e[2] for e in errors), default=None)
    after = last_err if last_err is not None else t
    oks = [e[2] for e in stats.events if e[0] == kind and e[3] and e[1] >= after - 1e-9 and e[2] >= after]
    first_ok = min(oks, default=None)
    rec = first_ok - t if first_ok is not None else None
    if not errors:
        return f"no errors, next ok +{fmt_s(rec)}" if rec is not None else "no request"
    return f"**{len(errors)} error{'s' if len(errors) > 1 else ''}**, ok again +{fmt_s(rec)}"


def report(store, groups, job_lines, hap, traffic_end, exit_problems):
    out = []
    p = out.append
    load = open("/proc/loadavg").read().split()[:3]
    p(f"## Fault harness run {RUN}")
    p("")
    p(f"{len(nodes)} nodes (`{A.bin}`), haproxy round robin, PostgreSQL database `{A.db_name}`, "
      f"Redis (failure mode `{A.redis_failure_mode}`); {A.concurrency} workers for {A.duration:.0f} s; "
      f"{os.cpu_count()} cores, load average at the end {' '.join(load)}.")
    p("")
    p("| kind | requests | ok | errors (by status and error code, or exception) |")
    p("|---|---:|---:|---|")
    by_kind = collections.OrderedDict((k, []) for k in KIND_LABELS)
    for e in stats.events:
        by_kind.setdefault(e[0], []).append(e)
    total = total_ok = 0
    for kind, evs in by_kind.items():
        if not evs:
            continue
        ok = sum(1 for e in evs if e[3])
        total += len(evs)
        total_ok += ok
        errs = collections.Counter(e[4] for e in evs if not e[3])
        cell = ", ".join(f"{n}× {label}" for label, n in errs.most_common()) or "none"
        p(f"| {KIND_LABELS.get(kind, kind)} | {len(evs)} | {ok} | {cell} |")
    p(f"| **all** | **{total}** | **{total_ok}** ({total_ok / max(traffic_end, 1):.1f}/s) | "
      f"{total - total_ok} |")
    p("")
    p("Recovery: for each kind, the errors among requests in flight at the fault or started before "
      "the next one, and the time from the fault until the first success after the last of them.")
    p("")
    p("| fault at | fault | " + " | ".join(KIND_LABELS[k].split(" (")[0] for k in KINDS) + " |")
    p("|---|---|" + "---|" * len(KINDS))
    for i, f in enumerate(FAULTS):
        until = FAULTS[i + 1]["at"] if i + 1 < len(FAULTS) else traffic_end
        name = f["name"] + (f" ({'; '.join(f['notes'])})" if f["notes"] else "")
        p(f"| +{f['at']:.1f} s | {name} | " + " | ".join(recovery(k, f, until) for k in KINDS) + " |")
    p("")
    p("| store check | result |")
    p("|---|---|")
    p(f"| sign-ups answered 200 | {len(W.answered)} |")
    p(f"| **users lost** (answered 200, not in the store) | **{store['lost']}** |")
    p(f"| **users duplicated** (an email more than once) | **{store['duplicated']}** |")
    p(f"| sign-ups not answered 200 whose user exists anyway | {store['made_anyway']} of {len(W.unanswered)} |")
    p(f"| users in the store | {store['total']} |")
    final = JOB["final"] or {}
    summary = final.get("summary", {})
    wall = (JOB["ended"] - JOB["posted"]) if JOB["ended"] and JOB["posted"] is not None else None
    p(f"| import job | {JOB['id'] or 'never accepted'}: **{JOB['status']}**, summary {json.dumps(summary)} "
      f"(expected {A.import_users} inserted); posted at +{fmt_s(JOB['posted'])}, "
      f"wall time {fmt_s(wall)} to the poll that saw it end; {store['imported']} of its users in the store "
      f"({store['imported_distinct']} distinct) |")
    p("")
    starts = [(rel, node, rest) for rel, node, rest in job_lines if "job started" in rest]
    kill = next((f for f in FAULTS if f["name"].startswith("kill -9 node")), None)
    if len(starts) > 1 and kill:
        rel, node, rest = starts[-1]
        m = re.search(r"resume_at=(\d+)", rest)
        again = " (restarted)" if node == starts[0][1] else ""
        p(f"The import started on {starts[0][1]} and again on {node}{again} at +{fmt_s(rel)}, "
          f"{fmt_s(rel - kill['at'] if rel is not None else None)} after the kill"
          + (f", from record {m.group(1)}" if m else "") + ".")
        p("")
    if job_lines:
        p("The job in the nodes' logs:")
        p("")
        for rel, node, rest in job_lines:
            rest = re.sub(r"\s+", " ", rest)
            p(f"- +{fmt_s(rel)} {node}: {rest[:220]}")
        p("")
    if hap:
        states = ", ".join(f"{n}× {s}" for s, n in hap["states"].most_common()) or "none"
        p(f"haproxy: {hap['total']} requests logged, {hap['retried']} retried, {hap['redispatched']} "
          f"redispatched to another node; abnormal termination states: {states}.")
        p("")
    if groups:
        p("Warnings and errors in the nodes' logs (numbers and ids blanked; first time, count):")
        p("")
        for key, g in sorted(groups.items(), key=lambda kv: -kv[1]["count"])[:15]:
            p(f"- {g['count']}× on {', '.join(sorted(g['nodes']))}, first at +{fmt_s(g['first'])}: "
              f"`{g['example'][:300].replace('`', chr(39))}`")
        p("")
    samples = [(k, l, s) for (k, l), s in stats.samples.items()]
    if samples:
        p("First answer of each error kind:")
        p("")
        for kind, label, (t, body) in samples:
            body = re.sub(r"\s+", " ", body)[:200].replace("`", "'")
            p(f"- {kind} `{label}` at +{t:.1f} s: `{body}`")
        p("")
    p("Fault times: " + "; ".join(f"+{f['at']:.2f} s {f['name']}" for f in FAULTS) + ".")
    if exit_problems:
        p("")
        p("**FAILED:** " + "; ".join(exit_problems))
    return "\n".join(out) + "\n"


async def guarded(kind, http):
    """A worker, started again if the harness itself fails in it (recorded as an error)."""
    while running:
        try:
            await WORKERS[kind](http)
        except Exception as e:  # noqa: BLE001 - a harness bug must show, not stop the run
            stats.add(kind, now(), now(), False, f"harness: {type(e).__name__}", repr(e)[:300])
            await asyncio.sleep(0.1)


async def main():
    global running, T0, WALL0
    limits = httpx.Limits(max_connections=A.concurrency + 8, max_keepalive_connections=A.concurrency + 8)
    async with httpx.AsyncClient(timeout=5) as direct, httpx.AsyncClient(
            base_url=ISSUER.rstrip("/"), timeout=httpx.Timeout(15, connect=5), limits=limits) as http:
        redis.start()
        for node in nodes:
            node.start()
        for node in nodes:
            await wait_ready(node, direct, timeout=120)
        say(f"{len(nodes)} nodes ready; waiting for haproxy to see them")
        for _ in range(100):
            try:
                if (await http.get("/readyz")).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)  # health checks every second: every node marked up
        await setup(http)
        data = import_file()
        T0, WALL0 = time.monotonic(), time.time()
        say(f"traffic starts ({A.concurrency} workers, {A.duration:.0f} s)")
        kill_at = SCHEDULE[0][0] * A.duration
        tasks = [asyncio.create_task(guarded(KINDS[i % len(KINDS)], http)) for i in range(A.concurrency)]
        job = asyncio.create_task(import_job(http, max(1.0, kill_at - 1.0), data))
        fault_task = asyncio.create_task(faults(http))
        await asyncio.sleep(A.duration)
        running = False
        traffic_end = now()
        say("traffic stops")
        _, late = await asyncio.wait(tasks, timeout=20)
        for t in late:
            t.cancel()
        await fault_task
        if not job.done():
            say("waiting for the import job to end")
        await job
        store = await store_checks()
    groups, job_lines = read_logs()
    hap = haproxy_figures()
    problems = []
    if store["lost"]:
        problems.append(f"{store['lost']} users lost")
    if store["duplicated"]:
        problems.append(f"{store['duplicated']} users duplicated")
    inserted = ((JOB["final"] or {}).get("summary") or {}).get("inserted")
    if JOB["status"] != "completed" or inserted != A.import_users or store["imported"] != A.import_users:
        problems.append(f"import job {JOB['status']}, {inserted} inserted, {store['imported']} in the store, "
                        f"expected {A.import_users}")
    text = report(store, groups, job_lines, hap, traffic_end, problems)
    print(text)
    with open(A.report, "w") as f:
        f.write(text)
    say(f"report written to {A.report}")
    for p in [redis] + nodes:
        p.signal(signal.SIGTERM)
    for p in [redis] + nodes:
        if p.popen:
            await p.wait_exit(timeout=15)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
