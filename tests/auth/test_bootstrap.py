from litestar.testing import AsyncTestClient

from nl2sql.app import create_app
from nl2sql.settings import AuthSettings
from tests.conftest import with_section
from tests.support import login


def _bootstrapping(settings, email, password):
    return with_section(
        settings,
        auth=AuthSettings(
            argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1,
            bootstrap_admin_email=email, bootstrap_admin_password=password,
        ),
    )


async def test_bootstrap_admin_is_created_on_first_start_and_logs_in(settings):
    app = create_app(_bootstrapping(settings, "First@Example.com", "first admin password"))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        users = await client.app.state.auth.list_users()
        assert [(u.email, u.role) for u in users] == [("first@example.com", "admin")]
        assert (await login(client, "first@example.com", "first admin password")).status_code == 303


async def test_bootstrap_admin_is_ignored_once_a_user_exists(settings):
    async with AsyncTestClient(app=create_app(_bootstrapping(settings, "a@example.com", "first admin password"))):
        pass
    app = create_app(_bootstrapping(settings, "b@example.com", "second admin password"))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        assert [u.email for u in await client.app.state.auth.list_users()] == ["a@example.com"]
