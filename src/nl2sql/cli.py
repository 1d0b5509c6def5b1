"""The `nl2sql` command: serve, migrations, backup and restore, first users and keys, evaluation runs."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import click

from nl2sql.errors import AppError
from nl2sql.settings import Settings, setting_docs


def _fail(message: str) -> None:
    click.echo(f"nl2sql: error: {message}", err=True)
    sys.exit(2)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except AppError as exc:
        _fail(exc.detail)
        raise  # unreachable


def _open_database(settings: Settings, *, migrate: bool):
    from nl2sql.db import AppDatabase

    db = AppDatabase(settings.database.url, settings.database.data_dir, pool_size=2)
    try:
        db.open(migrate=migrate)
    except AppError as exc:
        db.stop_embedded()
        _fail(exc.detail)
    return db


def _with_auth(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run `work(auth_service)` against the app database (attaching to a running embedded server)."""
    from nl2sql.auth import AuthService

    db = _open_database(settings, migrate=True)

    async def main() -> Any:
        try:
            return await work(AuthService(db.sessions, settings.auth))
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except AppError as exc:
        _fail(exc.detail)


@click.group()
def main() -> None:
    """nl2sql: ask your databases questions in plain English."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (default NL2SQL_HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default NL2SQL_PORT or 8000).")
@click.option("--no-migrate", is_flag=True, help="Don't apply pending migrations at start.")
def serve(host: str | None, port: int | None, no_migrate: bool) -> None:
    """Run the web app and API."""
    import uvicorn

    from nl2sql.app import create_app, resolve_secret_key
    from nl2sql.gateway import configure_logging

    settings = _settings()
    if settings.server.log_level != "debug":
        # sentence-transformers' and the hub's progress bars ("Loading weights: 100%") are noise in a log
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TQDM_DISABLE", "1")
    # readable lines on a terminal, JSON lines (with the trace id) in a container or a pipe
    configure_logging(settings.server.log_level, log_format=settings.server.log_format)
    migrate = settings.database.migrate_on_start and not no_migrate
    try:
        resolve_secret_key(settings)
    except AppError as exc:
        _fail(exc.detail)
    host = host or settings.server.host
    port = port or settings.server.port
    _check_model(settings)
    db = _open_database(settings, migrate=migrate)
    try:
        app = create_app(settings, database=db)
    except AppError as exc:
        db.stop_embedded()
        _fail(exc.detail)

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                click.echo(banner(app, settings, host, port), err=True)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        proxy_headers=settings.server.trust_proxy,
        forwarded_allow_ips="*" if settings.server.trust_proxy else None,
        log_level=settings.server.log_level,
        log_config=None,  # keep our logging; the gateway records every request instead of an access log
        access_log=False,
        timeout_graceful_shutdown=settings.server.shutdown_grace_seconds or None,
    )
    try:
        Server(config).run()
    finally:
        db.stop_embedded()


def _check_model(settings: Settings) -> None:
    """A missing model file stops the start with one line, not a traceback on the first question."""
    inference = settings.inference
    if inference.backend == "openai" or (inference.backend == "auto" and inference.base_url):
        return
    from nl2sql.inference import model_file

    try:
        model_file(inference)
    except AppError as exc:
        _fail(exc.detail)


def banner(app: Any, settings: Settings, host: str, port: int) -> str:
    """What a person needs after start: where to open it, where its data is, the model, and the next step."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    address = f"http://{'[' + shown + ']' if ':' in shown else shown}:{port}"
    status = app.state.chat_model.describe()
    model = status.model + (f" ({status.backend})" if status.backend else "")
    lines = [
        "",
        f"  nl2sql is ready: open {address}",
        f"    data dir  {settings.database.data_dir}",
        f"    model     {model}",
    ]
    first_run = app.state.get("first_run")
    token = first_run.token if first_run is not None else None
    if token:
        lines += [
            f"    next      create the first admin at {address}/setup",
            f"              with the setup token  {token}",
            f"              (also in {first_run.token_path}; it works once)",
        ]
    else:
        lines += [f"    next      log in at {address}/login and ask the demo database a question on /ask"]
    lines += ["    stop      Ctrl-C", ""]
    return "\n".join(lines)


@main.group()
def db() -> None:
    """App database: migrations, backup and restore."""


@db.command("upgrade")
@click.argument("target", default="heads")
def db_upgrade(target: str) -> None:
    """Apply migrations (to TARGET, default: the newest)."""
    from nl2sql import db as appdb

    settings = _settings()
    database = _open_database(settings, migrate=False)
    try:
        appdb.upgrade(database.url, target)
        click.echo(f"at {', '.join(sorted(appdb.migration_state(database.url).current))}")
    finally:
        database.stop_embedded()


@db.command("downgrade")
@click.argument("target")
def db_downgrade(target: str) -> None:
    """Revert migrations to TARGET (e.g. -1, or a revision id; `base` drops everything)."""
    from nl2sql import db as appdb

    settings = _settings()
    database = _open_database(settings, migrate=False)
    try:
        appdb.downgrade(database.url, target)
        click.echo(f"at {', '.join(sorted(appdb.migration_state(database.url).current)) or 'base'}")
    finally:
        database.stop_embedded()


@db.command("current")
def db_current() -> None:
    """Show the applied and the newest revision."""
    from nl2sql import db as appdb

    settings = _settings()
    database = _open_database(settings, migrate=False)
    try:
        state = appdb.migration_state(database.url)
        click.echo(f"applied: {', '.join(sorted(state.current)) or 'none'}; newest: {', '.join(sorted(state.heads))}")
    finally:
        database.stop_embedded()


@db.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def db_backup(path: Path) -> None:
    """Write the app database to PATH (pg_dump custom format); safe while `serve` runs."""
    from nl2sql import db as appdb

    settings = _settings()
    database = _open_database(settings, migrate=False)
    try:
        appdb.backup(database.url, path, os.environ)
    except AppError as exc:
        _fail(exc.detail)
    finally:
        database.stop_embedded()
    click.echo(f"backed up the app database to {path} ({path.stat().st_size:,} bytes)")
    click.echo("keep the secret key with it: stored database passwords are encrypted with it "
               + ("(NL2SQL_SECRET_KEY)" if settings.database.url else f"({settings.database.data_dir / 'secret.key'})"))


@db.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Don't ask: replace the app database's contents.")
def db_restore(path: Path, yes: bool) -> None:
    """Replace the app database with a backup from `db backup` (stop every `serve` on it first)."""
    from nl2sql import db as appdb

    settings = _settings()
    if settings.database.url is None and _embedded_running(settings.database.data_dir):
        _fail(f"nl2sql serve is running on {settings.database.data_dir}: stop it, then restore")
    if not yes:
        click.confirm(f"Replace everything in the app database with {path}?", abort=True)
    database = _open_database(settings, migrate=False)
    try:
        appdb.restore(database.url, path, os.environ)
        state = appdb.migration_state(database.url)
    except AppError as exc:
        _fail(exc.detail)
    finally:
        database.stop_embedded()
    click.echo(f"restored the app database from {path}: at {', '.join(sorted(state.current)) or 'base'}"
               + ("" if state.is_current else "; `serve` applies the newer migrations at start"))


@db.command("reseal")
def db_reseal() -> None:
    """Re-encrypt stored database credentials with NL2SQL_SECRET_KEY (the last step of a key rotation)."""
    from nl2sql.app import resolve_secret_key
    from nl2sql.catalog import CatalogService

    settings = _settings()
    try:
        key = resolve_secret_key(settings)
    except AppError as exc:
        _fail(exc.detail)
    db = _open_database(settings, migrate=False)

    async def main() -> int:
        catalog = CatalogService(db.sessions, settings.catalog, key, previous_keys=settings.server.previous_key_list)
        try:
            return await catalog.reseal_credentials()
        finally:
            catalog.close()
            await db.close()

    try:
        count = asyncio.run(main())
    except AppError as exc:
        _fail(exc.detail)
    click.echo(f"resealed the credentials of {count} connection(s) with the current secret key; "
               "NL2SQL_PREVIOUS_SECRET_KEYS can be unset now")


def _embedded_running(data_dir: Path) -> bool:
    pid_file = Path(data_dir) / "pgdata" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


@main.group()
def users() -> None:
    """Manage users."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--admin", "is_admin", is_flag=True, help="Make the user an admin (default: analyst).")
@click.option("--name", "display_name", default=None, help="Display name (default: the email's local part).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt.")
def users_create(email: str, is_admin: bool, display_name: str | None, password_stdin: bool) -> None:
    """Create a user; the password comes from a prompt or standard input."""
    if password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _settings()
    user = _with_auth(
        settings,
        lambda svc: svc.create_user(email, password, role="admin" if is_admin else "analyst", display_name=display_name),
    )
    click.echo(f"created {user.role.value} {user.email} (id {user.id})")


@main.group("api-keys")
def api_keys() -> None:
    """Manage API keys."""


@api_keys.command("create")
@click.option("--user", "email", required=True, help="Email of the key's owner.")
@click.option("--name", default="CLI key", help="A name to recognise the key by.")
def api_keys_create(email: str, name: str) -> None:
    """Print a new API key for a user (shown once)."""

    async def work(svc):
        owner = await svc.find_user(email)
        return await svc.create_api_key(owner, name=name)

    created = _with_auth(_settings(), work)
    click.echo(created.key)


@main.command("secret-key")
def secret_key() -> None:
    """Print a new random value for NL2SQL_SECRET_KEY."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode())


@main.command("eval")
@click.option("--connection", required=True, help="The connection to ask.")
@click.option("--questions", "questions_file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="CSV: question, query (gold SQL), optional query_category, instructions, db_name.")
@click.option("--golden", is_flag=True, help="Instead of a file: the connection's golden queries, each asked as if "
              "it did not exist (a golden regression).")
@click.option("--stored", is_flag=True, help="Instead of a file: the golden queries and the latest run of each "
              "stored evaluation set of the connection (what a draft's trial runs).")
@click.option("--compare-with", "compare_with", type=int, default=None,
              help="A stored run's id: print which questions this run fixes or breaks against it (to measure a "
              "model or prompt change, run with the candidate settings against a run made with the live ones).")
@click.option("--limit", type=int, default=None, help="Only the first N questions.")
@click.option("--db-name", default=None, help="Only the CSV's rows of this db_name.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Write the run (every item) as JSON.")
@click.option("--as", "as_email", default=None, help="The admin to act as (default: the first admin).")
@click.option("--name", default=None, help="The run's name (default: the file's name).")
def eval_command(connection: str, questions_file: str | None, golden: bool, stored: bool, compare_with: int | None,
                 limit: int | None, db_name: str | None, out: str | None, as_email: str | None,
                 name: str | None) -> None:
    """Run a question set through the engine on a connection and judge each answer by execution.

    The run is stored like one started from the Evaluations page (where it can be compared with others), with
    the model and prompt template it ran with: run it with a candidate NL2SQL_LLM_* or NL2SQL_ENGINE_* setting in
    the environment, before the servers get it, and compare with a run made with the live settings."""
    import json
    from pathlib import Path

    from nl2sql.app import create_app
    from nl2sql.evaluation import parse_questions

    if sum((questions_file is not None, golden, stored)) != 1:
        _fail("give one question set: --questions FILE, --golden or --stored")
    settings = _settings()
    text = Path(questions_file).read_text(encoding="utf-8-sig") if questions_file else ""

    async def main_() -> int:
        app = create_app(settings, run_jobs=False)
        async with app.lifespan():
            try:
                return await work(app.state)
            except AppError as exc:  # raised here, not through the lifespan's task group
                click.echo(f"nl2sql: error: {exc.detail}", err=True)
                return 2
            except click.ClickException as exc:
                click.echo(f"nl2sql: error: {exc.message}", err=True)
                return 2

    async def work(state: Any) -> int:
        users = [u for u in await state.auth.list_users() if u.is_admin and u.is_active]
        actor = next((u for u in users if as_email is None or u.email == as_email.lower()), None)
        if actor is None:
            raise click.ClickException(f"no active admin {as_email or ''} to run the evaluation as".strip())
        if questions_file:
            questions, default = parse_questions(text, db_name=db_name), Path(questions_file).name
        elif golden:
            questions, default = await state.evaluation.golden_questions(actor, connection), "golden queries"
        else:
            questions, default = await state.evaluation.trial_questions(actor, connection), "stored questions"
        if compare_with is not None:
            await state.evaluation.get(compare_with)  # an unknown run fails before the questions are asked
        created = await state.evaluation.create(actor, connection, questions, name=name or default, limit=limit,
                                                kind="golden" if golden else "questions")
        click.echo(f"evaluation #{created.id}: {created.total} questions on {connection}")
        seen = 0

        def progress(run: Any) -> None:
            nonlocal seen
            for item in run.items[seen:run.done]:
                mark = "ok " if item.correct else "no "
                click.echo(f"  [{item.position}/{run.total}] {mark} {item.seconds or 0:6.2f}s "
                           f"{item.generator or '-':<10} {item.question[:70]}"
                           + ("" if item.correct else f"  ({item.reason})"))
            seen = run.done

        finished = await state.evaluation.execute(created.id, progress=progress)
        click.echo(f"\n{finished.status}: {finished.correct}/{finished.done} correct "
                   f"({100 * finished.accuracy:.1f}%; {finished.exact} exact, {finished.subset} subset) "
                   f"in {finished.elapsed_s:.0f} s")
        for label, groups in (("category", finished.per_category), ("generator", finished.per_generator)):
            click.echo(f"  per {label}: " + "; ".join(f"{g.name} {g.correct}/{g.total}" for g in groups))
        if compare_with is not None:
            compared = await state.evaluation.compare(compare_with, finished.id)
            before = compared.before
            click.echo(f"\nagainst #{before.id} ({before.engine.get('model') or 'model ?'}, "
                       f"prompt {before.engine.get('prompt_template') or '?'}): {before.correct}/{before.done} -> "
                       f"{finished.correct}/{finished.done}; {len(compared.fixed)} fixed, {len(compared.broken)} "
                       f"broken, {compared.unchanged} unchanged")
            for label, flips in (("fixed", compared.fixed), ("broken", compared.broken)):
                for flip in flips:
                    click.echo(f"  {label}: {flip.question}")
        if out:
            Path(out).write_text(json.dumps(finished.to_json(), indent=2, default=str))
            click.echo(f"  written to {out}")
        return 0 if finished.status == "done" else 1

    try:
        sys.exit(asyncio.run(main_()))
    except AppError as exc:
        _fail(exc.detail)


@main.command("settings")
@click.option("--markdown", is_flag=True, help="As the README's markdown table.")
def settings_table(markdown: bool) -> None:
    """List every setting with its default and meaning."""
    rows = setting_docs()
    if markdown:
        click.echo("| Variable | Default | Meaning |\n|---|---|---|")
        for env, default, doc in rows:
            click.echo(f"| `{env}` | `{default}` | {doc} |")
        return
    for env, default, doc in rows:
        click.echo(f"{env} (default {default})\n    {doc}")


if __name__ == "__main__":
    main()
