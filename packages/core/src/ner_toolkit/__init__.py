"""ner-toolkit: format-agnostic NER with fine-tuned generative LLMs.

The core is light: it imports no torch, transformers or numpy. Plugins (readers,
tokenizers, formats, trainers, predictors, scorers, writers) are found through entry points
of the ``ner_toolkit`` group. ``Tagger`` comes from the tagging layer, imported on first use.
"""

from typing import TYPE_CHECKING, Any

from .corpus.conll import CoNLLFormatError, corpus_stats, read_conll, write_conll
from .hookspecs import hookimpl
from .interfaces import (
    Diagnostic,
    Example,
    Formatter,
    Generation,
    InlineMarkup,
    Mention,
    ModelSpec,
    ParseResult,
    Prediction,
    Predictor,
    RUNTIME_ONLY,
    Reader,
    Scorer,
    SentenceSplitter,
    Tokenizer,
    Trainer,
    Writer,
)
from .labels import CONLL2003_LABELS, Label, label_set
from .schemes import Scheme, convert_tags, spans_to_tags, tags_to_spans
from .spans import Sentence, Span

from .documents import Document, Entity

if TYPE_CHECKING:
    from .tagging.tagger import Tagger

_TAGGING = ("Tagger",)


def __getattr__(name: str) -> Any:
    """``Tagger``, imported from the tagging layer when first asked for."""
    if name in _TAGGING:
        from .tagging import tagger

        return getattr(tagger, name)
    raise AttributeError(f"module 'ner_toolkit' has no attribute {name!r}")


__all__ = [
    "CONLL2003_LABELS",
    "CoNLLFormatError",
    "Diagnostic",
    "Document",
    "Entity",
    "Example",
    "Formatter",
    "Generation",
    "InlineMarkup",
    "Label",
    "Mention",
    "ModelSpec",
    "ParseResult",
    "Prediction",
    "Predictor",
    "RUNTIME_ONLY",
    "Reader",
    "Scheme",
    "Scorer",
    "SentenceSplitter",
    "Sentence",
    "Span",
    "Tagger",
    "Tokenizer",
    "Trainer",
    "Writer",
    "convert_tags",
    "corpus_stats",
    "hookimpl",
    "label_set",
    "read_conll",
    "spans_to_tags",
    "tags_to_spans",
    "write_conll",
]
