"""Auth0's own Python SDK (auth0-python 6.x) against a running Gatehouse.

The SDK parses every response into its pydantic models, so a field of the wrong type or
a missing envelope fails here even when our own tests are happy.
"""

import base64
import http.server
import json
import re
import threading
import time
import urllib.parse

import httpx
import pytest
from auth0.authentication import GetToken
from auth0.authentication.token_verifier import AsymmetricSignatureVerifier
from auth0.management.core.api_error import ApiError



def test_users_crud_and_search(mgmt, gatehouse):
    created = mgmt.users.create(
        connection="Username-Password-Authentication",
        email="Ada@Example.com",
        password="analytical engine 1843",
        given_name="Ada",
        user_metadata={"lang": "en"},
        app_metadata={"plan": "pro", "roles": ["admin"]},
    )
    assert created.user_id.startswith("auth0|")
    assert created.email == "ada@example.com"
    assert created.identities[0].connection == "Username-Password-Authentication"
    assert created.identities[0].provider == "auth0"

    fetched = mgmt.users.get(created.user_id)
    assert fetched.email == "ada@example.com"
    assert fetched.user_metadata == {"lang": "en"}

    updated = mgmt.users.update(created.user_id, user_metadata={"theme": "dark"}, family_name="Lovelace")
    assert updated.user_metadata == {"lang": "en", "theme": "dark"}
    assert updated.family_name == "Lovelace"

    for i in range(3):
        mgmt.users.create(connection="Username-Password-Authentication", email=f"bulk{i}@example.com")

    pager = mgmt.users.list(q='email:"ada@example.com"', search_engine="v3", per_page=10)
    found = [u.email for u in pager]
    assert found == ["ada@example.com"]

    pager = mgmt.users.list(q="email:bulk*", search_engine="v3", sort="email:1", per_page=2)
    assert [u.email for u in pager] == ["bulk0@example.com", "bulk1@example.com", "bulk2@example.com"]

    pager = mgmt.users.list(q="app_metadata.roles:admin", search_engine="v3")
    assert [u.user_id for u in pager] == [created.user_id]

    by_email = mgmt.users.list_users_by_email(email="ada@example.com")
    assert [u.user_id for u in by_email] == [created.user_id]

    mgmt.users.delete(created.user_id)
    with pytest.raises(ApiError) as e:
        mgmt.users.get(created.user_id)
    assert e.value.status_code == 404
    assert e.value.body["errorCode"] == "inexistent_user"


def test_bad_input_is_reported_in_auth0_shape(mgmt):
    mgmt.users.create(connection="Username-Password-Authentication", email="twice@example.com")
    with pytest.raises(ApiError) as e:
        mgmt.users.create(connection="Username-Password-Authentication", email="twice@example.com")
    assert e.value.status_code == 409
    assert e.value.body == {
        "statusCode": 409,
        "error": "Conflict",
        "message": "The user already exists.",
        "errorCode": "auth0_idp_error",
    }
    with pytest.raises(ApiError) as e:
        mgmt.users.create(connection="Username-Password-Authentication", email="not an email")
    assert e.value.status_code == 400
    assert "email" in e.value.body["message"]
    with pytest.raises(ApiError) as e:
        list(mgmt.users.list(q="email:(broken", search_engine="v3"))
    assert e.value.status_code == 400


def test_clients_crud(mgmt):
    created = mgmt.clients.create(
        name="Inventory service",
        app_type="regular_web",
        callbacks=["https://inventory.example/callback"],
        grant_types=["authorization_code", "refresh_token"],
    )
    assert created.client_id
    assert created.client_secret
    fetched = mgmt.clients.get(created.client_id)
    assert fetched.name == "Inventory service"
    assert fetched.client_secret is None
    updated = mgmt.clients.update(created.client_id, callbacks=["https://inventory.example/cb2"])
    assert updated.callbacks == ["https://inventory.example/cb2"]
    names = [c.name for c in mgmt.clients.list(per_page=50)]
    assert "Inventory service" in names
    rotated = mgmt.clients.rotate_secret(created.client_id)
    assert rotated.client_secret and rotated.client_secret != created.client_secret
    mgmt.clients.delete(created.client_id)
    with pytest.raises(ApiError) as e:
        mgmt.clients.get(created.client_id)
    assert e.value.status_code == 404


def test_connections_crud(mgmt):
    default = [c.name for c in mgmt.connections.list(strategy="auth0")]
    assert "Username-Password-Authentication" in default
    created = mgmt.connections.create(
        name="customers-db",
        strategy="auth0",
        options={"requires_username": True, "passwordPolicy": "good", "brute_force_protection": True},
    )
    assert created.id.startswith("con_") and len(created.id) == 20
    fetched = mgmt.connections.get(created.id)
    assert fetched.name == "customers-db"
    updated = mgmt.connections.update(created.id, options={"passwordPolicy": "excellent"}, display_name="Customers")
    assert updated.display_name == "Customers"
    names = [c.name for c in mgmt.connections.list(take=1)]
    assert names == sorted(names) and {"customers-db", "Username-Password-Authentication"} <= set(names)
    mgmt.connections.delete(created.id)
    with pytest.raises(ApiError) as e:
        mgmt.connections.get(created.id)
    assert e.value.status_code == 404


def test_signup_change_password_and_tickets(mgmt, gatehouse):
    """The SDK's Authentication API `Database` client and the Management API tickets."""
    from auth0.authentication import Database
    from auth0.authentication.exceptions import Auth0Error

    app = mgmt.clients.create(name="Sign-up app", app_type="spa", callbacks=["https://app.example/cb"])
    conn = next(c for c in mgmt.connections.list(strategy="auth0") if c.name == "Username-Password-Authentication")
    mgmt.connections.update(conn.id, enabled_clients=[*(conn.enabled_clients or []), app.client_id])
    db = Database(gatehouse.base.removeprefix("http://"), app.client_id, protocol="http")
    created = db.signup(
        email="Grace@Example.com",
        password="Cobol-Compiler-1959",
        connection="Username-Password-Authentication",
        given_name="Grace",
        user_metadata={"lang": "en"},
    )
    assert created["email"] == "grace@example.com" and created["email_verified"] is False
    assert "|" not in created["_id"]
    with pytest.raises(Auth0Error) as e:
        db.signup(email="grace@example.com", password="Another-Pass-1959", connection="Username-Password-Authentication")
    assert (e.value.status_code, e.value.error_code) == (400, "user_exists")
    with pytest.raises(Auth0Error) as e:
        db.signup(email="weak@example.com", password="weak", connection="Username-Password-Authentication")
    assert (e.value.status_code, e.value.error_code) == (400, "invalid_password")
    answers = {db.change_password(email=m, connection="Username-Password-Authentication") for m in ["grace@example.com", "nobody@example.com"]}
    assert answers == {"We've just sent you an email to reset your password."}

    user_id = "auth0|" + created["_id"]
    verify = mgmt.tickets.verify_email(user_id=user_id, result_url="https://app.example/verified", ttl_sec=600)
    assert verify.ticket.startswith(gatehouse.issuer + "u/email-verification?ticket=")
    change = mgmt.tickets.change_password(email="grace@example.com", connection_id=conn.id, mark_email_as_verified=True)
    assert change.ticket.startswith(gatehouse.issuer + "u/reset-password?ticket=")
    job = mgmt.jobs.verification_email.create(user_id=user_id)
    assert job.type == "verification_email" and job.id.startswith("job_")


def test_login_refresh_and_revoke(mgmt, gatehouse):
    """The SDK's `GetToken` (password-realm, refresh) and `RevokeToken` against /oauth/token
    and /oauth/revoke: a revoked refresh token, and the family it was rotated in, is dead."""
    from auth0.authentication import RevokeToken
    from auth0.authentication.exceptions import Auth0Error

    app = mgmt.clients.create(
        name="Revoking app",
        app_type="regular_web",
        grant_types=["http://auth0.com/oauth/grant-type/password-realm", "refresh_token"],
    )
    conn = next(c for c in mgmt.connections.list(strategy="auth0") if c.name == "Username-Password-Authentication")
    mgmt.connections.update(conn.id, enabled_clients=[*(conn.enabled_clients or []), app.client_id])
    mgmt.users.create(connection=conn.name, email="revoke@example.com", password="Difference-Engine-1822")
    host = gatehouse.base.removeprefix("http://")
    tokens = GetToken(host, app.client_id, app.client_secret, protocol="http")
    first = tokens.login(
        "revoke@example.com", "Difference-Engine-1822", scope="openid offline_access", realm=conn.name
    )
    assert first["token_type"] == "Bearer" and first["id_token"]
    rotated = tokens.refresh_token(first["refresh_token"])
    assert rotated["refresh_token"] != first["refresh_token"]

    RevokeToken(host, app.client_id, app.client_secret, protocol="http").revoke_refresh_token(rotated["refresh_token"])
    for dead in (rotated["refresh_token"], first["refresh_token"]):
        with pytest.raises(Auth0Error) as e:
            tokens.refresh_token(dead)
        assert (e.value.status_code, e.value.error_code) == (403, "invalid_grant")
    # Revoking again, or revoking nonsense, is not an error (RFC 7009 §2.2).
    RevokeToken(host, app.client_id, app.client_secret, protocol="http").revoke_refresh_token(rotated["refresh_token"])
    RevokeToken(host, app.client_id, app.client_secret, protocol="http").revoke_refresh_token("not-a-token")
    with pytest.raises(Auth0Error) as e:
        RevokeToken(host, app.client_id, "wrong secret", protocol="http").revoke_refresh_token("not-a-token")
    assert (e.value.status_code, e.value.error_code) == (401, "invalid_client")


def _hosted_login(gatehouse, client_id, redirect_uri, email, password, browser=None):
    """A browser's way in: /authorize, the hosted login page, its form posted; returns the
    code the callback gets and the browser (an httpx client holding the session cookie)."""
    browser = browser or httpx.Client(
        base_url=gatehouse.base, follow_redirects=False, headers={"user-agent": "sdk-test-browser/1.0"}
    )
    query = urllib.parse.urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": "openid offline_access",
            "state": "s-1",
        }
    )
    r = browser.get("/authorize?" + query)
    assert r.status_code == 302, r.text
    if r.headers["location"].startswith(redirect_uri):
        return urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["location"]).query)["code"][0], browser
    page = browser.get(r.headers["location"])
    assert page.status_code == 200, page.text
    hidden = dict(re.findall(r'name="(state|csrf_token)" value="([^"]*)"', page.text))
    r = browser.post(
        "/u/login?state=" + hidden["state"], data={**hidden, "username": email, "password": password}
    )
    assert r.status_code == 303, r.text
    return urllib.parse.parse_qs(urllib.parse.urlsplit(r.headers["location"]).query)["code"][0], browser


class _BackChannel(http.server.BaseHTTPRequestHandler):
    """An application's back-channel logout endpoint: keeps every logout token posted."""

    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"])).decode()
        self.received.append(urllib.parse.parse_qs(body)["logout_token"][0])
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_sessions_and_refresh_tokens(mgmt, gatehouse):
    """The SDK's sessions and refresh-token clients: a hosted login's session and refresh
    grant are listed as Auth0 shows them, and ending them signs the user out for real."""
    from auth0.authentication.exceptions import Auth0Error

    callback = "http://app.example/callback"
    app = mgmt.clients.create(
        name="Session app",
        app_type="regular_web",
        callbacks=[callback],
        grant_types=["authorization_code", "refresh_token", "http://auth0.com/oauth/grant-type/password-realm"],
    )
    conn = next(c for c in mgmt.connections.list(strategy="auth0") if c.name == "Username-Password-Authentication")
    mgmt.connections.update(conn.id, enabled_clients=[*(conn.enabled_clients or []), app.client_id])
    user = mgmt.users.create(connection=conn.name, email="sessions@example.com", password="Analytical-Engine-1837")
    # The application hears of every ending of its users' sessions on its back channel.
    _BackChannel.received.clear()
    back_channel = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BackChannel)
    threading.Thread(target=back_channel.serve_forever, daemon=True).start()
    back_channel_url = f"http://127.0.0.1:{back_channel.server_address[1]}/logout"
    updated = mgmt.clients.update(
        app.client_id,
        oidc_logout={"backchannel_logout_urls": [back_channel_url], "backchannel_logout_initiators": {"mode": "all"}},
    )
    assert updated.oidc_logout.backchannel_logout_urls == [back_channel_url]
    host = gatehouse.base.removeprefix("http://")
    tokens = GetToken(host, app.client_id, app.client_secret, protocol="http")

    code, browser = _hosted_login(gatehouse, app.client_id, callback, "sessions@example.com", "Analytical-Engine-1837")
    issued = tokens.authorization_code(code, callback)
    claims = json.loads(base64.urlsafe_b64decode(issued["id_token"].split(".")[1] + "=="))
    sessions = list(mgmt.users.sessions.list(user.user_id))
    assert [s.id for s in sessions] == [claims["sid"]]
    session = mgmt.sessions.get(claims["sid"])
    assert session.user_id == user.user_id
    assert [c.client_id for c in session.clients] == [app.client_id]
    assert session.device.initial_user_agent == "sdk-test-browser/1.0"
    assert session.device.initial_ip == "127.0.0.1"
    assert [m.name for m in session.authentication.methods] == ["pwd"]
    assert session.authenticated_at <= session.expires_at

    grants = list(mgmt.users.refresh_token.list(user.user_id))
    assert len(grants) == 1 and grants[0].session_id == claims["sid"] and grants[0].client_id == app.client_id
    assert grants[0].rotating and grants[0].resource_servers[0].scopes == "openid offline_access"
    rotated = tokens.refresh_token(issued["refresh_token"])
    again = mgmt.refresh_tokens.get(grants[0].id)
    assert again.id == grants[0].id and again.last_exchanged_at is not None, "one grant across its rotation"
    assert [g.id for g in mgmt.refresh_tokens.list(user_id=user.user_id, client_id=app.client_id)] == [grants[0].id]

    # Single sign-on needs no password while the session lives …
    code, browser = _hosted_login(gatehouse, app.client_id, callback, "sessions@example.com", "", browser)
    assert code
    # … and ending it (with its refresh tokens) signs the user out everywhere, the
    # application told by a logout token that Auth0's own verifier accepts.
    mgmt.sessions.revoke(claims["sid"])
    deadline = time.monotonic() + 10
    while not _BackChannel.received and time.monotonic() < deadline:
        time.sleep(0.05)
    back_channel.shutdown()
    verifier = AsymmetricSignatureVerifier(gatehouse.issuer + ".well-known/jwks.json")
    logout = verifier.verify_signature(_BackChannel.received[0])
    assert (logout["iss"], logout["aud"], logout["sid"], logout["sub"]) == (
        gatehouse.issuer,
        app.client_id,
        claims["sid"],
        user.user_id,
    )
    assert "http://schemas.openid.net/event/backchannel-logout" in logout["events"] and "nonce" not in logout
    r = browser.get("/authorize?" + f"client_id={app.client_id}&redirect_uri={callback}&response_type=code&scope=openid")
    assert r.status_code == 302 and r.headers["location"].startswith("/u/login"), r.headers
    with pytest.raises(Auth0Error) as e:
        tokens.refresh_token(rotated["refresh_token"])
    assert (e.value.status_code, e.value.error_code) == (403, "invalid_grant")
    assert list(mgmt.users.sessions.list(user.user_id)) == []
    with pytest.raises(ApiError) as e:
        mgmt.sessions.get(claims["sid"])
    assert e.value.status_code == 404

    # A password-realm grant (no session), then every grant of the user revoked at once.
    direct = tokens.login(
        "sessions@example.com", "Analytical-Engine-1837", scope="openid offline_access", realm=conn.name
    )
    assert [g.session_id for g in mgmt.users.refresh_token.list(user.user_id)] == [None]
    mgmt.users.refresh_token.delete(user.user_id)
    with pytest.raises(Auth0Error) as e:
        tokens.refresh_token(direct["refresh_token"])
    assert e.value.error_code == "invalid_grant"
    assert list(mgmt.users.refresh_token.list(user.user_id)) == []

    # Bulk revocation by user and client, and "sign out of everything".
    again = tokens.login("sessions@example.com", "Analytical-Engine-1837", scope="openid offline_access", realm=conn.name)
    mgmt.refresh_tokens.revoke(user_id=user.user_id, client_id=app.client_id)
    with pytest.raises(Auth0Error):
        tokens.refresh_token(again["refresh_token"])
    code, browser = _hosted_login(gatehouse, app.client_id, callback, "sessions@example.com", "Analytical-Engine-1837")
    last = tokens.authorization_code(code, callback)
    mgmt.users.revoke_access(user.user_id)
    assert list(mgmt.users.sessions.list(user.user_id)) == []
    with pytest.raises(Auth0Error):
        tokens.refresh_token(last["refresh_token"])
