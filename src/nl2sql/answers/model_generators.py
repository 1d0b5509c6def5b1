"""The model's candidate generators: the plan form filled by the model (model_plan) and SQL written by the model, fitted to its context, grammar-constrained where it can be, repaired from the guard's and the database's errors (model_sql)."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import anyio

from nl2sql.answers.candidates import Candidate
from nl2sql.answers.dto import Attempt
from nl2sql.catalog import Connection, PromptSchema
from nl2sql.gateway import call_context
from nl2sql.inference import (
    DIALECTS,
    ChatModel,
    GenerationParams,
    Grammar,
    Message,
    ModelInfo,
    sql_grammar,
)
from nl2sql.prompting import (
    ErrorFeedback,
    Prompt,
    PromptBudget,
    PromptTooLarge,
    Turn,
    build_prompt,
)
from nl2sql.semantics import (
    CompileError,
    SemanticModel,
    compile_plan,
    describe,
    form_columns,
    plan_form_schema,
    plan_from_form,
)
from nl2sql.sqlguard import (
    QueryFailed,
    QueryTimeout,
    SqlRefused,
    ValidatedSql,
    extract_sql,
    probe,
)

if TYPE_CHECKING:
    from nl2sql.retrieval import Retrieval


from nl2sql.answers.pipeline import (
    FIT_ROUNDS,
    REPAIR_TEMPERATURE,
    Clock,
    Outcome,
    cut_off_detail,
    detail_for_model,
    failed_attempt,
    make_attempt,
)
from nl2sql.answers.policy import ConnectionPolicy, guarded

log = logging.getLogger("nl2sql.answers")


class ModelGenerators:
    """The model's generators, mixed into the generation service (they use its model, settings and records)."""

    async def _model_plan(self, question: str, retrieval: Retrieval, model: SemanticModel, connection: Connection,
                          clock: Clock) -> Candidate | None:
        """The model fills the plan form (a JSON schema over the retrieved tables' columns); None when it can't."""
        info = await self._model.info()
        if not (info.supports_json_schema or info.supports_grammar):
            return None
        tables = [t.table.qualified_name for t in retrieval.tables]
        columns = form_columns(model, tables)
        if not columns:
            return None
        listing = "\n".join(
            f"- {c}" + (f": {d}" if (d := self._describe_column(model, c)) else "") for c in columns)
        messages = [
            Message("system", "You turn a question about a database into a JSON form. Use only the listed columns. "
                              "aggregate: count, sum, avg, min, max or none; measure: the column it applies to, or "
                              "rows for a count of rows; group_by: the columns to group by; filters: conditions; "
                              "order: highest first, lowest first or none; limit: 0 for all rows."),
            Message("user", f"Columns:\n{listing}\n\nQuestion: {question}\nJSON:"),
        ]
        params = GenerationParams(max_tokens=160, json_schema=plan_form_schema(columns))
        since = time.perf_counter()
        try:
            with call_context(purpose="plan", connection=connection.name):
                generation = await self._model.chat(messages, params)
        except Exception as error:  # a model failure costs this candidate only, never the answer
            log.info("model plan skipped: %s", error)
            return None
        finally:
            clock.lap("model_plan_ms", since)
        import json

        try:
            form = json.loads(generation.text)
            plan = plan_from_form(form, model)
        except (ValueError, TypeError, AttributeError):
            return Candidate("model_plan", None, error="the model's form was not valid JSON")
        if plan is None:
            return Candidate("model_plan", None, error="the model's form named no usable column")
        try:
            sql = compile_plan(plan, model)
        except CompileError as error:
            return Candidate("model_plan", None, plan.to_json(), error=f"not compiled: {error}")
        return Candidate("model_plan", sql, plan.to_json(), describe(plan, model), 0.6)

    @staticmethod
    def _describe_column(model: SemanticModel, ref: str) -> str:
        table, column = ref.rsplit(".", 1)
        try:
            return model.attribute(table, column).described[:80]
        except KeyError:
            return ""

    # -- the golden shortcut ----------------------------------------------------------------------

    async def _generate(
        self,
        question: str,
        retrieval: Retrieval,
        schema: PromptSchema,
        policy: ConnectionPolicy,
        connection: Connection,
        clock: Clock,
        history: tuple[Turn, ...],
    ) -> Outcome:
        info = await self._model.info()
        engine = await self._catalog.engine(connection.id)
        outcome = Outcome([])
        feedback: ErrorFeedback | None = None
        sensitive_columns = {c.split(".")[-1] for c in schema.sensitive_columns}
        for number in range(1, self.settings.repair_attempts + 2):
            if len(outcome.attempts) >= 2 and outcome.attempts[-1].error == outcome.attempts[-2].error:
                break  # the same error twice: another repair would repeat it too
            kind = "generate" if feedback is None else "repair"
            timings: dict[str, float] = {}
            since = time.perf_counter()
            try:
                prompt = await self._fitted_prompt(question, retrieval, schema.dialect, info, history, feedback)
            except PromptTooLarge as error:
                outcome.attempts.append(failed_attempt(number, kind, None, False, None, None, error.detail, "prompt", timings))
                outcome.error = error.detail
                return outcome
            timings["prompt_ms"] = clock.lap("prompt_ms", since)
            outcome.prompt = prompt
            grammar = self._grammar(prompt, retrieval, schema.dialect, info)
            params = GenerationParams(
                max_tokens=min(self.settings.max_new_tokens, info.context_size - prompt.tokens),
                # greedy first; a repair samples a little, or a small model repeats its failure word for word
                temperature=0.0 if number == 1 else min(1.0, REPAIR_TEMPERATURE * (number - 1)),
                seed=None if number == 1 else number,
                stop=prompt.stop,
                grammar=grammar,
            )
            since = time.perf_counter()
            with call_context(purpose=kind, connection=connection.name, sensitive_columns=sensitive_columns):
                if prompt.kind == "chat":
                    generation = await self._model.chat(prompt.messages, params)
                else:
                    generation = await self._model.complete(prompt.text, params)
            timings["generate_ms"] = clock.lap("generate_ms", since)
            common = dict(number=number, kind=kind, prompt=prompt, grammar=grammar is not None,
                          raw_output=generation.text, completion_tokens=generation.metering.completion_tokens,
                          timings=timings, finish_reason=generation.finish_reason)
            attempt, validated, feedback = await self._checked(generation, params, policy, engine, clock, common)
            outcome.attempts.append(attempt)
            outcome.error = attempt.error
            if validated is not None:
                outcome.validated = validated
                return outcome
        return outcome

    async def _checked(self, generation, params: GenerationParams, policy: ConnectionPolicy, engine, clock: Clock,
                       common: dict) -> tuple[Attempt, ValidatedSql | None, ErrorFeedback | None]:
        """One generation's SQL extracted, guarded and test-run: the attempt, the SQL when it passed, else the
        feedback a repair gets."""
        raw, timings = generation.text, common["timings"]
        cut_off = generation.finish_reason == "length"
        since = time.perf_counter()
        try:
            sql = extract_sql(raw)
        except SqlRefused as error:
            timings["validate_ms"] = clock.lap("validate_ms", since)
            detail = cut_off_detail(error.detail, cut_off, params.max_tokens)
            return (make_attempt(sql=None, error=detail, error_kind="extraction", **common), None,
                    ErrorFeedback(raw.strip()[:2000] or "(empty answer)", detail_for_model(error.detail, cut_off)))
        try:
            validated = await guarded(sql, policy)
        except SqlRefused as error:
            timings["validate_ms"] = clock.lap("validate_ms", since)
            detail = cut_off_detail(error.detail, cut_off, params.max_tokens)
            return (make_attempt(sql=sql, error=detail, error_kind="refused", **common), None,
                    ErrorFeedback(sql, detail_for_model(error.detail, cut_off)))
        timings["validate_ms"] = clock.lap("validate_ms", since)
        since = time.perf_counter()
        try:
            await anyio.to_thread.run_sync(probe, validated, engine, self.settings.statement_timeout)
        except (QueryFailed, QueryTimeout) as error:
            timings["probe_ms"] = clock.lap("probe_ms", since)
            kind_of = "timeout" if isinstance(error, QueryTimeout) else "database"
            return (make_attempt(sql=validated.sql, error=error.detail, error_kind=kind_of, **common), None,
                    ErrorFeedback(validated.sql, error.detail))
        timings["probe_ms"] = clock.lap("probe_ms", since)
        return make_attempt(sql=validated.sql, error=None, error_kind=None, **common), validated, None

    async def _fitted_prompt(
        self,
        question: str,
        retrieval: Retrieval,
        dialect: str,
        info: ModelInfo,
        history: tuple[Turn, ...],
        feedback: ErrorFeedback | None,
    ) -> Prompt:
        """The prompt, fitted with a quick estimate, then re-counted by the model's tokenizer and shrunk until it fits."""
        budget = PromptBudget.for_model(info, self.settings.max_new_tokens)
        limit = budget.prompt_tokens
        for _ in range(FIT_ROUNDS):
            prompt = build_prompt(
                question, retrieval, budget, dialect, self._today(),
                history=history, error_feedback=feedback, template=self.settings.prompt_template,  # type: ignore[arg-type]
            )
            exact = await self._model.count_tokens(prompt.text)
            if prompt.kind == "chat":
                exact += budget.per_message_overhead * (len(prompt.messages) + 1)
            if exact <= limit:
                return replace(prompt, tokens=exact)
            over = exact - limit
            smaller = budget.context_size - over - max(8, over // 4)
            if smaller <= budget.max_new_tokens:
                break
            budget = replace(budget, context_size=smaller)
        raise PromptTooLarge(f"the prompt does not fit the model's context of {info.context_size} tokens; shorten the question")

    def _grammar(self, prompt: Prompt, retrieval: Retrieval, dialect: str, info: ModelInfo) -> Grammar | None:
        if not (self.settings.grammar and info.supports_grammar and prompt.tables):
            return None
        if dialect not in DIALECTS:
            return None
        try:
            return sql_grammar(prompt.columns_by_table, dialect, prompt_joins(prompt, retrieval))
        except ValueError as error:
            log.warning("no SQL grammar for this prompt: %s", error)
            return None


def prompt_joins(prompt: Prompt, retrieval: Retrieval) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """The prompt's tables' foreign keys and join hints, as the SQL grammar's join graph."""
    names = {t.qualified_name for t in prompt.tables}
    by_name: dict[str, str] = {}
    for table in prompt.tables:
        by_name.setdefault(table.name, table.qualified_name)

    def resolve(name: str) -> str:
        return name if name in names else by_name.get(name.split(".")[-1], name)

    joins = []
    for table in prompt.tables:
        for fk in table.foreign_keys:
            target = resolve(f"{fk.ref_schema}.{fk.ref_table}" if fk.ref_schema else fk.ref_table)
            joins.append((table.qualified_name, target, tuple(zip(fk.columns, fk.ref_columns))))
    for hint in retrieval.join_hints:
        joins.append((resolve(hint.left_table), resolve(hint.right_table), tuple(hint.pairs)))
    return joins




def model_stage(model: ChatModel) -> str:
    """The progress line while the model works: it says so when the question waits for a free slot."""
    try:
        status = model.describe()
    except Exception:  # a model that can't describe itself still answers
        return "Asking the model"
    if status.slots and status.busy >= status.slots:
        ahead = status.queue_depth
        return f"Waiting for the model ({ahead} question{'s' * (ahead != 1)} ahead), then asking it"
    return "Asking the model"
