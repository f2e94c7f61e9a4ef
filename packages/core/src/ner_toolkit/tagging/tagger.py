"""Tag any text with a trained model: raw text in, entities with character offsets out.

    from ner_toolkit import Tagger
    tagger = Tagger.load("runs/quickstart")
    tagger("Hussain, considered surplus to England's one-day requirements, struck 158.")

The text is split into sentences and tokens the way the model's training data was (a
tokenizer plugin that keeps character offsets; ``regex`` splits as CoNLL-2003 does), each
sentence is prompted exactly as in training, decoded by the run's predictor (speculative
copying for inline formats), parsed by the run's format and mapped back to characters.
A sentence longer than ``max_tokens`` is cut into pieces at that limit, with a warning
naming it. ``import ner_toolkit`` stays light: the model loads on first use.

``Tagger.pipe`` is the one place sentences are gathered into batches: ``predict``, the
HTTP server and the spaCy component all tag through it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import plugins
from ..confidence import above
from ..documents import Document, Entity
from ..interfaces import Example, Formatter, Prediction, Predictor, Tokenizer
from ..labels import LabelSpec, label_set
from ..run.components import build_formatter, build_predictor
from ..corpus.tokenizers import token_texts
from ..spans import Sentence
from .loading import model_settings

DEFAULT_MAX_TOKENS = 256
DEFAULT_BATCH_SIZE = 64
"""Sentences per predictor call when the predictor has no batch size of its own."""

Offsets = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Tokenized:
    """A text already split into sentences of tokens, as each token's ``(start, end)`` characters in ``text``."""

    text: str
    sentences: tuple[Offsets, ...]

    @classmethod
    def from_tokens(cls, sentences: Sequence[Sequence[str]]) -> Tokenized:
        """Sentences given as token strings: the text is each sentence's tokens joined by spaces, one sentence a line."""
        offsets: list[Offsets] = []
        at = 0
        for tokens in sentences:
            spans = []
            for token in tokens:
                spans.append((at, at + len(token)))
                at += len(token) + 1  # the space after a token, or the newline after a sentence
            offsets.append(tuple(spans))
        return cls("\n".join(" ".join(tokens) for tokens in sentences), tuple(offsets))


TagInput = str | Tokenized | Sequence[Sequence[str]]
"""What ``pipe`` tags: raw text, a ``Tokenized`` text, or a document as sentences of token strings."""


class Tagger:
    """A loaded model with its format, labels, prompt and tokenizer: call it on text."""

    def __init__(
        self,
        formatter: Formatter,
        predictor: Predictor,
        tokenizer: Tokenizer,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        min_score: float | None = None,
    ) -> None:
        if min_score is not None and not 0 <= min_score <= 1:
            raise ValueError(f"min_score must be between 0 and 1, not {min_score}")
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, not {max_tokens}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.formatter = formatter
        self.predictor = predictor
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.min_score = min_score
        """Entities scored below this are left out (an entity without a score is kept)."""
        self._opened = False

    # --- loading ------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        source: str | Path,
        *,
        base: str | None = None,
        format: str | None = None,
        labels: LabelSpec = None,
        instruction: str | None = None,
        chat_template: str | None = None,
        system_prompt: str | None = None,
        tokenizer: str = "regex",
        max_tokens: int = DEFAULT_MAX_TOKENS,
        predictor: str | None = None,
        batch_size: int | None = None,
        min_score: float | None = None,
        **predictor_options: Any,
    ) -> Tagger:
        """Load a run folder, an exported folder, or a model or adapter (folder or hub name).

        Keyword arguments override what the run or export says; for a bare model or adapter
        they say it (``format`` and ``labels`` at least). ``batch_size`` is the number of
        sentences decoded together (the predictor's batch where it has one);
        ``predictor_options`` go to the predictor as they are (``decoding``, ``device``, ...).
        ``min_score`` leaves out entities the model scored below it: precision for recall.
        """
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        settings = model_settings(source, base)
        formatter = build_formatter(
            format or settings.format,
            settings.labels if labels is None else label_set(labels),
            settings.instruction if instruction is None else instruction,
            settings.format_options if format is None else {},
            settings.context,
        )
        spec = settings.model
        if spec is not None and (chat_template is not None or system_prompt is not None):
            from dataclasses import replace

            spec = replace(spec, chat_template=chat_template or spec.chat_template,
                           system_prompt=spec.system_prompt if system_prompt is None else system_prompt)
        name = predictor or settings.predictor
        options = {**settings.predictor_options, **predictor_options} if name == settings.predictor else dict(predictor_options)
        predictor_cls = plugins.get_predictor(name)
        options = predictor_cls.tagging_options(options, formatter, scored=settings.scored and name == settings.predictor)
        if batch_size is not None and "batch_size" in predictor_cls.Options.model_fields:
            options["batch_size"] = batch_size
        made = build_predictor(name, spec, settings.adapter, formatter, options)  # type: ignore[arg-type]
        sentences = batch_size or getattr(made.options, "batch_size", None) or DEFAULT_BATCH_SIZE
        return cls(formatter, made, plugins.get_tokenizer(tokenizer)(), max_tokens, sentences, min_score)

    # --- the model's lifetime -----------------------------------------------------------

    def open(self) -> None:
        """Load the model now rather than on the first text."""
        if not self._opened:
            self.predictor.open()
            self._opened = True

    def close(self) -> None:
        if self._opened:
            self.predictor.close()
            self._opened = False

    def __enter__(self) -> Tagger:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- tagging ------------------------------------------------------------------------

    def __call__(self, text: str) -> Document:
        """Tag one text."""
        return next(self.pipe([text]))

    def tag_tokens(self, sentences: Sequence[Sequence[str]]) -> list[Prediction]:
        """Tag already tokenized sentences as one document; spans are token offsets into each (pieces, if cut)."""
        return next(self.pipe([Tokenized.from_tokens(sentences)])).predictions

    def pipe(self, inputs: Iterable[TagInput], batch_size: int | None = None, ids: Iterable[str | None] | None = None) -> Iterator[Document]:
        """Tag many texts or tokenized documents, ``batch_size`` sentences of any documents decoded together.

        ``batch_size`` defaults to the tagger's. Documents come back in input order, each
        as soon as its last sentence is decoded.
        """
        if isinstance(inputs, (str, bytes, Tokenized)):
            raise TypeError("pipe takes an iterable of texts or documents; to tag one text, call the tagger: tagger(text)")
        size = self.batch_size if batch_size is None else batch_size
        if size < 1:
            raise ValueError(f"batch_size must be at least 1, not {size}")
        identifiers = iter(ids) if ids is not None else None
        waiting: deque[tuple[Document, list[Prediction | None]]] = deque()
        batch: list[tuple[Sentence, Example, list[Prediction | None], int]] = []
        for item in inputs:
            document = self.document(item, next(identifiers, None) if identifiers is not None else None)
            slots: list[Prediction | None] = [None] * len(document.sentences)
            waiting.append((document, slots))
            examples = self.formatter.examples(document.sentences)  # each sentence with its own document's neighbours
            for k, (sentence, example) in enumerate(zip(document.sentences, examples)):
                batch.append((sentence, example, slots, k))
                if len(batch) == size:
                    self._decode(batch)
                    batch = []
            while waiting and None not in waiting[0][1]:
                yield self._finish(*waiting.popleft())
        self._decode(batch)
        while waiting:
            yield self._finish(*waiting.popleft())

    def document(self, item: TagInput, identifier: str | None = None) -> Document:
        """An untagged document: its sentences with character offsets, cut at ``max_tokens`` (with a warning for each cut)."""
        if isinstance(item, str):
            tokenized = Tokenized(item, tuple(tuple(offsets) for offsets in self.tokenizer.sentences(item)))
        elif isinstance(item, Tokenized):
            tokenized = item
        elif isinstance(item, Sequence) and all(isinstance(s, Sequence) and not isinstance(s, str) for s in item):
            tokenized = Tokenized.from_tokens(item)
        else:
            raise TypeError(f"cannot tag {type(item).__name__}: expected a text, a Tokenized text, or sentences of token strings")
        name = identifier or "text"
        document = Document(tokenized.text, id=identifier)
        for offsets in tokenized.sentences:
            pieces = [offsets[i : i + self.max_tokens] for i in range(0, len(offsets), self.max_tokens)]
            if len(pieces) > 1:
                document.warnings.append(
                    f"{name}: the sentence at character {offsets[0][0]} has {len(offsets)} tokens, more than max_tokens="
                    f"{self.max_tokens}; it was cut into {len(pieces)} pieces (an entity across a cut is lost)"
                )
            for piece in pieces:
                tokens = token_texts(tokenized.text, piece)
                document.sentences.append(Sentence(f"{name}:{len(document.sentences)}", tokens, (), name, piece))
        return document

    def _decode(self, batch: list[tuple[Sentence, Example, list[Prediction | None], int]]) -> None:
        """Decode one batch of sentences and put each prediction into its document's slot."""
        if not batch:
            return
        self.open()
        sentences, examples = [row[0] for row in batch], [row[1] for row in batch]
        for index, prediction in self.predictor.predict(sentences, examples):
            _, _, slots, k = batch[index]
            slots[k] = prediction

    def _finish(self, document: Document, slots: list[Prediction | None]) -> Document:
        """The document with its predictions and the entities they give, in characters of its text, with their scores."""
        predictions = [prediction for prediction in slots if prediction is not None]
        if self.min_score is not None:  # every output (entities, CoNLL tags, spans) leaves out the same entities
            predictions = [above(prediction, self.min_score) for prediction in predictions]
        document.predictions = predictions
        for sentence, prediction in zip(document.sentences, document.predictions):
            scores: Sequence[float | None] = prediction.scores or [None] * len(prediction.spans)
            for span, score in zip(prediction.spans, scores):
                start, end = sentence.char_span(span)
                document.entities.append(Entity(start, end, span.label, document.text[start:end], score))
        return document
