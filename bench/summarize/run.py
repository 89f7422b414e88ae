"""Summary benchmark: throughput and latency per engine, cache hit ratio on a corpus with
cross-feed duplicates, and grounding with and without the quality gate.

    .venv/bin/python bench/summarize/run.py [--articles 12] [--threads 2]

Engines run through the same `Summarizer` that news-creator serves (`/api/v1/summarize`),
pinned to `--threads` cores (2 by default: the target machine): `local` and `extractive` in
process, `openai` against llama.cpp's own OpenAI-compatible server and `ollama` against
news-creator's Ollama API (both with the local model; needs the `bench` extra). Every
figure is printed with its ratio against a named baseline measured in the same run:

* throughput and p50 latency: baseline = the `extractive` engine (no model);
* cache: baseline = no cache (one model call per article);
* grounding: baseline = the local model without the gate.

The articles are generated with known facts (names and numbers), so grounding is measured
against what the article says rather than by the gate's own checker: a summary is grounded when
every number and every capitalised name in it occurs in its article.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from tests.support.ports import free_port

from alt.platform.service_tokens import HEADER, KeyRing, ServiceTokens, generate_key_file
from alt.summaries.engines import default_model_path, make_engine
from alt.summaries.pipeline import Summarizer, SummaryResult
from alt.summaries.settings import LLMSettings
from alt.summaries.text import content_hash

CITIES = [
    "Portland",
    "Bristol",
    "Leipzig",
    "Osaka",
    "Valencia",
    "Tampere",
    "Halifax",
    "Ghent",
    "Cork",
    "Porto",
    "Malmo",
    "Brno",
    "Graz",
    "Trieste",
    "Aarhus",
    "Lyon",
]
PEOPLE = [
    "Maria Lopez",
    "Kenji Watanabe",
    "Anna Schmidt",
    "David Okafor",
    "Ingrid Larsen",
    "Tomas Novak",
    "Claire Dubois",
    "Rahul Mehta",
    "Sofia Rossi",
    "Liam Murphy",
]
THINGS = [
    "park rangers",
    "electric buses",
    "school nurses",
    "bike lanes",
    "flood barriers",
    "public libraries",
    "heat pumps",
    "street lights",
]
FILLER = [
    "Residents had asked for the change at several public meetings over the past year.",
    "Opponents said the money would be better spent on road repairs.",
    "The plan still needs approval from the regional transport authority.",
    "Local businesses welcomed the decision in a joint statement.",
    "A similar scheme was tried in a neighbouring town with mixed results.",
    "The council will publish a progress report at the end of the year.",
]


@dataclass
class Article:
    text: str
    facts: list[str]


def make_article(i: int, rng: random.Random) -> Article:
    city, person, thing = rng.choice(CITIES), rng.choice(PEOPLE), rng.choice(THINGS)
    yes, no, count = rng.randint(5, 12), rng.randint(0, 4), rng.randint(3, 60)
    cost, year = rng.randint(100, 990) * 1000, rng.choice([2025, 2026, 2027])
    text = (
        f"The city council of {city} voted {yes} to {no} on Tuesday to fund {count} new "
        f"{thing}. Mayor {person} said the programme will cost {cost:,} euros a year and "
        f"should be complete by {year}. "
        + " ".join(rng.sample(FILLER, 4))
        + f" The first {thing} are expected in {city} within six months."
    )
    return Article(text, [city, person.split()[-1], str(count), f"{cost:,}"])


def duplicate_corpus(unique: list[Article], copies: int, rng: random.Random) -> list[str]:
    """Each text syndicated to `copies` feeds, each copy wrapped differently (HTML, spacing,
    zero-width characters), as different feeds deliver the same story."""
    out = []
    for article in unique:
        variants = [
            article.text,
            f"<p>{article.text}</p>",
            article.text.replace(". ", ".\u200b "),
            f"  {article.text}\n",
            f"<div><p>{article.text}</p><!-- ad --></div>",
        ]
        out.extend(variants[i % len(variants)] for i in range(copies))
    rng.shuffle(out)
    return out


_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_NAME = re.compile(r"\b[A-Z][a-z]+\b")


def grounded(summary: str, article: str) -> bool:
    numbers = {n.rstrip(".,") for n in _NUMBER.findall(summary)}
    names = set(_NAME.findall(summary))
    return all(n in article for n in numbers) and all(n in article for n in names)


def recall(summary: str, facts: list[str]) -> float:
    return sum(fact in summary for fact in facts) / len(facts)


async def run_engine(
    label: str,
    settings: LLMSettings,
    articles: list[Article],
    service_headers: Callable[[], dict[str, str]] | None = None,
) -> tuple[list[float], list[SummaryResult]]:
    engine = make_engine(settings, service_headers)
    await engine.start()
    summarizer = Summarizer(engine, settings)
    latencies, results = [], []
    try:
        for article in articles:
            started = time.perf_counter()
            results.append(await summarizer.summarize(summarizer.prepare(article.text), "en"))
            latencies.append(time.perf_counter() - started)
    finally:
        await engine.close()
    return latencies, results


def _wait_up(url: str, process: subprocess.Popen[bytes], headers: dict[str, str]) -> None:
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}")
        try:
            if httpx.get(url, headers=headers, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


@contextlib.contextmanager
def llama_cpp_server(threads: int) -> Iterator[str]:
    """llama.cpp's own OpenAI-compatible server with the local engine's model."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(default_model_path()),
            "--model_alias",
            "smollm2",
            "--port",
            str(port),
            "--n_threads",
            str(threads),
            "--n_ctx",
            "4096",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_up(f"http://127.0.0.1:{port}/v1/models", process, {})
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait()


@contextlib.contextmanager
def news_creator_server(threads: int) -> Iterator[tuple[str, Callable[[], dict[str, str]]]]:
    """news-creator (`alt serve`) with the local engine, and the headers a caller needs."""
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        keys = Path(home) / "keys.json"
        generate_key_file(keys)
        env = {
            **os.environ,
            "NEWS_CREATOR_URL": f"http://127.0.0.1:{port}",
            "ALT_SERVICE_KEYS_FILE": str(keys),
            "ALT_LLM_ENGINE": "local",
            "ALT_LLM_THREADS": str(threads),
            "ALT_LLM_CACHE": "false",
            "ALT_LLM_EMBEDDINGS": "false",
            "ALT_LOG_LEVEL": "WARNING",
            # The summary cache is off: the database is named, never reached.
            "DATABASE_URL": "postgresql://alt@127.0.0.1:1/none",
            "AUTH_DATABASE_URL": "postgresql://alt@127.0.0.1:1/none",
        }
        tokens = ServiceTokens("pre-processor", KeyRing.load(keys))

        def headers() -> dict[str, str]:
            return {HEADER: tokens.issue("news-creator")}

        process = subprocess.Popen(
            [sys.executable, "-m", "alt.cli", "serve", "news-creator"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_up(f"http://127.0.0.1:{port}/api/version", process, headers())
            yield f"http://127.0.0.1:{port}", headers
        finally:
            process.terminate()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--copies", type=int, default=3)
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))[: args.threads]
    os.sched_setaffinity(0, cores)
    rng = random.Random(7)  # noqa: S311 - a reproducible corpus, not a secret
    articles = [make_article(i, rng) for i in range(args.articles)]
    print(f"# summarize bench: {len(articles)} articles, cores {cores}")

    configs = {
        "extractive": LLMSettings(engine="extractive"),
        "local+gate": LLMSettings(engine="local", threads=args.threads, embeddings=False),
        "local-nogate": LLMSettings(
            engine="local", threads=args.threads, gate=False, embeddings=False
        ),
        # The gate with the judge's threshold at 0: language and grounding checks only.
        "local+ground": LLMSettings(
            engine="local", threads=args.threads, judge_threshold=0, embeddings=False
        ),
    }
    measured: dict[str, tuple[list[float], list[SummaryResult]]] = {}
    for label, settings in configs.items():
        measured[label] = asyncio.run(run_engine(label, settings, articles))
    # The same model behind real servers: llama.cpp's OpenAI-compatible server for `openai`,
    # our own news-creator (local engine) for `ollama`. Gate as in `local+gate`.
    with llama_cpp_server(args.threads) as base_url:
        remote = LLMSettings(engine="openai", base_url=base_url, model="smollm2", embeddings=False)
        measured["openai"] = asyncio.run(run_engine("openai", remote, articles))
    with news_creator_server(args.threads) as (base_url, headers):
        tags = httpx.get(f"{base_url}/api/tags", headers=headers()).json()
        remote = LLMSettings(
            engine="ollama",
            base_url=base_url,
            model=tags["models"][0]["name"],
            send_service_token=True,
            embeddings=False,
        )
        measured["ollama"] = asyncio.run(run_engine("ollama", remote, articles, headers))

    print("\n## throughput and latency (baseline: extractive)")
    base_rate = None
    base_p50 = None
    for label, (latencies, _) in measured.items():
        rate = 60 * len(latencies) / sum(latencies)
        p50 = statistics.median(latencies)
        base_rate = base_rate or rate
        base_p50 = base_p50 or p50
        print(
            f"{label:14s} {rate:9.1f} articles/min  p50 {p50 * 1000:8.1f} ms  "
            f"throughput x{rate / base_rate:.4f}  p50 x{p50 / base_p50:.1f}"
        )

    print("\n## grounding on articles with known facts (baseline: local-nogate)")
    base = None
    for label in ("local-nogate", "local+ground", "local+gate", "extractive"):
        results = measured[label][1]
        rate = sum(grounded(r.summary, a.text) for r, a in zip(results, articles, strict=True))
        share = rate / len(results)
        fact_recall = statistics.mean(
            recall(r.summary, a.facts) for r, a in zip(results, articles, strict=True)
        )
        extractive_share = sum(r.extractive for r in results) / len(results)
        base = base if base is not None else share
        ratio = f"x{share / base:.2f}" if base else "n/a"
        print(
            f"{label:14s} grounded {share:6.1%} ({ratio} vs local-nogate)  fact recall "
            f"{fact_recall:5.1%}  extractive fallback {extractive_share:5.1%}"
        )

    print("\n## content-hash cache on a corpus with cross-feed duplicates (baseline: no cache)")
    corpus = duplicate_corpus(articles, args.copies, rng)
    prepare = Summarizer(
        make_engine(LLMSettings(engine="extractive")), LLMSettings(engine="extractive")
    ).prepare
    keys = [content_hash(prepare(text)) for text in corpus]
    calls = len(set(keys))
    print(
        f"requests {len(corpus)}  model calls {calls} (no cache: {len(corpus)})  "
        f"hit ratio {1 - calls / len(corpus):.1%}  calls x{calls / len(corpus):.2f} "
        "vs no cache"
    )
    naive = len({text for text in corpus})
    print(
        f"exact-byte dedupe for comparison: {naive} calls, hit ratio {1 - naive / len(corpus):.1%}"
    )


if __name__ == "__main__":
    main()
