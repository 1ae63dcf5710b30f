"""The LLM tier's client: the openai package against any OpenAI-compatible endpoint, asynchronously.

Bounded concurrency, backoff on 429 / 5xx / timeouts, schema-constrained output validated with
pydantic, one repair turn, verbatim-evidence check, token and cost accounting, and a breaker that
stops calling an unreachable endpoint so a run still finishes (its items stay queued).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from feedbackloop.label.decision import LabelDecision, decision_model, decision_schema
from feedbackloop.label.examples import Example
from feedbackloop.label.parsing import DecisionError, parse_decision, verify_evidence
from feedbackloop.label.prompts import PromptSet
from feedbackloop.label.taxonomy import Taxonomy
from feedbackloop.settings import Settings

if TYPE_CHECKING:  # openai takes about 1 s to import; runs that label nothing skip it
    import openai

Outcome = Literal["ok", "invalid", "unavailable"]
# 4xx answers that say "this request is bad", not "this endpoint is unusable": the item goes to review.
_ITEM_ERRORS = {400, 413, 422}


@dataclass
class LLMResult:
    status: Outcome
    decision: LabelDecision | None = None
    flags: list[str] = field(default_factory=list)
    unverified_evidence: list[str] = field(default_factory=list)
    error: str | None = None
    raw: str | None = None
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    cost_usd: float | None = None


@dataclass
class LLMStats:
    calls: int = 0
    retries: int = 0
    repairs: int = 0
    http_errors: dict[str, int] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    max_in_flight: int = 0
    breaker_open: bool = False

    def count_error(self, kind: str) -> None:
        self.http_errors[kind] = self.http_errors.get(kind, 0) + 1


class EndpointUnavailable(RuntimeError):
    """The endpoint did not answer usefully within the retry budget; the item stays queued."""


def structured_output_mode(settings: Settings) -> str:
    if settings.llm_structured_output != "auto":
        return settings.llm_structured_output
    # llama-cpp-python's server answers HTTP 500 to json_schema; it takes its own json_object + schema.
    return "json_object_schema" if settings.llm_endpoint_kind == "llama_cpp" else "json_schema"


def response_format(mode: str, schema: dict[str, Any]) -> dict[str, Any]:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": {"name": "label_decision", "schema": schema, "strict": True}}
    if mode == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_object"}


def price(settings: Settings, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    table = settings.llm_prices.get(model)
    if table is None:
        return None
    return (prompt_tokens * table.get("input_per_1m", 0.0) + completion_tokens * table.get("output_per_1m", 0.0)) / 1e6


class LLMLabeler:
    """Labels texts with one endpoint + model + prompt set + taxonomy."""

    def __init__(self, settings: Settings, taxonomy: Taxonomy, prompts: PromptSet, base_url: str | None = None) -> None:
        self.settings = settings
        self.taxonomy = taxonomy
        self.prompts = prompts
        self.model = settings.llm_model
        self.base_url = base_url or settings.llm_base_url
        self.mode = structured_output_mode(settings)
        self._decision_model = decision_model(taxonomy.names)
        self._response_format = response_format(self.mode, decision_schema(taxonomy.names))
        self._system = prompts.system_message(taxonomy)
        self.stats = LLMStats()
        self._in_flight = 0
        self._consecutive_unreachable = 0
        self._client: openai.AsyncOpenAI | None = None

    def _open(self) -> openai.AsyncOpenAI:
        import openai

        # One client per event loop: its connection pool must not outlive the loop that made it.
        return openai.AsyncOpenAI(
            base_url=self.base_url or None,
            api_key=self.settings.llm_api_key.get_secret_value() or "unused",
            timeout=self.settings.llm_timeout_seconds,
            max_retries=0,  # backoff is ours: it is counted, bounded, and honours the breaker
        )

    # -- one HTTP call, with backoff ---------------------------------------------------------------
    async def _complete(self, messages: list[dict[str, str]]) -> tuple[str | None, int, int]:
        import openai

        settings = self.settings
        for attempt in range(1, settings.llm_max_attempts + 1):
            if self.stats.breaker_open:
                raise EndpointUnavailable("endpoint marked unreachable earlier in this run")
            delay: float | None = None
            try:
                self._in_flight += 1
                self.stats.max_in_flight = max(self.stats.max_in_flight, self._in_flight)
                self.stats.calls += 1
                assert self._client is not None, "call label_many(), which opens the client"
                # plain dicts for messages and the schema: openai's TypedDict overloads reject them
                response = await self._client.chat.completions.create(  # type: ignore[call-overload]
                    model=self.model or "local",
                    messages=messages,
                    temperature=settings.llm_temperature,
                    max_tokens=settings.llm_max_tokens,
                    response_format=self._response_format,
                )
                self._consecutive_unreachable = 0
                usage = response.usage
                content = response.choices[0].message.content if response.choices else None
                return content, (usage.prompt_tokens if usage else 0), (usage.completion_tokens if usage else 0)
            except openai.APITimeoutError:
                self.stats.count_error("timeout")
                last = "timeout"
            except openai.APIConnectionError as error:
                self.stats.count_error("unreachable")
                self._consecutive_unreachable += 1
                if self._consecutive_unreachable >= settings.llm_breaker_failures:
                    self.stats.breaker_open = True
                last = f"unreachable: {error}"
            except openai.APIStatusError as error:
                code = error.status_code
                self.stats.count_error(str(code))
                if code in _ITEM_ERRORS:
                    raise DecisionError(f"endpoint rejected the request: HTTP {code} {error.message[:300]}") from None
                if code != 429 and code < 500:
                    self.stats.breaker_open = True  # 401/403/404: configuration, every item would fail alike
                    raise EndpointUnavailable(f"HTTP {code}: {error.message[:300]}") from None
                last = f"HTTP {code}"
                retry_after = error.response.headers.get("retry-after") if error.response is not None else None
                if retry_after:
                    try:
                        delay = min(float(retry_after), settings.llm_backoff_max_seconds)
                    except ValueError:
                        delay = None
            finally:
                self._in_flight -= 1
            if attempt == settings.llm_max_attempts:
                break
            self.stats.retries += 1
            if delay is None:
                base = min(settings.llm_backoff_seconds * 2 ** (attempt - 1), settings.llm_backoff_max_seconds)
                delay = base * (0.5 + random.random() / 2)  # jitter: concurrent retries do not stampede
            await asyncio.sleep(delay)
        raise EndpointUnavailable(f"gave up after {settings.llm_max_attempts} attempts: {last}")

    # -- one item: call, validate, repair once, verify evidence ---------------------------------------
    async def label(
        self, text: str, metadata: dict[str, object] | None = None, examples: list[Example] | None = None
    ) -> LLMResult:
        messages = [
            {"role": "system", "content": self._system},
            {"role": "user", "content": self.prompts.user_message(text, metadata, examples)},
        ]
        result = LLMResult(status="invalid")
        started = time.perf_counter()
        try:
            for turn in range(2):
                content, prompt_tokens, completion_tokens = await self._complete(messages)
                result.calls += 1
                result.prompt_tokens += prompt_tokens
                result.completion_tokens += completion_tokens
                result.raw = content
                try:
                    decision, flags = parse_decision(content, self._decision_model, self.taxonomy)
                except DecisionError as error:
                    result.error = str(error)
                    if turn == 0:
                        self.stats.repairs += 1
                        messages += [
                            {"role": "assistant", "content": content or ""},
                            {"role": "user", "content": self.prompts.repair_message(str(error))},
                        ]
                    continue
                decision, unverified, evidence_flags = verify_evidence(
                    decision, text, self.settings.label_evidence_confidence_cap
                )
                result.status, result.decision, result.error = "ok", decision, None
                result.flags = flags + evidence_flags + (["repaired"] if turn == 1 else [])
                result.unverified_evidence = unverified
                break
        except EndpointUnavailable as error:
            result.status, result.error = "unavailable", str(error)
        except DecisionError as error:
            result.status, result.error = "invalid", str(error)
        result.latency_ms = int((time.perf_counter() - started) * 1000)
        result.cost_usd = price(self.settings, self.model, result.prompt_tokens, result.completion_tokens)
        self.stats.prompt_tokens += result.prompt_tokens
        self.stats.completion_tokens += result.completion_tokens
        if result.calls:
            if result.cost_usd is None:
                self.stats.unpriced_calls += result.calls
            else:
                self.stats.cost_usd += result.cost_usd
        return result

    async def label_many(
        self,
        items: Sequence[tuple[str, dict[str, object] | None]],
        on_result: Callable[[int, LLMResult], Awaitable[None] | None] | None = None,
        examples: Sequence[list[Example]] | None = None,
    ) -> list[LLMResult]:
        """Label every item with at most ``llm_max_in_flight`` requests open at once, in input order.

        ``examples``, if given, holds each item's worked examples, row for row.
        """
        async with self._open() as client:
            self._client = client
            try:
                return await self._label_all(items, on_result, examples)
            finally:
                self._client = None

    async def _label_all(
        self,
        items: Sequence[tuple[str, dict[str, object] | None]],
        on_result: Callable[[int, LLMResult], Awaitable[None] | None] | None,
        examples: Sequence[list[Example]] | None,
    ) -> list[LLMResult]:
        semaphore = asyncio.Semaphore(self.settings.llm_max_in_flight)
        results: list[LLMResult | None] = [None] * len(items)

        async def one(index: int, text: str, metadata: dict[str, object] | None) -> None:
            async with semaphore:
                if self.stats.breaker_open:
                    results[index] = LLMResult(status="unavailable", error="endpoint unreachable; item stays queued")
                else:
                    results[index] = await self.label(text, metadata, examples[index] if examples else None)
            if on_result is not None:
                maybe = on_result(index, results[index])  # type: ignore[arg-type]
                if maybe is not None:
                    await maybe

        await asyncio.gather(*(one(i, text, meta) for i, (text, meta) in enumerate(items)))
        return [r for r in results if r is not None]


def run_async(factory: Callable[[], Awaitable[Any]]) -> Any:
    """Run a coroutine from sync code, also when the caller already has an event loop (Prefect, Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())  # type: ignore[arg-type]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()  # type: ignore[arg-type]
