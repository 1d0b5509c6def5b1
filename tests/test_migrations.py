import sqlalchemy as sa

from nl2sql.db import downgrade, migration_state, upgrade


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_from_an_empty_database_reaches_the_newest_revision(fresh_database):
    url = fresh_database()
    assert not migration_state(url).is_current
    upgrade(url)
    state = migration_state(url)
    assert state.is_current
    assert {"users", "auth_sessions", "api_keys", "login_failures", "audit_log"} <= _tables(url)


def test_every_revision_steps_down_and_up_again(fresh_database):
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from nl2sql.resources import resource_path

    url = fresh_database()
    upgrade(url)
    full = _tables(url)
    script = ScriptDirectory.from_config(
        (lambda c: (c.set_main_option("script_location", str(resource_path("alembic"))), c)[1])(Config())
    )
    revisions = [r.revision for r in script.walk_revisions()]  # newest first
    for revision in revisions:
        downgrade(url, "-1")
        assert migration_state(url).current != {revision}
    assert _tables(url) - {"alembic_version"} == set()
    upgrade(url)
    assert _tables(url) == full
    # and one step down/up from the top, as an operator would after a bad deploy
    downgrade(url, "-1")
    upgrade(url)
    assert migration_state(url).is_current
