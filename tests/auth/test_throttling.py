"""Login throttling: per account and address a growing pause, per account a short one, per address a high
ceiling; a neighbour's failures from the same address never lock out a correct password."""

import sqlalchemy as sa
import pytest

from nl2sql.auth import AuthService
from nl2sql.errors import RateLimitedError, UnauthorizedError
from nl2sql.settings import AuthSettings
from tests.support import ADMIN_PASSWORD, login

FAST = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}


def _age_failures(settings, seconds: float) -> None:
    engine = sa.create_engine(settings.database.url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE login_failures SET created_at = created_at - make_interval(secs => :s)"),
                     {"s": seconds})
    engine.dispose()


async def test_sixth_wrong_password_for_one_email_waits_a_short_pause(client, admin, settings):
    for _ in range(5):
        assert (await login(client, admin.email, "wrong password!!")).status_code == 401
    blocked = await login(client, admin.email, "wrong password!!")
    assert blocked.status_code == 429
    assert 0 < int(blocked.headers["Retry-After"]) <= 16
    assert "too many failed logins for this account from your address; try again in" in blocked.text
    assert "UTC" in blocked.text  # names when
    # even the right password waits for the pause
    assert (await login(client, admin.email, ADMIN_PASSWORD)).status_code == 429
    engine = sa.create_engine(settings.database.url)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM login_failures WHERE email = :e"), {"e": admin.email}) == 5
    engine.dispose()
    # once the pause is over the right password works: a delay, not a lock
    _age_failures(settings, 16)
    assert (await login(client, admin.email, ADMIN_PASSWORD)).status_code == 303


async def test_the_pause_doubles_with_each_further_failure(client, admin, settings):
    for _ in range(5):
        await login(client, admin.email, "wrong password!!")
    _age_failures(settings, 16)
    assert (await login(client, admin.email, "wrong password!!")).status_code == 401  # the sixth failure
    blocked = await login(client, admin.email, ADMIN_PASSWORD)
    assert blocked.status_code == 429
    assert 16 < int(blocked.headers["Retry-After"]) <= 31


async def test_a_neighbours_failures_from_the_same_address_do_not_lock_out_a_correct_password(client, admin):
    for n in range(12):
        await login(client, f"nobody{n}@example.com", "wrong password!!")
    assert (await login(client, admin.email, ADMIN_PASSWORD)).status_code == 303


async def test_an_attacker_elsewhere_slows_the_account_without_locking_its_owner_out(client, admin, settings):
    auth = AuthService(client.app.state.db.sessions, AuthSettings(**FAST))
    # someone who knows the email tries from many addresses
    for n in range(15):
        with pytest.raises(UnauthorizedError):
            await auth.login(admin.email, "guess number %d!" % n, client_addr=f"203.0.113.{n}")
    with pytest.raises(RateLimitedError) as slowed:
        await auth.login(admin.email, ADMIN_PASSWORD, client_addr="198.51.100.7")
    assert slowed.value.retry_after <= 31
    _age_failures(settings, 31)
    user, _ = await auth.login(admin.email, ADMIN_PASSWORD, client_addr="198.51.100.7")
    assert user.email == admin.email


async def test_password_spraying_from_one_address_hits_the_address_ceiling(client, admin, settings):
    auth = AuthService(client.app.state.db.sessions, AuthSettings(**FAST, login_address_max_failures=8))
    for n in range(8):
        with pytest.raises(UnauthorizedError):
            await auth.login(f"user{n}@example.com", "Winter2026!!", client_addr="192.0.2.9")
    with pytest.raises(RateLimitedError) as refused:
        await auth.login(admin.email, ADMIN_PASSWORD, client_addr="192.0.2.9")
    assert "your address" in refused.value.detail
    # the same account from another address is not affected
    user, _ = await auth.login(admin.email, ADMIN_PASSWORD, client_addr="192.0.2.10")
    assert user.email == admin.email
    _age_failures(settings, settings.auth.login_window_minutes * 60 + 1)
    await auth.login(admin.email, ADMIN_PASSWORD, client_addr="192.0.2.9")


async def test_successful_login_clears_the_accounts_failures(client, admin):
    for _ in range(4):
        await login(client, admin.email, "wrong password!!")
    assert (await login(client, admin.email, ADMIN_PASSWORD)).status_code == 303
    client.cookies.delete("nl2sql_session")  # back to the login form as someone else at this address
    for _ in range(4):
        assert (await login(client, admin.email, "wrong password!!")).status_code == 401
