import sqlalchemy as sa

from nl2sql.auth import AuthService
from nl2sql.settings import AuthSettings
from tests.support import ADMIN_PASSWORD, login


def test_hashes_with_argon2id_and_verifies():
    from nl2sql.auth.passwords import Passwords

    passwords = Passwords(time_cost=1, memory_kib=1024, parallelism=1)
    hashed = passwords.hash("a long enough password")
    assert hashed.startswith("$argon2id$")
    assert passwords.verify(hashed, "a long enough password")
    assert not passwords.verify(hashed, "a long enough passwore")
    assert not passwords.verify(None, "anything")
    assert not passwords.verify("not-a-hash", "anything")


async def test_rejects_passwords_shorter_than_twelve_characters(client):
    service: AuthService = client.app.state.auth
    import pytest

    from nl2sql.errors import ValidationFailed

    with pytest.raises(ValidationFailed, match="at least 12"):
        await service.create_user("short@example.com", "elevenchars")


async def test_rehashes_on_login_when_parameters_change(client, admin, settings):
    engine = sa.create_engine(settings.database.url)
    with engine.connect() as conn:
        old_hash = conn.scalar(sa.text("SELECT password_hash FROM users WHERE id = :id"), {"id": admin.id})
    assert "m=1024,t=1" in old_hash
    stronger = AuthService(client.app.state.db.sessions, AuthSettings(argon2_time_cost=2, argon2_memory_kib=2048, argon2_parallelism=1))
    await stronger.login(admin.email, ADMIN_PASSWORD, client_addr="127.0.0.1")
    with engine.connect() as conn:
        new_hash = conn.scalar(sa.text("SELECT password_hash FROM users WHERE id = :id"), {"id": admin.id})
    engine.dispose()
    assert new_hash != old_hash
    assert "m=2048,t=2" in new_hash
    # and the new hash still logs in through the page
    assert (await login(client, admin.email, ADMIN_PASSWORD)).status_code == 303
