"""ner-toolkit: format-agnostic NER with fine-tuned generative LLMs.

The core is light: it imports no torch, transformers or numpy. Plugins (readers,
tokenizers, formats, trainers, predictors, scorers) are found through entry points of the
``ner_toolkit`` group.
"""

from .conll import CoNLLFormatError, corpus_stats, read_conll, write_conll
from .hookspecs import hookimpl
from .interfaces import (
    Diagnostic,
    Example,
    Formatter,
    InlineMarkup,
    Mention,
    ModelSpec,
    ParseResult,
    Prediction,
    Predictor,
    RUNTIME_ONLY,
    Reader,
    Scorer,
    Tokenizer,
    Trainer,
)
from .labels import CONLL2003_LABELS, Label
from .schemes import Scheme, convert_tags, spans_to_tags, tags_to_spans
from .spans import Sentence, Span
from .tagger import Document, Entity, Tagger

__all__ = [
    "CONLL2003_LABELS",
    "CoNLLFormatError",
    "Diagnostic",
    "Document",
    "Entity",
    "Example",
    "Formatter",
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
    "Sentence",
    "Span",
    "Tagger",
    "Tokenizer",
    "Trainer",
    "convert_tags",
    "corpus_stats",
    "hookimpl",
    "read_conll",
    "spans_to_tags",
    "tags_to_spans",
    "write_conll",
]
