from pathlib import Path

import pytest

from nl2sql.settings import Settings, SettingsError, setting_docs


def test_reads_nl2sql_variables():
    settings = Settings.from_env(
        {"NL2SQL_PORT": "9001", "NL2SQL_DATA_DIR": "/tmp/x", "NL2SQL_MIGRATE_ON_START": "false", "PATH": "/bin"}
    )
    assert settings.server.port == 9001
    assert settings.database.data_dir == Path("/tmp/x")
    assert settings.database.migrate_on_start is False
    assert settings.database.url is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"NL2SQL_PORT": "eighty"}, "NL2SQL_PORT must be a whole number, got 'eighty'"),
        ({"NL2SQL_MIGRATE_ON_START": "maybe"}, "NL2SQL_MIGRATE_ON_START must be true or false"),
        ({"NL2SQL_SECURE_COOKIES": "sometimes"}, "NL2SQL_SECURE_COOKIES must be one of auto, always, never"),
        ({"NL2SQL_PROT": "1"}, "unknown setting NL2SQL_PROT"),
    ],
)
def test_invalid_settings_give_a_one_line_reason(env, message):
    with pytest.raises(SettingsError) as error:
        Settings.from_env(env)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_readme_documents_every_setting():
    readme = (Path(__file__).parents[1] / "README.md").read_text() + "".join(
        p.read_text() for p in (Path(__file__).parents[1] / "docs").glob("*.md")
    )
    missing = [env for env, _, _ in setting_docs() if f"`{env}`" not in readme]
    assert missing == []
