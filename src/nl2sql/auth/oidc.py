"""The identity provider as an OpenID Connect relying party sees it: discovery, the authorization code flow with
PKCE (authlib), and the ID token checked with its keys (joserfc)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from nl2sql.errors import UnauthorizedError, UnavailableError
from nl2sql.settings import AuthSettings

try:  # authlib's client speaks httpx2 where it is installed (the MCP SDK brings it), else httpx
    import httpx2

    TRANSPORT_ERRORS: tuple[type[Exception], ...] = (httpx.HTTPError, httpx2.HTTPError)
except ImportError:  # pragma: no cover
    TRANSPORT_ERRORS = (httpx.HTTPError,)

# the provider's metadata and keys are re-read after this long (keys rotate; a new `kid` also re-reads them)
METADATA_TTL_S = 3600.0
# claims about the token itself, not the person: never stored as the user's attributes
PROTOCOL_CLAIMS = frozenset({"iss", "aud", "exp", "iat", "nbf", "nonce", "auth_time", "at_hash", "c_hash", "azp",
                             "sid", "jti", "acr", "amr", "typ", "session_state", "sub"})


@dataclass(frozen=True)
class AuthorizationRequest:
    """Where to send the browser, and what must come back with it (kept in the database until then)."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class Identity:
    """Who the provider says logged in: its issuer and subject, and every claim (ID token and userinfo)."""

    issuer: str
    subject: str
    claims: dict[str, Any]
    id_token: str


class IdentityProvider:
    """One OpenID Connect provider, from NL2SQL_OIDC_*; its discovery document and keys are cached in process."""

    def __init__(self, settings: AuthSettings, *, timeout_s: float = 10.0) -> None:
        self.settings = settings
        self.issuer = (settings.oidc_issuer or "").rstrip("/")
        self._timeout = timeout_s
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._read_at = 0.0

    @property
    def scopes(self) -> str:
        wanted = self.settings.oidc_scopes.split()
        return " ".join(["openid", *[s for s in wanted if s != "openid"]])

    async def metadata(self) -> dict[str, Any]:
        """The provider's /.well-known/openid-configuration (cached)."""
        if self._metadata is None or time.monotonic() - self._read_at > METADATA_TTL_S:
            found = await self._get_json(f"{self.issuer}/.well-known/openid-configuration")
            if str(found.get("issuer", "")).rstrip("/") != self.issuer:
                raise UnavailableError(f"the identity provider calls itself {found.get('issuer')!r}, not "
                                    f"{self.issuer!r} (NL2SQL_OIDC_ISSUER)")
            for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not found.get(needed):
                    raise UnavailableError(f"the identity provider's discovery document has no {needed}")
            self._metadata, self._keys, self._read_at = found, None, time.monotonic()
        return self._metadata

    async def end_session_endpoint(self) -> str | None:
        try:
            return (await self.metadata()).get("end_session_endpoint") or None
        except UnavailableError:
            return None

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        secret = self.settings.oidc_client_secret
        return AsyncOAuth2Client(
            client_id=self.settings.oidc_client_id, client_secret=secret, scope=self.scopes,
            redirect_uri=redirect_uri, code_challenge_method="S256", timeout=self._timeout,
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
        )

    async def authorization_request(self, redirect_uri: str) -> AuthorizationRequest:
        """A fresh state, nonce and PKCE verifier, and the provider's URL asking for a code."""
        endpoint = (await self.metadata())["authorization_endpoint"]
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(endpoint, state=state, nonce=nonce, code_verifier=verifier)
        return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)

    async def redeem(self, code: str, *, redirect_uri: str, code_verifier: str, nonce: str) -> Identity:
        """Trade the code for tokens, check the ID token (signature, issuer, audience, expiry, nonce), add userinfo."""
        meta = await self.metadata()
        async with self._client(redirect_uri) as client:
            try:
                token = await client.fetch_token(meta["token_endpoint"], code=code, code_verifier=code_verifier)
            except TRANSPORT_ERRORS as exc:
                raise UnavailableError(f"the identity provider's token endpoint did not answer: {exc}") from exc
            except OAuthError as exc:  # the provider's own error code: a used or expired code, a wrong secret
                raise UnauthorizedError(f"the identity provider refused the login: {exc}") from exc
            except ValueError as exc:
                raise UnavailableError(f"the identity provider's token endpoint answered nonsense: {exc}") from exc
            id_token = token.get("id_token")
            if not id_token:
                raise UnauthorizedError("the identity provider sent no ID token (is `openid` among the scopes?)")
            claims = await self._verified_claims(str(id_token), nonce)
            if meta.get("userinfo_endpoint"):
                info = await self._userinfo(client, meta["userinfo_endpoint"])
                if info.get("sub") not in (None, claims["sub"]):
                    raise UnauthorizedError("the identity provider's userinfo is about another subject")
                claims = {**info, **claims}
        return Identity(issuer=str(claims["iss"]), subject=str(claims["sub"]), claims=claims, id_token=str(id_token))

    async def _verified_claims(self, id_token: str, nonce: str) -> dict[str, Any]:
        try:
            decoded = jwt.decode(id_token, await self._key_set(id_token))
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": (await self.metadata())["issuer"]},
                sub={"essential": True},
                exp={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise UnauthorizedError(f"the ID token is not valid: {exc}") from exc
        claims = dict(decoded.claims)
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.settings.oidc_client_id not in audiences:
            raise UnauthorizedError("the ID token is for another client (its audience)")
        if len(audiences) > 1 and claims.get("azp") not in (None, self.settings.oidc_client_id):
            raise UnauthorizedError("the ID token was issued to another client (azp)")
        return claims

    async def _key_set(self, id_token: str) -> KeySet:
        from joserfc.jws import extract_compact

        try:
            kid = extract_compact(id_token.encode()).protected.get("kid")
        except (JoseError, ValueError) as exc:
            raise UnauthorizedError(f"the ID token is not a JWT: {exc}") from exc
        known = self._keys is not None and (kid is None or any(k.kid == kid for k in self._keys.keys))
        if not known:
            self._keys = KeySet.import_key_set(await self._get_json((await self.metadata())["jwks_uri"]))
        assert self._keys is not None
        return self._keys

    async def _userinfo(self, client: AsyncOAuth2Client, endpoint: str) -> dict[str, Any]:
        try:
            response = await client.get(endpoint)
        except TRANSPORT_ERRORS as exc:
            raise UnavailableError(f"the identity provider's userinfo endpoint did not answer: {exc}") from exc
        if response.status_code != 200 or "json" not in response.headers.get("content-type", ""):
            return {}  # a signed (JWT) or failed userinfo: the ID token's claims stand alone
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.get(url)
                response.raise_for_status()
                body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise UnavailableError(f"could not read {url} from the identity provider: {exc}") from exc
        if not isinstance(body, dict):
            raise UnavailableError(f"{url} is not a JSON object")
        return body
