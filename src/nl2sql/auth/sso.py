"""SsoService: single sign-on with OpenID Connect: a login begun and finished (its state in the app database, so any
container finishes it), users created and updated from the provider's claims, and groups mapped to a role and
connections (from the settings, and more on /admin/identity, each change audited)."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.audit import record
from nl2sql.auth.dto import NewSession, Role, User
from nl2sql.auth.models import GroupMappingRow, OidcLoginRow, UserRow
from nl2sql.auth.oidc import PROTOCOL_CLAIMS, Identity, IdentityProvider
from nl2sql.auth.service import EMAIL, AuthService, _audit_view, _user
from nl2sql.db import utcnow
from nl2sql.errors import ConflictError, NotFoundError, UnauthorizedError, ValidationFailed
from nl2sql.settings import AuthSettings

# a login not back from the provider after this long is refused and purged
LOGIN_TTL = timedelta(minutes=10)
# (user id, connections the user's groups grant, connections the mappings govern) -> connections granted now; the
# catalog owns grants, so the app hands the auth module this one door onto them
GrantSync = Callable[[int, set[str], set[str]], Awaitable[list[str]]]


@dataclass(frozen=True)
class GroupMapping:
    """A group at the identity provider: the role and connections its members get."""

    group: str
    role: Role | None
    connections: tuple[str, ...]
    source: str  # "settings" (NL2SQL_OIDC_GROUP_*: read-only here) or "admin" (/admin/identity)
    id: int | None = None


@dataclass(frozen=True)
class Mapped:
    """What a set of groups gives: a role, the connections granted, and those the mappings govern at all."""

    role: Role
    connections: frozenset[str]
    governed: frozenset[str]


@dataclass(frozen=True)
class SsoOutcome:
    """A finished login: the user and session; or, for a test login, only what the provider said and what it maps to."""

    purpose: str
    next_path: str
    claims: dict[str, Any]
    groups: tuple[str, ...]
    mapped: Mapped
    user: User | None = None
    session: NewSession | None = None
    granted: tuple[str, ...] = field(default=())


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def groups_of(claims: dict[str, Any], claim: str) -> tuple[str, ...]:
    """The groups the claim names; a dotted path reaches into objects (Keycloak's `realm_access.roles`)."""
    value: Any = claims.get(claim) if claim in claims else claims
    if claim not in claims:  # a claim whose own name holds a dot (a URL-named claim) wins over the path
        for part in claim.split("."):
            value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                break
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(sorted({str(g) for g in value if isinstance(g, (str, int)) and str(g)}))


def groups_left_out(claims: dict[str, Any], claim: str) -> bool:
    """Whether the provider left the groups claim out and pointed elsewhere for it (a "group overage": Entra ID's
    `_claim_names` names the claim when a user is in too many groups for the token)."""
    pointers = claims.get("_claim_names")
    return claim not in claims and isinstance(pointers, dict) and claim.split(".")[0] in pointers


def map_groups(groups: Iterable[str], mappings: Iterable[GroupMapping]) -> Mapped:
    """Admin if any group maps to admin; connections: the union over the groups; governed: every mapped connection."""
    mine = set(groups)
    role, connections, governed = Role.ANALYST, set(), set()
    for mapping in mappings:
        governed.update(mapping.connections)
        if mapping.group in mine:
            connections.update(mapping.connections)
            if mapping.role == Role.ADMIN:
                role = Role.ADMIN
    return Mapped(role=role, connections=frozenset(connections), governed=frozenset(governed))


class SsoService:
    """Every single sign-on use case; holds no request state (the provider's metadata cache aside)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: AuthSettings, auth: AuthService, *,
                 provider: IdentityProvider | None = None, grants: GrantSync | None = None) -> None:
        self._sessions = sessions
        self.settings = settings
        self._auth = auth
        self.provider = provider or (IdentityProvider(settings) if settings.sso_enabled else None)
        self.grants = grants

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def _provider(self) -> IdentityProvider:
        if self.provider is None:
            raise NotFoundError("single sign-on is not set up (NL2SQL_OIDC_ISSUER)")
        return self.provider

    # the flow ------------------------------------------------------------------------------------------------

    async def begin(self, redirect_uri: str, *, next_path: str = "/", purpose: str = "login") -> tuple[str, str]:
        """Store a fresh state, nonce and PKCE verifier; the provider's URL to send the browser to, and the state
        (the pages bind it to the browser with a cookie)."""
        request = await self._provider().authorization_request(redirect_uri)
        now = utcnow()
        async with self._sessions() as db:
            await db.execute(sa.delete(OidcLoginRow).where(OidcLoginRow.created_at < now - LOGIN_TTL))
            db.add(OidcLoginRow(state_hash=_digest(request.state), nonce=request.nonce,
                                code_verifier=request.code_verifier, redirect_uri=redirect_uri[:2000],
                                next_path=next_path[:2000], purpose=purpose, created_at=now))
            await db.commit()
        return request.url, request.state

    async def finish(self, *, state: str | None, code: str | None, error: str | None = None,
                     error_description: str | None = None, client_addr: str = "unknown",
                     user_agent: str = "") -> SsoOutcome:
        """Check the state (once only), redeem the code, and log the user in (or, for a test, only map them)."""
        if error:  # nothing logs in; the provider's reason is what the person needs to see (its state is dropped)
            if state:
                await self._take_login(state, check=False)
            raise UnauthorizedError(f"the identity provider refused the login: {error}"
                                    + (f" ({error_description})" if error_description else ""))
        login = await self._take_login(state)
        assert login is not None  # checked: a missing login raised
        if not code:
            raise UnauthorizedError("the identity provider sent no authorization code")
        identity = await self._provider().redeem(code, redirect_uri=login.redirect_uri,
                                                 code_verifier=login.code_verifier, nonce=login.nonce)
        if groups_left_out(identity.claims, self.settings.oidc_groups_claim):
            raise UnauthorizedError(
                "the identity provider left this account's groups out of the login and sent a link to them instead "
                "(Microsoft Entra ID does so past 200 groups), so its role and connections can't be decided. An "
                "admin can have the provider send only the groups assigned to this application, or map app roles "
                "(NL2SQL_OIDC_GROUPS_CLAIM=roles); see docs/sso.md")
        groups = groups_of(identity.claims, self.settings.oidc_groups_claim)
        mapped = map_groups(groups, await self.mappings())
        outcome = SsoOutcome(purpose=login.purpose, next_path=login.next_path, claims=identity.claims,
                             groups=groups, mapped=mapped)
        if login.purpose == "test":
            return outcome
        user = await self._upsert_user(identity, groups, mapped)
        granted: list[str] = []
        if self.grants is not None and mapped.governed:
            granted = await self.grants(user.id, set(mapped.connections), set(mapped.governed))
        session = await self._auth.open_session(user, client_addr=client_addr, user_agent=user_agent,
                                                id_token=identity.id_token)
        return SsoOutcome(purpose=login.purpose, next_path=login.next_path, claims=identity.claims, groups=groups,
                          mapped=mapped, user=user, session=session, granted=tuple(granted))

    async def _take_login(self, state: str | None, *, check: bool = True) -> OidcLoginRow | None:
        # deleted as it is read: a state is good for one callback, from whichever container receives it
        if not state:
            raise UnauthorizedError("the login came back without its state: start it again")
        async with self._sessions() as db:
            row = (await db.scalars(sa.delete(OidcLoginRow).where(OidcLoginRow.state_hash == _digest(state))
                                    .returning(OidcLoginRow))).first()
            await db.commit()
        if not check:
            return row
        if row is None:
            raise UnauthorizedError("this login's state is unknown or already used: start the login again")
        if row.created_at < utcnow() - LOGIN_TTL:
            raise UnauthorizedError("this login took too long: start it again")
        return row

    def _attributes(self, claims: dict[str, Any]) -> dict[str, Any]:
        groups_claim = self.settings.oidc_groups_claim.split(".")[0]
        return {k: v for k, v in sorted(claims.items()) if k not in PROTOCOL_CLAIMS and k != groups_claim}

    async def _upsert_user(self, identity: Identity, groups: tuple[str, ...], mapped: Mapped) -> User:
        claims = identity.claims
        email = str(claims.get("email") or "").strip().lower()
        if not EMAIL.match(email):
            raise UnauthorizedError("the identity provider sent no usable email claim (add the `email` scope)")
        subject = f"{identity.issuer} {identity.subject}"
        name = str(claims.get("name") or claims.get("preferred_username") or email.split("@")[0]).strip()[:200]
        now = utcnow()
        async with self._sessions() as db:
            row = await db.scalar(sa.select(UserRow).where(UserRow.sso_subject == subject).with_for_update())
            if row is None:
                row = await self._link_by_email(db, email, claims)
            before = _audit_view(row) | {"groups": list(row.groups or [])} if row is not None else None
            if row is None:
                row = UserRow(email=email, display_name=name or email, role=mapped.role.value, is_active=True,
                              password_hash="", created_at=now, updated_at=now)
                db.add(row)
            if not row.is_active:
                raise UnauthorizedError("this account is disabled; ask an admin")
            if row.email != email and await db.scalar(sa.select(UserRow.id).where(UserRow.email == email)):
                raise ConflictError(f"another account already has the email {email}")
            row.sso_subject, row.email, row.display_name = subject, email, name or row.display_name
            if row.role == Role.ADMIN.value and mapped.role != Role.ADMIN and await self._last_admin(db, row):
                pass  # the groups would demote the last active admin: keep them an admin, locked out of nothing
            else:
                row.role = mapped.role.value
            # the provider's claims win over the same names; attributes an admin set that it doesn't send stay
            row.groups, row.updated_at, row.sso_login_at = list(groups), now, now
            row.attributes = {**(row.attributes or {}), **self._attributes(claims)}
            await db.flush()
            after = _audit_view(row) | {"groups": list(groups)}
            if before is None:
                record(db, actor_id=row.id, actor_email="sso", action="user.create", target=f"user:{email}", after=after)
            elif before != after:
                record(db, actor_id=row.id, actor_email="sso", action="user.update", target=f"user:{email}",
                       before=before, after=after)
            await db.commit()
            return _user(row)

    async def _link_by_email(self, db: AsyncSession, email: str, claims: dict[str, Any]) -> UserRow | None:
        """A local account with the same email becomes this provider's user, unless the provider says the email is
        unverified or it is the break-glass admin (whom only a password opens, whatever the provider says)."""
        row = await db.scalar(sa.select(UserRow).where(UserRow.email == email).with_for_update())
        if row is None:
            return None
        if row.sso_subject is not None:
            raise ConflictError(f"{email} already logs in as another identity at the provider")
        if claims.get("email_verified") is False:
            raise UnauthorizedError(f"the identity provider has not verified {email}; it cannot take over that account")
        if await self._auth.is_break_glass(row.id):
            raise UnauthorizedError(f"{email} is the break-glass admin account: log in with its password")
        return row

    @staticmethod
    async def _last_admin(db: AsyncSession, row: UserRow) -> bool:
        others = await db.scalar(sa.select(sa.func.count()).select_from(UserRow).where(
            UserRow.role == Role.ADMIN.value, UserRow.is_active.is_(True), UserRow.id != row.id))
        return not others

    async def logout_url(self, post_logout_redirect_uri: str, id_token_hint: str | None = None) -> str | None:
        """The provider's end-session URL (RP-initiated logout), when its discovery document names one, with the
        session's ID token as `id_token_hint` (which tells the provider whose session ends)."""
        if self.provider is None:
            return None
        endpoint = await self.provider.end_session_endpoint()
        if not endpoint:
            return None
        params = {"client_id": self.settings.oidc_client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        query = urlencode(params)
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    # group mappings ------------------------------------------------------------------------------------------

    async def mappings(self) -> list[GroupMapping]:
        """The settings' mappings, then the admins' (a group in both gets both)."""
        roles, grants = self.settings.group_roles, self.settings.group_grants
        found = [GroupMapping(group=g, role=Role(roles[g]) if g in roles else None, connections=grants.get(g, ()),
                              source="settings") for g in sorted(set(roles) | set(grants))]
        async with self._sessions() as db:
            rows = await db.scalars(sa.select(GroupMappingRow).order_by(GroupMappingRow.group_name))
            found += [GroupMapping(group=r.group_name, role=Role(r.role) if r.role else None,
                                   connections=tuple(r.connections or ()), source="admin", id=r.id) for r in rows]
        return found

    async def add_mapping(self, actor: User, group: str, *, role: str | None,
                          connections: Iterable[str]) -> GroupMapping:
        group = group.strip()
        if not group or len(group) > 500:
            raise ValidationFailed("the group name must have 1 to 500 characters")
        if role and role not in (Role.ADMIN, Role.ANALYST):
            raise ValidationFailed("role must be admin, analyst or none")
        names = tuple(sorted({c.strip() for c in connections if c.strip()}))
        if not role and not names:
            raise ValidationFailed("map the group to a role, a connection or both")
        async with self._sessions() as db:
            if await db.scalar(sa.select(GroupMappingRow.id).where(GroupMappingRow.group_name == group)):
                raise ConflictError(f"the group {group} is mapped already: remove that mapping first")
            row = GroupMappingRow(group_name=group, role=role or None, connections=list(names), created_at=utcnow())
            db.add(row)
            await db.flush()
            record(db, actor_id=actor.id, actor_email=actor.email, action="sso.mapping.create",
                   target=f"sso_group:{group}", after={"role": row.role, "connections": list(names)})
            await db.commit()
            return GroupMapping(group=group, role=Role(role) if role else None, connections=names, source="admin",
                                id=row.id)

    async def remove_mapping(self, actor: User, mapping_id: int) -> None:
        async with self._sessions() as db:
            row = await db.get(GroupMappingRow, mapping_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no group mapping with id {mapping_id}")
            record(db, actor_id=actor.id, actor_email=actor.email, action="sso.mapping.delete",
                   target=f"sso_group:{row.group_name}", before={"role": row.role, "connections": row.connections})
            await db.delete(row)
            await db.commit()
