from tests.support import ADMIN_PASSWORD, login


async def test_admin_logs_in_through_the_page_and_sees_account(client, admin):
    response = await login(client, admin.email, ADMIN_PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    page = await client.get("/account")
    assert page.status_code == 200
    assert admin.email in page.text
