"""
Faults survived: PostgreSQL or Redis cut off, a worker killed, a rolling restart, clocks in other
time zones. Production settings on gunicorn over TLS on loopback, under a steady load of the
code flow, refreshes, client credentials and /api/me/ (what the generated
docs/operations.md#when-things-fail promises).

The app reaches PostgreSQL and Redis through TCP proxies of the test's own, which it cuts (every
connection closed, new ones refused) and restores, as an outage or a restart of either would.
"""

import asyncio
import contextlib
import json
import os
import signal
import threading
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from . import test_production as production
from .live import query_of, submit
from .oauth_helpers import authorization_params
from .support import free_port, fresh_postgres_database, read_env_values, venv_manage
from .test_production import (
    REDIS_URL,
    RP_REDIRECT_URI,
    authorization_url,
    checksum,
    log_entries,
    register_clients,
    unverified_part,
)

pytestmark = pytest.mark.slow

# test_production.py's bake, certificate and servers: production settings on gunicorn over TLS.
project = production.project
certificate = production.certificate
production_server = production.production_server

# A request of the load waits this long at most: an outage must cost milliseconds, not this.
REQUEST_TIMEOUT = 20
# After a restore, every request must succeed again within this many seconds.
HEAL_SECONDS = 3
OUTAGE_SECONDS = 3


class CuttableProxy:
    """A loopback TCP proxy to `target_port`, run in a thread of this process. `cut()` resets
    every connection through it and refuses new ones, as a stopped server does; `restore()`
    accepts again."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.port = free_port()
        self.connections = set()
        self.listener = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.restore()

    def run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def restore(self):
        async def listen():
            self.listener = await asyncio.start_server(self.connection, "127.0.0.1", self.port)

        self.run(listen())

    def cut(self):
        async def cut():
            self.listener.close()
            for writer in list(self.connections):
                writer.transport.abort()

        self.run(cut())

    def close(self):
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)

    async def connection(self, client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_writer.transport.abort()
            return
        self.connections |= {client_writer, server_writer}
        try:
            await asyncio.gather(
                self.pipe(client_reader, server_writer),
                self.pipe(server_reader, client_writer),
                return_exceptions=True,
            )
        finally:
            self.connections -= {client_writer, server_writer}
            client_writer.transport.abort()
            server_writer.transport.abort()

    @staticmethod
    async def pipe(reader, writer):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
        writer.close()


@contextlib.contextmanager
def cuttable_proxy(target_port):
    proxy = CuttableProxy(target_port)
    try:
        yield proxy
    finally:
        proxy.close()


def through(url, port):
    """`url` with its port replaced by `port`: the same server, reached through a proxy."""
    parts = urllib.parse.urlsplit(url)
    return parts._replace(netloc=f"{parts.netloc.rsplit(':', 1)[0]}:{port}").geturl()


@pytest.fixture(scope="module")
def database(project):
    """A fresh PostgreSQL database, migrated, with the admin user."""
    with fresh_postgres_database("faults") as url:
        for command in (("migrate", "--noinput"), ("createsuperuser", "--noinput")):
            venv_manage(project, *command, DATABASE_URL=url)
        yield url


@pytest.fixture(scope="module")
def env_values(project):
    return read_env_values(project)


# A connection the server dropped, before the answer or within its body (a killed worker).
DROPPED = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


class Unavailable(Exception):
    """A 503 of the stated shape, or a connection the server dropped: try again later."""


@dataclass
class Traffic:
    """Every answer the load got, with its time; and the answers no outage excuses."""

    answers: list = field(default_factory=list)  # (time.monotonic(), what, status or error name)
    wrong: list = field(default_factory=list)

    def request(self, session, method, url, expected, json_body=True, **options):
        """One request; returns the response when its status is `expected` (a set), raises
        Unavailable on a 503 of the stated shape or a dropped connection, records anything else."""
        what = urllib.parse.urlsplit(url).path
        try:
            response = session.request(method, url, timeout=REQUEST_TIMEOUT, **options)
        except DROPPED as error:
            self.answers.append((time.monotonic(), what, "dropped"))
            raise Unavailable(what) from error
        self.answers.append((time.monotonic(), what, response.status_code))
        if response.status_code in expected:
            return response
        if response.status_code == 503 and response.headers.get("Retry-After", "").isdigit():
            if json_body:
                body = response.json() if response.headers["Content-Type"] == "application/json" else {}
                if body.get("error") == "temporarily_unavailable":
                    raise Unavailable(what)
            elif response.headers["Content-Type"].startswith("text/html"):
                raise Unavailable(what)
        self.wrong.append((what, response.status_code, dict(response.headers), response.text[:500]))
        raise Unavailable(what)


@dataclass
class Ledger:
    """What the clients were told, and what they could not know: a request that got no answer
    (a 503 or a dropped connection) may have committed before it failed, so each such request
    may leave one row no client knows of."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    told: list = field(default_factory=list)  # every token handed out, for duplicates
    live_access: set = field(default_factory=set)
    dead_access: set = field(default_factory=set)  # rotated away by a refresh the client saw
    uncertain_access: set = field(default_factory=set)
    live_refresh: set = field(default_factory=set)
    revoked_refresh: set = field(default_factory=set)
    uncertain_refresh: set = field(default_factory=set)
    unredeemed_codes: set = field(default_factory=set)
    unanswered_token_requests: int = 0
    unanswered_authorizations: int = 0
    flows: int = 0


def token_response(traffic, session, base_url, data, auth):
    response = traffic.request(session, "POST", f"{base_url}/o/token/", {200}, data=data, auth=auth)
    return response.json()


def api_me(traffic, session, base_url, access_token):
    headers = {"Authorization": f"Bearer {access_token}"}
    return traffic.request(session, "GET", f"{base_url}/api/me/", {200}, headers=headers).json()


def sign_in(browser, base_url, clients):
    """The server's answer to the admin user's sign-in: the sign-in page's, when it is not a 200."""
    page = browser.get(f"{base_url}/accounts/login/", timeout=REQUEST_TIMEOUT)
    if page.status_code != 200:
        return page
    return submit(
        browser,
        page,
        login=clients.values["DJANGO_SUPERUSER_USERNAME"],
        password=clients.values["DJANGO_SUPERUSER_PASSWORD"],
        allow_redirects=False,
    )


def signed_in_browser(base_url, clients):
    browser = requests.Session()
    answer = sign_in(browser, base_url, clients)
    assert answer.status_code == 302, (answer.status_code, answer.text[:500])
    return browser


def assert_sign_in_fails_closed(base_url, clients):
    """A sign-in while PostgreSQL or Redis is out gets a 503 page that says when to try again.
    One attempt, as a person makes: a load retrying sign-ins would meet the sign-in rate limit."""
    answer = sign_in(requests.Session(), base_url, clients)
    assert answer.status_code == 503, (answer.status_code, answer.text[:500])
    assert answer.headers["Retry-After"].isdigit(), answer.headers
    assert answer.headers["Content-Type"].startswith("text/html"), answer.headers


def user_load(traffic, ledger, base_url, clients, browser, stop):
    """A signed-in browser running code flows, each refreshed twice, each token used at /api/me/."""
    while not stop.is_set():
        params, verifier = authorization_params(clients.values)
        try:
            consent_page = traffic.request(
                browser, "GET", authorization_url(base_url, params), {200}, json_body=False
            )
        except Unavailable:
            time.sleep(0.1)
            continue
        try:
            answer = submit(browser, consent_page, button=("allow", "Authorize"), allow_redirects=False)
        except DROPPED:
            answer = None
        traffic.answers.append(
            (time.monotonic(), "/o/authorize/", answer.status_code if answer else "dropped")
        )
        if answer is None or answer.status_code != 302:
            if answer is not None and not (answer.status_code == 503 and "Retry-After" in answer.headers):
                traffic.wrong.append(("/o/authorize/", answer.status_code, {}, answer.text[:500]))
            with ledger.lock:
                ledger.unanswered_authorizations += 1
            time.sleep(0.1)
            continue
        code = query_of(answer.headers["Location"])["code"]
        with ledger.lock:
            ledger.unredeemed_codes.add(code)
        redemption = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": RP_REDIRECT_URI,
            "code_verifier": verifier,
        }
        try:
            tokens = token_response(traffic, browser, base_url, redemption, clients.web)
        except Unavailable:
            with ledger.lock:
                ledger.unanswered_token_requests += 1
            continue
        with ledger.lock:
            ledger.unredeemed_codes.discard(code)
            ledger.told += [tokens["access_token"], tokens["refresh_token"]]
            ledger.live_access.add(tokens["access_token"])
            ledger.live_refresh.add(tokens["refresh_token"])
        for _ in range(2):
            with contextlib.suppress(Unavailable):
                api_me(traffic, browser, base_url, tokens["access_token"])
            refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
            try:
                refreshed = token_response(traffic, browser, base_url, refresh, clients.web)
            except Unavailable:
                # Rotated or not: no client can tell. It does not replay the refresh token
                # (that would revoke the family, RFC 9700 §4.14.2); it starts a new flow.
                with ledger.lock:
                    ledger.unanswered_token_requests += 1
                    ledger.live_access.discard(tokens["access_token"])
                    ledger.uncertain_access.add(tokens["access_token"])
                    ledger.live_refresh.discard(tokens["refresh_token"])
                    ledger.uncertain_refresh.add(tokens["refresh_token"])
                break
            with ledger.lock:
                ledger.told += [refreshed["access_token"], refreshed["refresh_token"]]
                ledger.live_access.discard(tokens["access_token"])
                ledger.dead_access.add(tokens["access_token"])
                ledger.live_refresh.discard(tokens["refresh_token"])
                ledger.revoked_refresh.add(tokens["refresh_token"])
                ledger.live_access.add(refreshed["access_token"])
                ledger.live_refresh.add(refreshed["refresh_token"])
            tokens = refreshed
        else:
            with ledger.lock:
                ledger.flows += 1


def machine_load(traffic, ledger, base_url, clients, stop):
    session = requests.Session()
    while not stop.is_set():
        data = {"grant_type": "client_credentials", "scope": "read"}
        try:
            access_token = token_response(traffic, session, base_url, data, clients.machine)["access_token"]
        except Unavailable:
            with ledger.lock:
                ledger.unanswered_token_requests += 1
            time.sleep(0.1)
            continue
        with ledger.lock:
            ledger.told.append(access_token)
            ledger.live_access.add(access_token)
        try:
            assert api_me(traffic, session, base_url, access_token)["client_id"] == clients.machine[0]
        except Unavailable:
            time.sleep(0.1)


DATABASE_STATE = """
import json, os
from django.db.models import Count, Q
from oauth2_provider import models
applications = models.get_application_model().objects.filter(client_id__in=os.environ["PROBE_CLIENTS"].split())
def rows(model):
    return model.objects.filter(application__in=applications)
refresh = rows(models.get_refresh_token_model())
print(json.dumps({
    "access": sorted(rows(models.get_access_token_model()).values_list("token_checksum", flat=True)),
    "refresh": sorted(refresh.values_list("token_checksum", flat=True)),
    "live_refresh": sorted(refresh.filter(revoked__isnull=True).values_list("token_checksum", flat=True)),
    "live_per_family": sorted(
        refresh.values("token_family").annotate(live=Count("id", filter=Q(revoked__isnull=True)))
        .values_list("live", flat=True)
    ),
    "grants": sorted(rows(models.get_grant_model()).values_list("code", flat=True)),
}))
"""


def assert_rows_match_the_ledger(project, database, clients, ledger):
    client_ids = f"{clients.web[0]} {clients.machine[0]}"
    probe = venv_manage(
        project, "shell", "-c", DATABASE_STATE, DATABASE_URL=database, PROBE_CLIENTS=client_ids
    )
    state = json.loads(probe.stdout.splitlines()[-1])
    assert len(set(ledger.told)) == len(ledger.told), "the server handed out the same token twice"
    unanswered = ledger.unanswered_token_requests

    access = set(state["access"])
    live_access = set(map(checksum, ledger.live_access))
    assert live_access <= access, "an access token a client was given is gone"
    assert not set(map(checksum, ledger.dead_access)) & access, "a rotated access token outlived its refresh"
    orphans = access - live_access - set(map(checksum, ledger.uncertain_access))
    assert len(orphans) <= unanswered, "access tokens stored for requests that were answered without them"

    refresh, live_refresh = set(state["refresh"]), set(state["live_refresh"])
    assert set(map(checksum, ledger.live_refresh)) <= live_refresh, "a live refresh token was lost or revoked"
    assert set(map(checksum, ledger.revoked_refresh)) <= refresh - live_refresh
    assert set(map(checksum, ledger.uncertain_refresh)) <= refresh
    known = set(map(checksum, ledger.live_refresh | ledger.revoked_refresh | ledger.uncertain_refresh))
    assert len(refresh - known) <= unanswered
    assert set(state["live_per_family"]) == {1}, "a refresh family with two live tokens, or none"

    untold_grants = set(state["grants"]) - ledger.unredeemed_codes
    assert len(untold_grants) <= ledger.unanswered_authorizations
    return state


def readiness(base_url):
    try:
        response = requests.get(f"{base_url}/readyz", timeout=REQUEST_TIMEOUT)
    except requests.ConnectionError:
        return "refused", {}
    except requests.Timeout:  # a replica whose workers are all still booting
        return "no answer", {}
    return response.status_code, response.json()


def wait_for_readiness(base_url, wanted, seconds=10):
    deadline = time.monotonic() + seconds
    while (answer := readiness(base_url))[0] != wanted:
        assert time.monotonic() < deadline, answer
        time.sleep(0.2)
    return answer[1]


def running(pid):
    """Whether the process runs: gone, or a zombie its parent (running_server) has not reaped, is not."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def workers_of(master):
    """The worker processes of the gunicorn master `master` (a pid: a reload rewrites the pid file)."""
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def test_outages_of_postgresql_and_redis_and_a_killed_worker_cost_no_500_and_no_token(
    production_server,
    project,
    database,
    env_values,
    tmp_path,
):
    clients = register_clients(project, database, env_values, "faults")
    traffic, ledger, stop = Traffic(), Ledger(), threading.Event()
    log, pid_file = tmp_path / "server.log", tmp_path / "gunicorn.pid"
    postgres_port = int(urllib.parse.urlsplit(database).port or 5432)
    redis_port = int(urllib.parse.urlsplit(REDIS_URL).port or 6379)
    calm = []  # (from, to): windows in which every request must succeed
    with (
        cuttable_proxy(postgres_port) as postgres,
        cuttable_proxy(redis_port) as redis,
        production_server(
            through(database, postgres.port),
            4,
            f"--pid={pid_file}",
            output=log,
            CACHE_URL=through(REDIS_URL, redis.port),
        ) as base_url,
        ThreadPoolExecutor(5) as pool,
    ):
        browsers = [signed_in_browser(base_url, clients) for _ in range(3)]
        load = [
            pool.submit(user_load, traffic, ledger, base_url, clients, browser, stop) for browser in browsers
        ]
        load += [pool.submit(machine_load, traffic, ledger, base_url, clients, stop) for _ in range(2)]
        try:
            time.sleep(2)
            calm.append((time.monotonic() - 2, time.monotonic()))
            for cut, failing in (
                ([redis], {"cache"}),
                ([postgres], {"database"}),
                ([redis, postgres], {"cache", "database"}),
            ):
                for proxy in cut:
                    proxy.cut()
                body = wait_for_readiness(base_url, 503)
                assert {check for check in ("cache", "database") if body[check] != "ok"} == failing, body
                assert_sign_in_fails_closed(base_url, clients)
                time.sleep(OUTAGE_SECONDS)
                for proxy in cut:
                    proxy.restore()
                restored = time.monotonic()
                wait_for_readiness(base_url, 200, seconds=HEAL_SECONDS)
                time.sleep(HEAL_SECONDS + 2)
                assert sign_in(requests.Session(), base_url, clients).status_code == 302
                calm.append((restored + HEAL_SECONDS, time.monotonic()))
            # A worker killed mid-request: the master replaces it; nothing it did is half-stored.
            os.kill(workers_of(int(pid_file.read_text()))[0], signal.SIGKILL)
            time.sleep(2 + HEAL_SECONDS)
            calm.append((time.monotonic() - 2, time.monotonic()))
        finally:
            stop.set()
            for session in load:
                session.result()

    assert traffic.wrong == [], traffic.wrong[:5]
    statuses = Counter(status for _, _, status in traffic.answers)
    assert statuses[200] > 50 and ledger.flows > 3, (statuses, ledger.flows)
    # Each outage was seen by the load (503s), and healed within HEAL_SECONDS of its restore.
    assert statuses[503] > 0, statuses
    for start, end in calm:
        failed = [
            answer for answer in traffic.answers if start <= answer[0] <= end and answer[2] not in (200, 302)
        ]
        assert failed == [], (start, end, failed[:5])

    entries = log_entries(log)
    assert [entry for entry in entries if entry.get("status", 0) >= 500 and entry["status"] != 503] == []
    messages = [entry["message"] for entry in entries if entry.get("level") == "WARNING"]
    assert any("throttling of client authentication is off (fails open)" in message for message in messages)
    assert any(message.startswith("The database is unavailable (OperationalError") for message in messages)
    assert_rows_match_the_ledger(project, database, clients, ledger)


@dataclass
class Balancer:
    """What a load balancer does: checks each replica's /readyz, every replica on its own (a slow
    answer from one delays no check of another), and sends requests to ready replicas only; a
    client retries a dropped connection once, at another replica."""

    ready: list = field(default_factory=list)
    seen: dict = field(default_factory=dict)  # replica: [(when the check started, readiness)]
    turn: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, replica, stop):
        """Check `replica` every 0.1 s until `stop`: run it in a thread of its own."""
        while not stop.is_set():
            started = time.monotonic()
            answer = readiness(replica)[0]
            with self.lock:
                self.seen.setdefault(replica, []).append((started, answer))
                if answer == 200 and replica not in self.ready:
                    self.ready.append(replica)
                elif answer != 200 and replica in self.ready:
                    self.ready.remove(replica)
            time.sleep(0.1)

    def answers_since(self, replica, since):
        with self.lock:
            return [answer for at, answer in self.seen.get(replica, []) if at > since]

    def next_replica(self, other_than=None):
        with self.lock:
            candidates = [replica for replica in self.ready if replica != other_than]
            assert candidates, f"no replica is ready: {self.seen}"
            self.turn += 1
            return candidates[self.turn % len(candidates)]

    def request(self, session, method, path, **options):
        replica = self.next_replica()
        try:
            return session.request(method, replica + path, timeout=REQUEST_TIMEOUT, **options)
        except requests.ConnectionError:
            retry = self.next_replica(other_than=replica)
            return session.request(method, retry + path, timeout=REQUEST_TIMEOUT, **options)


def wait_until(condition, failure, seconds=60):
    """Poll `condition` until it holds; after `seconds`, fail with `failure()`. A deadline, not a
    measure: on a busy machine the event comes late, and the test waits for it."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, failure()
        time.sleep(0.1)


def restart_load(balancer, clients, answers, failures, stop):
    session = requests.Session()
    while not stop.is_set():
        try:
            token = balancer.request(
                session,
                "POST",
                "/o/token/",
                data={"grant_type": "client_credentials", "scope": "read"},
                auth=clients.machine,
            )
            me = balancer.request(
                session,
                "GET",
                "/api/me/",
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            )
            answers.append((token.status_code, me.status_code))
            if (token.status_code, me.status_code) != (200, 200):
                failures.append((token.status_code, token.text[:200], me.status_code))
        except (requests.RequestException, ValueError, KeyError) as error:
            failures.append(repr(error))


def test_a_reload_and_a_rolling_restart_fail_no_request(
    production_server,
    project,
    database,
    env_values,
    tmp_path,
):
    clients = register_clients(project, database, env_values, "restart")
    pid_file = tmp_path / "first.pid"
    # The project's default drain: longer than a readiness check takes on a busy machine, so the
    # checks see it.
    drain = {"GUNICORN_DRAIN_SECONDS": "5"}
    answers, failures, stop = [], [], threading.Event()
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(production_server(database, 2, f"--pid={pid_file}", **drain))
        second = stack.enter_context(production_server(database, 2, OAUTH_ISSUER=first, **drain))
        balancer = Balancer()
        pool = stack.enter_context(ThreadPoolExecutor(6))
        stack.callback(stop.set)
        watchers = [pool.submit(balancer.watch, replica, stop) for replica in (first, second)]
        wait_until(lambda: len(balancer.ready) == 2, lambda: balancer.seen)
        load = [pool.submit(restart_load, balancer, clients, answers, failures, stop) for _ in range(3)]
        wait_until(lambda: len(answers) >= 10 or failures, lambda: ("no load", failures[:5]))
        # A graceful reload of the first replica (kill -HUP): new workers, the same listener.
        master = int(pid_file.read_text())
        old_workers = set(workers_of(master))
        os.kill(master, signal.SIGHUP)
        wait_until(lambda: not old_workers & set(workers_of(master)), lambda: "the old workers never stopped")
        # The first replica answers again: a new worker has booted, so the SIGTERM below meets a
        # worker that drains (one still booting stops at once, without draining). Django's
        # start-up takes seconds on a busy 2-core machine: this waits for it, however long.
        wait_for_readiness(first, 200, seconds=60)
        wait_until(lambda: first in balancer.ready, lambda: balancer.seen[first][-5:])
        # A rolling restart: the first replica stops (SIGTERM, as systemd or Kubernetes send it),
        # a third takes its place.
        stopped_at = time.monotonic()
        os.kill(master, signal.SIGTERM)
        wait_until(lambda: not running(master), lambda: "the first replica never stopped")
        third = stack.enter_context(production_server(database, 2, OAUTH_ISSUER=first, **drain))
        watchers.append(pool.submit(balancer.watch, third, stop))
        wait_until(
            lambda: third in balancer.ready and "refused" in balancer.answers_since(first, stopped_at),
            lambda: balancer.seen,
        )
        # The load goes on, on the second and third replicas.
        answered = len(answers)
        wait_until(lambda: len(answers) >= answered + 10 or failures, lambda: ("no load", failures[:5]))
        stop.set()
        for session in [*load, *watchers]:
            session.result()

    assert failures == [] and len(answers) > 20, (failures[:5], len(answers))
    # The first replica said it was not ready before it stopped listening, and never ready again.
    # (A check that started as the signal was sent may have been answered before it arrived.)
    timeline = [(round(at - stopped_at, 2), answer) for at, answer in balancer.seen[first] if at > stopped_at]
    while timeline and timeline[0][1] == 200:
        timeline.pop(0)
    after_stop = [answer for _, answer in timeline]
    assert after_stop[0] == 503 and "refused" in after_stop, timeline
    assert 200 not in after_stop, timeline
    # A check that started a second after the signal was still answered (503): timed by the
    # checks' start, not counted, so a check slowed by a busy machine does not shorten the drain.
    last_answered = max(at for at, answer in timeline if answer == 503)
    assert last_answered >= 1, ("the replica drained for less than a second", timeline)


def test_tokens_are_judged_by_utc_across_processes_in_other_time_zones(
    production_server,
    project,
    database,
    env_values,
):
    clients = register_clients(project, database, env_values, "clock")
    # Fourteen hours ahead of UTC, eleven behind: 25 hours apart.
    east = {"TZ": "Pacific/Kiritimati", "DJANGO_TIME_ZONE": "Pacific/Kiritimati"}
    west = {"TZ": "Pacific/Pago_Pago", "DJANGO_TIME_ZONE": "Pacific/Pago_Pago"}
    with (
        production_server(database, 1, **east) as first,
        production_server(database, 1, OAUTH_ISSUER=first, **west) as second,
    ):
        started = time.time()
        # Signed in on one process, the code (60 s to live) redeemed at the other.
        params, verifier = authorization_params(clients.values)
        browser = requests.Session()
        login_page = browser.get(authorization_url(first, params), timeout=REQUEST_TIMEOUT)
        consent_page = submit(
            browser,
            login_page,
            login=clients.values["DJANGO_SUPERUSER_USERNAME"],
            password=clients.values["DJANGO_SUPERUSER_PASSWORD"],
        )
        answer = submit(browser, consent_page, button=("allow", "Authorize"), allow_redirects=False)
        code = query_of(answer.headers["Location"])["code"]
        redeemed = requests.post(
            f"{second}/o/token/",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": RP_REDIRECT_URI,
                "code_verifier": verifier,
            },
            auth=clients.web,
            timeout=REQUEST_TIMEOUT,
        )
        assert redeemed.status_code == 200, redeemed.text
        tokens = redeemed.json()
        # The access token issued by the west, 300 s to live, is alive in the east and judged so.
        introspected = requests.post(
            f"{first}/o/introspect/",
            data={"token": tokens["access_token"]},
            auth=clients.machine,
            timeout=REQUEST_TIMEOUT,
        ).json()
        refreshed = requests.post(
            f"{first}/o/token/",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=clients.web,
            timeout=REQUEST_TIMEOUT,
        )
        assert refreshed.status_code == 200, refreshed.text
        finished = time.time()

    west_claims = unverified_part(tokens["id_token"], 1)
    east_claims = unverified_part(refreshed.json()["id_token"], 1)
    for claims in (west_claims, east_claims):
        assert started - 1 <= claims["iat"] <= finished + 1, claims
        assert claims["exp"] - claims["iat"] == 300
    # Both processes read the same sign-in time of the session, made in the east.
    assert west_claims["auth_time"] == east_claims["auth_time"]
    assert started - 1 <= west_claims["auth_time"] <= west_claims["iat"]
    assert introspected["active"] is True
    assert abs(introspected["exp"] - (west_claims["iat"] + 300)) <= 2, introspected
