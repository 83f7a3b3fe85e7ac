"""APIs, roles and permissions through Auth0's Python SDK (its `resource_servers`,
`roles` and `users` clients), and access tokens checked as a resource server nobody here
wrote checks them: PyJWT against the JWKS, for `aud`, `scope` and `permissions`."""

import jwt
import pytest
from auth0.authentication import GetToken
from auth0.management.core.api_error import ApiError
from auth0.management.types import PermissionRequestPayload, ResourceServerScope

INVOICES = "https://invoices.example/"
DB = "Username-Password-Authentication"


def _verified(gatehouse, token, audience):
    """What an API holding only the JWKS URL accepts: signature, issuer, audience, expiry."""
    key = jwt.PyJWKClient(gatehouse.issuer + ".well-known/jwks.json").get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], audience=audience, issuer=gatehouse.issuer)


def _scopes(claims):
    return set(claims["scope"].split())


@pytest.fixture(scope="module")
def invoices(mgmt):
    api = mgmt.resource_servers.create(
        identifier=INVOICES,
        name="Invoices",
        scopes=[
            ResourceServerScope(value="read:invoices", description="Read invoices"),
            ResourceServerScope(value="write:invoices", description="Write invoices"),
        ],
        enforce_policies=True,
        token_dialect="access_token_authz",
        allow_offline_access=True,
    )
    assert api.identifier == INVOICES and api.id and not api.is_system
    return api


def test_resource_servers_client(mgmt, invoices, gatehouse):
    listed = list(mgmt.resource_servers.list())
    system = [a for a in listed if a.is_system]
    assert [a.identifier for a in system] == [gatehouse.issuer + "api/v2/"]
    assert invoices.id in [a.id for a in listed]
    fetched = mgmt.resource_servers.get(invoices.id)
    assert [s.value for s in fetched.scopes] == ["read:invoices", "write:invoices"]
    assert fetched.enforce_policies and fetched.token_dialect == "access_token_authz"
    updated = mgmt.resource_servers.update(invoices.id, token_lifetime=3600)
    assert updated.token_lifetime == 3600
    with pytest.raises(ApiError) as e:
        mgmt.resource_servers.create(identifier=INVOICES)
    assert e.value.status_code == 409
    with pytest.raises(ApiError) as e:
        mgmt.resource_servers.delete(system[0].id)
    assert e.value.status_code == 400


def test_rbac_in_tokens_a_resource_server_verifies(mgmt, invoices, gatehouse):
    role = mgmt.roles.create(name="Invoice reader", description="Reads invoices")
    assert role.id.startswith("rol_")
    read = PermissionRequestPayload(resource_server_identifier=INVOICES, permission_name="read:invoices")
    mgmt.roles.permissions.add(role.id, permissions=[read])
    held = list(mgmt.roles.permissions.list(role.id))
    assert [(p.permission_name, p.resource_server_name) for p in held] == [("read:invoices", "Invoices")]

    app = mgmt.clients.create(
        name="Invoices web",
        app_type="regular_web",
        grant_types=["http://auth0.com/oauth/grant-type/password-realm", "refresh_token"],
    )
    conn = next(c for c in mgmt.connections.list(strategy="auth0") if c.name == DB)
    mgmt.connections.update(conn.id, enabled_clients=[*(conn.enabled_clients or []), app.client_id])
    user = mgmt.users.create(connection=DB, email="reader@example.com", password="Ledger-Balance-1494")
    mgmt.users.roles.assign(user.user_id, roles=[role.id])
    assert [r.name for r in mgmt.users.roles.list(user.user_id)] == ["Invoice reader"]
    assert [u.user_id for u in mgmt.roles.users.list(role.id)] == [user.user_id]
    effective = list(mgmt.users.effective_permissions.list(user.user_id, resource_server_identifier=INVOICES))
    assert [(p.permission_name, p.sources) for p in effective] == [("read:invoices", ["roles"])]

    host = gatehouse.base.removeprefix("http://")
    tokens = GetToken(host, app.client_id, app.client_secret, protocol="http")
    first = tokens.login(
        "reader@example.com",
        "Ledger-Balance-1494",
        scope="openid offline_access read:invoices write:invoices",
        realm=DB,
        audience=INVOICES,
    )
    claims = _verified(gatehouse, first["access_token"], INVOICES)
    assert _scopes(claims) == {"openid", "offline_access", "read:invoices"}, "write:invoices is not held"
    assert claims["permissions"] == ["read:invoices"]
    assert claims["sub"] == user.user_id
    assert first["expires_in"] == 3600
    with pytest.raises(jwt.InvalidAudienceError):
        _verified(gatehouse, first["access_token"], "https://another-api.example/")

    # The role goes: the next refresh carries less, and a resource server sees it.
    mgmt.users.roles.delete(user.user_id, roles=[role.id])
    refreshed = tokens.refresh_token(first["refresh_token"])
    claims = _verified(gatehouse, refreshed["access_token"], INVOICES)
    assert _scopes(claims) == {"openid", "offline_access"}
    assert claims["permissions"] == []


def test_client_grants_and_rfc_9068_for_machines(mgmt, invoices, gatehouse):
    worker = mgmt.clients.create(name="Invoice worker", app_type="non_interactive")
    mgmt.client_grants.create(client_id=worker.client_id, audience=INVOICES, scope=["write:invoices"])
    host = gatehouse.base.removeprefix("http://")
    m2m = GetToken(host, worker.client_id, worker.client_secret, protocol="http").client_credentials(INVOICES)
    claims = _verified(gatehouse, m2m["access_token"], INVOICES)
    assert (claims["scope"], claims["permissions"], claims["gty"]) == (
        "write:invoices",
        ["write:invoices"],
        "client-credentials",
    )

    mgmt.resource_servers.update(invoices.id, token_dialect="rfc9068_profile_authz")
    m2m = GetToken(host, worker.client_id, worker.client_secret, protocol="http").client_credentials(INVOICES)
    assert jwt.get_unverified_header(m2m["access_token"])["typ"] == "at+jwt"
    claims = _verified(gatehouse, m2m["access_token"], INVOICES)
    assert claims["client_id"] == worker.client_id and claims["jti"] and "azp" not in claims

    # The API goes, and its client grants with it.
    mgmt.resource_servers.delete(invoices.id)
    assert list(mgmt.client_grants.list(audience=INVOICES)) == []
    with pytest.raises(ApiError) as e:
        mgmt.resource_servers.get(invoices.id)
    assert e.value.status_code == 404
