import sqlalchemy as sa

from tests.support import ADMIN_PASSWORD, login


async def test_sixth_wrong_password_for_one_email_gets_429(client, admin, settings):
    for _ in range(5):
        assert (await login(client, admin.email, "wrong password!!")).status_code == 401
    blocked = await login(client, admin.email, "wrong password!!")
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "too many failed logins" in blocked.text
    # even the right password waits for the cool-down
    assert (await login(client, admin.email, ADMIN_PASSWORD)).status_code == 429
    engine = sa.create_engine(settings.database.url)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM login_failures WHERE email = :e"), {"e": admin.email}) == 5
    engine.dispose()


async def test_failures_from_one_client_address_across_emails_are_throttled(client, admin):
    for n in range(5):
        await login(client, f"nobody{n}@example.com", "wrong password!!")
    assert (await login(client, admin.email, ADMIN_PASSWORD)).status_code == 429


async def test_cool_down_ends_when_failures_leave_the_window(client, admin, settings):
    for _ in range(5):
        await login(client, admin.email, "wrong password!!")
    assert (await login(client, admin.email, ADMIN_PASSWORD)).status_code == 429
    engine = sa.create_engine(settings.database.url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE login_failures SET created_at = created_at - make_interval(mins => :m)"),
            {"m": settings.auth.login_window_minutes + 1},
        )
    engine.dispose()
    assert (await login(client, admin.email, ADMIN_PASSWORD)).status_code == 303


async def test_successful_login_clears_the_accounts_failures(client, admin):
    for _ in range(4):
        await login(client, admin.email, "wrong password!!")
    assert (await login(client, admin.email, ADMIN_PASSWORD)).status_code == 303
    client.cookies.delete("nl2sql_session")  # back to the login form as someone else at this address
    for _ in range(4):
        assert (await login(client, admin.email, "wrong password!!")).status_code == 401
