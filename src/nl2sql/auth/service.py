"""AuthService: users, passwords, browser sessions, login throttling and API keys."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nl2sql.auth.dto import ApiKey, NewApiKey, NewSession, Principal, Role, User
from nl2sql.auth.models import ApiKeyRow, LoginFailureRow, SessionRow, UserRow
from nl2sql.auth.passwords import Passwords
from nl2sql.audit import record
from nl2sql.db import utcnow
from nl2sql.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    UnauthorizedError,
    ValidationFailed,
)
from nl2sql.settings import AuthSettings

# no spaces or control characters; at most 320 characters (RFC 5321's limit, and the column's)
EMAIL = re.compile(r"^(?=.{3,320}$)(?:[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+|[^@\s\x00-\x1f\x7f]+@localhost)$")
KEY_PREFIX = "nl2sql_"
# last_seen/last_used are written at most this often, so busy clients don't write on every request
TOUCH_EVERY = timedelta(seconds=60)


def _digest(secret: str) -> str:
    # tokens and keys carry 256 bits of randomness: a plain SHA-256 is enough to store them
    return hashlib.sha256(secret.encode()).hexdigest()


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        role=Role(row.role),
        is_active=row.is_active,
        created_at=row.created_at,
        last_login_at=row.last_login_at,
        mcp_access=row.mcp_access,
        groups=tuple(row.groups or ()),
        attributes=dict(row.attributes or {}),
        sso=row.sso_subject is not None,
        sso_subject=row.sso_subject, sso_login_at=row.sso_login_at,
    )


def _audit_view(row: UserRow) -> dict:
    return {"email": row.email, "display_name": row.display_name, "role": row.role, "is_active": row.is_active,
            "mcp_access": row.mcp_access}


def _api_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class AuthService:
    """Every auth use case; holds no request state."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: AuthSettings) -> None:
        self._sessions = sessions
        self.settings = settings
        self.passwords = Passwords(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )

    # users -----------------------------------------------------------------------------------

    def _check_password(self, password: str) -> None:
        if len(password) < self.settings.password_min_length:
            raise ValidationFailed(f"the password must have at least {self.settings.password_min_length} characters")

    async def count_users(self) -> int:
        async with self._sessions() as db:
            return await db.scalar(sa.select(sa.func.count()).select_from(UserRow)) or 0

    async def create_user(
        self,
        email: str,
        password: str,
        *,
        role: Role | str = Role.ANALYST,
        display_name: str | None = None,
        actor: User | None = None,
    ) -> User:
        email = email.strip().lower()
        if not EMAIL.match(email):
            raise ValidationFailed(f"{email[:80]!r}{'...' if len(email) > 80 else ''} is not an email address")
        try:
            role = Role(role)
        except ValueError:
            raise ValidationFailed("role must be admin or analyst") from None
        self._check_password(password)
        now = utcnow()
        row = UserRow(
            email=email,
            display_name=(display_name or "").strip() or email.split("@")[0],
            role=role.value,
            is_active=True,
            password_hash=self.passwords.hash(password),
            created_at=now,
            updated_at=now,
        )
        async with self._sessions() as db:
            if await db.scalar(sa.select(UserRow.id).where(UserRow.email == email)):
                raise ConflictError(f"a user with email {email} already exists")
            db.add(row)
            await db.flush()
            record(
                db,
                actor_id=actor.id if actor else None,
                actor_email=actor.email if actor else "cli",
                action="user.create",
                target=f"user:{email}",
                after=_audit_view(row),
            )
            await db.commit()
            return _user(row)

    async def bootstrap_admin(self, email: str | None, password: str | None) -> User | None:
        """Create the first admin from settings, only while no user exists."""
        if not email or not password:
            return None
        try:
            return await self.create_first_admin(email, password, via="bootstrap")
        except ConflictError:
            return None

    async def create_first_admin(self, email: str, password: str, *, via: str = "setup") -> User:
        """The instance's first user, an admin; ConflictError once any user exists (two racing requests: one wins)."""
        email = email.strip().lower()
        if not EMAIL.match(email):
            raise ValidationFailed(f"{email[:80]!r}{'...' if len(email) > 80 else ''} is not an email address")
        self._check_password(password)
        password_hash = self.passwords.hash(password)  # slow: outside the lock
        # an advisory lock keeps two requests (or two containers starting together) from both creating one
        async with self._sessions() as db:
            await db.execute(sa.text("SELECT pg_advisory_xact_lock(727301)"))
            if await db.scalar(sa.select(sa.func.count()).select_from(UserRow)):
                raise ConflictError("this instance already has an admin: log in instead")
            now = utcnow()
            row = UserRow(
                email=email,
                display_name=email.split("@")[0],
                role=Role.ADMIN.value,
                is_active=True,
                password_hash=password_hash,
                created_at=now,
                updated_at=now,
            )
            db.add(row)
            await db.flush()
            record(db, actor_id=row.id, actor_email=via, action="user.create", target=f"user:{email}",
                   after=_audit_view(row))
            await db.commit()
            return _user(row)

    async def get_user(self, user_id: int) -> User:
        async with self._sessions() as db:
            row = await db.get(UserRow, user_id)
            if row is None:
                raise NotFoundError(f"no user with id {user_id}")
            return _user(row)

    async def find_user(self, email: str) -> User:
        async with self._sessions() as db:
            row = await db.scalar(sa.select(UserRow).where(UserRow.email == email.strip().lower()))
            if row is None:
                raise NotFoundError(f"no user with email {email}")
            return _user(row)

    async def list_users(self) -> list[User]:
        async with self._sessions() as db:
            rows = await db.scalars(sa.select(UserRow).order_by(UserRow.email))
            return [_user(r) for r in rows]

    async def update_user(
        self,
        actor: User,
        user_id: int,
        *,
        role: Role | str | None = None,
        is_active: bool | None = None,
        display_name: str | None = None,
        password: str | None = None,
        mcp_access: bool | None = None,
    ) -> User:
        """Change a user's role, active flag, name, password or MCP access (admin)."""
        async with self._sessions() as db:
            row = await db.get(UserRow, user_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no user with id {user_id}")
            before = _audit_view(row)
            if role is not None:
                try:
                    role = Role(role)
                except ValueError:
                    raise ValidationFailed("role must be admin or analyst") from None
                if row.role == Role.ADMIN and role != Role.ADMIN:
                    await self._keep_one_admin(db, row.id, "demote")
                row.role = role.value
            if is_active is not None:
                if not is_active and row.role == Role.ADMIN:
                    await self._keep_one_admin(db, row.id, "disable")
                if not is_active and row.id == actor.id:
                    raise ValidationFailed("you cannot disable your own account")
                row.is_active = is_active
                if not is_active:
                    await self._revoke_sessions(db, row.id)
            if display_name is not None:
                if not display_name.strip():
                    raise ValidationFailed("the display name cannot be empty")
                row.display_name = display_name.strip()
            if password is not None:
                self._check_password(password)
                row.password_hash = self.passwords.hash(password)
                await self._revoke_sessions(db, row.id)
            if mcp_access is not None:
                row.mcp_access = mcp_access
            row.updated_at = utcnow()
            after = _audit_view(row)
            if password is not None:
                after["password"] = "reset"
            record(
                db, actor_id=actor.id, actor_email=actor.email, action="user.update", target=f"user:{row.email}",
                before=before, after=after,
            )
            await db.commit()
            return _user(row)

    async def _keep_one_admin(self, db: AsyncSession, user_id: int, verb: str) -> None:
        others = await db.scalar(
            sa.select(sa.func.count())
            .select_from(UserRow)
            .where(UserRow.role == Role.ADMIN.value, UserRow.is_active.is_(True), UserRow.id != user_id)
        )
        if not others:
            raise ValidationFailed(f"cannot {verb} the last active admin")

    async def change_password(self, user: User, current: str, new: str, *, keep_session: int | None = None) -> int:
        """Change one's own password; every other browser session of the user is logged out (the one the change
        was made from, `keep_session`, stays). Returns how many sessions were ended."""
        async with self._sessions() as db:
            row = await db.get(UserRow, user.id, with_for_update=True)
            if row is None or not self.passwords.verify(row.password_hash, current):
                raise ValidationFailed("the current password is wrong")
            self._check_password(new)
            row.password_hash = self.passwords.hash(new)
            row.updated_at = utcnow()
            ended = await db.execute(
                sa.update(SessionRow)
                .where(SessionRow.user_id == user.id, SessionRow.revoked_at.is_(None),
                       SessionRow.id != (keep_session if keep_session is not None else -1))
                .values(revoked_at=utcnow())
            )
            await db.commit()
            return ended.rowcount or 0

    # login and sessions ----------------------------------------------------------------------

    async def login(self, email: str, password: str, *, client_addr: str, user_agent: str = "") -> tuple[User, NewSession]:
        """Check the password (throttled per email and per client address) and open a session."""
        email = email.strip().lower()
        if not EMAIL.match(email):  # no account can have it: say so before touching the database
            raise ValidationFailed("that is not an email address (at most 320 characters, no spaces)")
        now = utcnow()
        window = timedelta(minutes=self.settings.login_window_minutes)
        async with self._sessions() as db:
            await self._check_throttle(db, email, client_addr, now, window)
            row = await db.scalar(sa.select(UserRow).where(UserRow.email == email))
            if not self.settings.local_login and (row is None or not await self._break_glass(db, row.id)):
                raise ForbiddenError("password login is off: log in with single sign-on")
            ok = self.passwords.verify(row.password_hash if row else None, password)
            if not ok or row is None or not row.is_active:
                db.add(LoginFailureRow(email=email, client_addr=client_addr, created_at=now))
                await db.commit()
                if ok and row is not None and not row.is_active:
                    raise UnauthorizedError("this account is disabled; ask an admin")
                raise UnauthorizedError("wrong email or password")
            if self.passwords.needs_rehash(row.password_hash):
                row.password_hash = self.passwords.hash(password)
            row.last_login_at = now
            await db.execute(sa.delete(LoginFailureRow).where(LoginFailureRow.email == email))
            session = self._new_session(db, row.id, now, client_addr, user_agent)
            await db.commit()
            return _user(row), session

    async def is_break_glass(self, user_id: int) -> bool:
        """The account a password always opens, local login off or not: the bootstrap admin (NL2SQL_BOOTSTRAP_ADMIN_EMAIL),
        or without one the instance's first user, so an identity provider's outage never locks the admins out."""
        async with self._sessions() as db:
            return await self._break_glass(db, user_id)

    async def _break_glass(self, db: AsyncSession, user_id: int) -> bool:
        wanted = (self.settings.bootstrap_admin_email or "").strip().lower()
        found = sa.select(UserRow.id).where(UserRow.role == Role.ADMIN.value)
        if wanted:
            found = found.where(UserRow.email == wanted)
        else:
            found = sa.select(UserRow.id).order_by(UserRow.id).limit(1)
        return await db.scalar(found) == user_id

    async def open_session(self, user: User, *, client_addr: str, user_agent: str = "", id_token: str | None = None) -> NewSession:
        """A browser session for a user who just proved who they are another way (the first-run setup, single
        sign-on with the provider's `id_token`): a login, so it is recorded as their last one."""
        now = utcnow()
        async with self._sessions() as db:
            await db.execute(sa.update(UserRow).where(UserRow.id == user.id).values(last_login_at=now))
            session = self._new_session(db, user.id, now, client_addr, user_agent, id_token)
            await db.commit()
            return session

    def _new_session(self, db: AsyncSession, user_id: int, now: datetime, client_addr: str, user_agent: str,
                     id_token: str | None = None) -> NewSession:
        token = secrets.token_urlsafe(32)
        expires = now + timedelta(hours=self.settings.session_max_hours)
        db.add(
            SessionRow(
                token_hash=_digest(token),
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                expires_at=expires,
                client_addr=client_addr[:64],
                user_agent=user_agent[:300] or None,
                id_token=id_token,
            )
        )
        return NewSession(token=token, expires_at=expires)

    async def _check_throttle(
        self, db: AsyncSession, email: str, client_addr: str, now: datetime, window: timedelta
    ) -> None:
        """Refuse a login attempt that comes too soon after failures; nobody is locked out for long.

        - this account from this address: `login_max_failures` tries, then a pause that doubles with each
          further failure (15 s, 30 s, ... at most the window);
        - this account from anywhere: after three times as many failures, a short growing pause (at most 30 s)
          between attempts, so a guesser with many addresses is slowed without locking the owner out;
        - this address for any account: `login_address_max_failures` in the window (password spraying).
        """
        since = now - window
        limit = self.settings.login_max_failures
        recent = LoginFailureRow.created_at > since

        async def failures(*where) -> tuple[int, datetime | None]:
            count, last = (await db.execute(
                sa.select(sa.func.count(), sa.func.max(LoginFailureRow.created_at)).where(recent, *where))).one()
            return int(count), last

        pair, last = await failures(LoginFailureRow.email == email, LoginFailureRow.client_addr == client_addr)
        if pair >= limit and last is not None:
            pause = min(window.total_seconds(), 15.0 * 2 ** (pair - limit))
            _refuse_until(last + timedelta(seconds=pause), now, "this account from your address")
        account, last = await failures(LoginFailureRow.email == email)
        if account >= 3 * limit and last is not None:
            pause = min(30.0, 2.0 ** (account - 3 * limit + 1))
            _refuse_until(last + timedelta(seconds=pause), now, "this account")
        ceiling = self.settings.login_address_max_failures
        spread = (await db.scalars(
            sa.select(LoginFailureRow.created_at).where(recent, LoginFailureRow.client_addr == client_addr)
            .order_by(LoginFailureRow.created_at.desc()).offset(ceiling - 1).limit(1))).first()
        if spread is not None:
            # until the oldest of the last `ceiling` failures leaves the window
            _refuse_until(spread + window, now, "your address")

    async def resolve_session(self, token: str) -> Principal | None:
        """The session's user if the token is live (not revoked, idle or past its absolute expiry)."""
        now = utcnow()
        idle = timedelta(minutes=self.settings.session_idle_minutes)
        async with self._sessions() as db:
            found = (
                await db.execute(
                    sa.select(SessionRow, UserRow)
                    .join(UserRow, UserRow.id == SessionRow.user_id)
                    .where(SessionRow.token_hash == _digest(token))
                )
            ).first()
            if found is None:
                return None
            session, user = found
            if (
                session.revoked_at is not None
                or session.expires_at <= now
                or session.last_seen_at + idle <= now
                or not user.is_active
            ):
                return None
            if now - session.last_seen_at >= TOUCH_EVERY:
                session.last_seen_at = now
                await db.commit()
            return Principal(user=_user(user), session_id=session.id)

    async def logout(self, session_id: int) -> str | None:
        """End the session; the identity provider's ID token it was opened with, if any (for the provider's logout:
        a revoked session has no use for it, so it is not kept)."""
        async with self._sessions() as db:
            token = await db.scalar(sa.select(SessionRow.id_token).where(SessionRow.id == session_id).with_for_update())
            await db.execute(sa.update(SessionRow).where(SessionRow.id == session_id).values(revoked_at=utcnow(), id_token=None))
            await db.commit()
        return token

    async def _revoke_sessions(self, db: AsyncSession, user_id: int) -> None:
        await db.execute(
            sa.update(SessionRow)
            .where(SessionRow.user_id == user_id, SessionRow.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )

    async def purge_expired(self) -> int:
        """Delete sessions and login failures nobody can use any more."""
        now = utcnow()
        async with self._sessions() as db:
            gone = await db.execute(
                sa.delete(SessionRow).where(
                    sa.or_(SessionRow.expires_at < now, SessionRow.revoked_at < now - timedelta(days=1))
                )
            )
            await db.execute(
                sa.delete(LoginFailureRow).where(
                    LoginFailureRow.created_at < now - timedelta(minutes=self.settings.login_window_minutes)
                )
            )
            await db.commit()
            return gone.rowcount or 0

    # API keys --------------------------------------------------------------------------------

    async def create_api_key(
        self, actor: User, *, name: str, user_id: int | None = None, expires_at: datetime | None = None
    ) -> NewApiKey:
        """A new key for `user_id` (admins only for others), shown once."""
        owner_id = actor.id if user_id is None else user_id
        if owner_id != actor.id and not actor.is_admin:
            raise ForbiddenError("only admins can create keys for other users")
        name = (name or "").strip() or "API key"
        if len(name) > 200:
            raise ValidationFailed("the key name is longer than 200 characters")
        now = utcnow()
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise ValidationFailed("expires_at needs a time zone, e.g. 2027-01-01T00:00:00Z")
            if expires_at <= now:
                raise ValidationFailed("expires_at is in the past")
        public = secrets.token_hex(4)
        key = f"{KEY_PREFIX}{public}_{secrets.token_urlsafe(32)}"
        async with self._sessions() as db:
            owner = await db.get(UserRow, owner_id)
            if owner is None:
                raise NotFoundError(f"no user with id {owner_id}")
            row = ApiKeyRow(
                user_id=owner_id,
                name=name,
                prefix=f"{KEY_PREFIX}{public}",
                key_hash=_digest(key),
                created_at=now,
                created_by=actor.id,
                expires_at=expires_at,
            )
            db.add(row)
            if owner_id != actor.id:
                record(
                    db, actor_id=actor.id, actor_email=actor.email, action="api_key.create",
                    target=f"user:{owner.email}", after={"name": name, "prefix": row.prefix},
                )
            await db.commit()
            return NewApiKey(key=key, api_key=_api_key(row))

    async def list_api_keys(self, actor: User, *, user_id: int | None = None) -> list[ApiKey]:
        owner_id = actor.id if user_id is None else user_id
        if owner_id != actor.id and not actor.is_admin:
            raise ForbiddenError("only admins can see other users' keys")
        async with self._sessions() as db:
            rows = await db.scalars(
                sa.select(ApiKeyRow).where(ApiKeyRow.user_id == owner_id).order_by(ApiKeyRow.created_at.desc())
            )
            return [_api_key(r) for r in rows]

    async def revoke_api_key(self, actor: User, key_id: int) -> ApiKey:
        async with self._sessions() as db:
            row = await db.get(ApiKeyRow, key_id, with_for_update=True)
            # someone else's key is reported as missing, not forbidden, so ids can't be probed
            if row is None or (row.user_id != actor.id and not actor.is_admin):
                raise NotFoundError(f"no API key with id {key_id}")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                if row.user_id != actor.id:
                    record(
                        db, actor_id=actor.id, actor_email=actor.email, action="api_key.revoke",
                        target=f"api_key:{row.prefix}", before={"user_id": row.user_id},
                    )
            await db.commit()
            return _api_key(row)

    async def resolve_api_key(self, key: str) -> Principal:
        """The key's user, or UnauthorizedError saying why (invalid, revoked, expired, user disabled)."""
        if not key.startswith(KEY_PREFIX):
            raise UnauthorizedError("invalid API key")
        now = utcnow()
        async with self._sessions() as db:
            found = (
                await db.execute(
                    sa.select(ApiKeyRow, UserRow)
                    .join(UserRow, UserRow.id == ApiKeyRow.user_id)
                    .where(ApiKeyRow.key_hash == _digest(key))
                )
            ).first()
            if found is None:
                raise UnauthorizedError("invalid API key")
            row, user = found
            if row.revoked_at is not None:
                raise UnauthorizedError("this API key has been revoked")
            if row.expires_at is not None and row.expires_at <= now:
                raise UnauthorizedError("this API key has expired")
            if not user.is_active:
                raise UnauthorizedError("the user of this API key is disabled")
            if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
                row.last_used_at = now
                await db.commit()
            return Principal(user=_user(user), api_key_id=row.id)


def _refuse_until(until: datetime, now: datetime, what: str) -> None:
    wait = (until - now).total_seconds()
    if wait <= 0:
        return
    retry = int(wait) + 1
    when = f"{retry} seconds" if retry < 120 else f"{(retry + 59) // 60} minutes"
    raise RateLimitedError(
        f"too many failed logins for {what}; try again in {when} (at {until:%H:%M:%S} UTC)", retry_after=retry)
