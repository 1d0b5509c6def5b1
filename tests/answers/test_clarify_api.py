"""POST /api/v1/ask and /api/v1/sql on the demo with the default engine: questions about nothing in the catalog and
requests to change data are refused, a word the catalog doesn't have is asked back with options, an option answers;
all as typed 200 answers, and the bundled model is never asked on its own."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from nl2sql.app import create_app
from nl2sql.inference import FakeChatModel
from nl2sql.settings import CatalogSettings
from tests.conftest import with_section
from tests.support import bearer


async def test_refusals_and_clarifications_are_typed_answers_and_an_option_answers(settings):
    model = FakeChatModel(["SELECT 1"])
    app = create_app(with_section(settings, catalog=CatalogSettings(demo=True)), chat_model=model)
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        admin = await app.state.auth.create_user("admin@example.com", "correct horse battery staple", role="admin")
        key = (await app.state.auth.create_api_key(admin, name="test")).key

        async def ask(question: str, path: str = "/api/v1/ask", **extra) -> dict:
            response = await client.post(path, json={"question": question, "connection": "demo"} | extra,
                                         headers=bearer(key))
            assert response.status_code == 200, response.text
            return response.json()

        for question in ("who won the 1998 World Cup?", "asdkj qwe zzx", "delete all customers"):
            body = await ask(question)
            assert body["status"] == "refused" and body["sql"] is None and body["rows"] == []
            assert body["clarification"]["message"]
        assert (await ask("what's the weather tomorrow?", "/api/v1/sql"))["status"] == "refused"

        asked = await ask("average pirce of products")
        assert asked["status"] == "clarify" and "pirce" in asked["clarification"]["not_understood"]
        options = asked["clarification"]["options"]
        rewording = next(o for o in options if o["kind"] == "ask" and "products.price" in o["label"])
        assert {"define", "model"} <= {o["kind"] for o in options}  # an admin may define it; any user may try the model
        answered = await ask(rewording["question"])
        assert answered["status"] == "answered" and answered["rows"] and answered["label"]

        reading = next(o for o in options if o["kind"] == "reading")
        chosen = await client.post(f"/api/v1/answers/{asked['answer_id']}/alternatives/{reading['index']}",
                                   headers=bearer(key))
        assert chosen.status_code == 200 and chosen.json()["sql"]

        history = (await client.get("/api/v1/answers?per_page=20", headers=bearer(key))).json()
        assert {"refused", "clarify"} <= {item["status"] for item in history["items"]}
    assert model.calls == []


async def test_a_doubted_reading_is_asked_back_and_its_first_option_answers_with_it(settings):
    from nl2sql.settings import EngineSettings

    engine = EngineSettings(answer_confidence=1.0)  # the confidence model doubts every reading
    app = create_app(with_section(settings, catalog=CatalogSettings(demo=True), engine=engine),
                     chat_model=FakeChatModel(["SELECT 1"]))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        admin = await app.state.auth.create_user("admin@example.com", "correct horse battery staple", role="admin")
        key = (await app.state.auth.create_api_key(admin, name="test")).key
        response = await client.post("/api/v1/ask", json={"question": "What is the average price of active products?",
                                                          "connection": "demo"}, headers=bearer(key))
        asked = response.json()
        assert response.status_code == 200 and asked["status"] == "clarify", asked
        first = asked["clarification"]["options"][0]
        assert first["kind"] == "reading" and asked["clarification"]["understood"] in first["label"]
        chosen = await client.post(f"/api/v1/answers/{asked['answer_id']}/alternatives/{first['index']}",
                                   headers=bearer(key))
        assert chosen.status_code == 200 and chosen.json()["sql"] and chosen.json()["rows"]
