"""A trained ner-toolkit model as a spaCy pipeline component: ``nlp.add_pipe("ner_toolkit", config={"model": ...})``.

spaCy finds the factory through the ``spacy_factories`` entry point of ``ner-toolkit-core``
and imports this module whenever it builds a ``Language``; so the module imports spaCy
alone, and the model stack (``ner_toolkit.tagging.tagger`` and, through the predictor,
torch) loads when the component is created, the weights when it first tags.

The component tags spaCy's own tokens: each sentence of a doc (``doc.sents`` when
something set sentence boundaries, else the whole doc) without its whitespace tokens,
given to ``Tagger.pipe`` with their character offsets, so the sentences of many docs are
decoded together. Entities come back in the doc's characters and become ``doc.ents``
through ``Doc.char_span``. Nested spans
(a format that writes them) keep the longest; an entity that overlaps one already in
``doc.ents`` replaces it only with ``overwrite_ents: true``, as in spaCy's ``EntityRuler``.
What the parser could not use is kept per doc in ``doc._.ner_toolkit_diagnostics``; each
entity's score in ``ent._.ner_toolkit_score``.

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("ner_toolkit", config={"model": "runs/quickstart"})
    [(ent.text, ent.label_) for ent in nlp("Hussain, considered surplus to England's one-day requirements.").ents]

A spaCy tokenization can differ from the one the model was trained on (CoNLL-2003 keeps
``one-day`` whole, spaCy's English rules split it); ``ner_toolkit.spacy_tokenizer.conll_english()``
builds a blank English pipeline whose tokenizer follows CoNLL-2003 more closely.
"""

# No `from __future__ import annotations`: spaCy validates a factory's config against its annotations at run time.
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

if TYPE_CHECKING:
    from .tagger import Document, Tagger, Tokenized

DIAGNOSTICS = "ner_toolkit_diagnostics"
SCORE = "ner_toolkit_score"
"""The Span extension holding an entity's score (``ent._.ner_toolkit_score``; None where the model gave none)."""


@Language.factory(
    "ner_toolkit",
    default_config={"base": None, "format": None, "labels": None, "options": {}, "overwrite_ents": False},
)
def make_ner_toolkit(
    nlp: Language,
    name: str,
    model: str,
    base: str | None,
    format: str | None,
    labels: str | None,
    options: dict[str, Any],
    overwrite_ents: bool,
) -> "NerToolkitComponent":
    """The component: ``model`` is a run folder, an exported folder, or a model or adapter (folder or hub name).

    ``base``, ``format`` and ``labels`` (``conll2003`` or ``PER,LOC,...``) say what a bare model
    or adapter is; ``options`` go to ``Tagger.load`` as they are (``batch_size``, ``decoding``, ...).
    """
    from .tagger import Tagger

    loaded = Tagger.load(model, base=base, format=format, labels=labels, **options)
    return NerToolkitComponent(nlp, name, loaded, overwrite_ents=overwrite_ents)


class NerToolkitComponent(Pipe):
    """Sets ``doc.ents`` from a ner-toolkit ``Tagger``: the docs of a stream are tagged through ``Tagger.pipe``."""

    def __init__(self, nlp: Language, name: str, tagger: "Tagger", *, overwrite_ents: bool = False) -> None:
        self.name = name
        self.vocab = nlp.vocab
        self.tagger = tagger
        self.overwrite = overwrite_ents
        if not Doc.has_extension(DIAGNOSTICS):
            Doc.set_extension(DIAGNOSTICS, default=None)
        if not Span.has_extension(SCORE):
            Span.set_extension(SCORE, default=None)

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Tag a stream of docs; ``Tagger.pipe`` decodes the tagger's batch of sentences, across docs, at a time."""
        docs: deque[Doc] = deque()

        def tokenized() -> Iterator["Tokenized"]:
            for doc in stream:
                docs.append(doc)
                yield self.tokenized(doc)

        try:
            for document in self.tagger.pipe(tokenized()):
                doc = docs.popleft()
                self.set_annotations(doc, document)
                yield doc
        except Exception as error:
            self.get_error_handler()(self.name, self, list(docs), error)
            yield from docs

    def tokenized(self, doc: Doc) -> "Tokenized":
        """The doc's sentences (``doc.sents`` when something set sentence boundaries, else the whole doc), whitespace tokens left out."""
        from .tagger import Tokenized

        parts = doc.sents if doc.has_annotation("SENT_START") else [doc[:]]
        sentences = [tuple((token.idx, token.idx + len(token)) for token in part if not token.is_space) for part in parts]
        return Tokenized(doc.text, tuple(sentence for sentence in sentences if sentence))

    def set_annotations(self, doc: Doc, document: "Document") -> None:
        """Set the doc's entities from its tagged document; warnings about cut sentences are raised as Python warnings."""
        for warning in document.warnings:
            warnings.warn(f"{self.name}: {warning}", stacklevel=2)
        found: list[Span] = []
        for entity in document.entities:
            span = doc.char_span(entity.start, entity.end, label=entity.label)
            if span is None:  # pragma: no cover - both ends are token boundaries by construction
                raise RuntimeError(f"{self.name}: {entity} does not map onto tokens of the doc")
            span._.set(SCORE, entity.score)
            found.append(span)
        doc._.set(DIAGNOSTICS, [d for prediction in document.predictions for d in prediction.diagnostics])
        self._set_ents(doc, filter_spans(found))

    def _set_ents(self, doc: Doc, entities: list[Span]) -> None:
        """Add non-overlapping ``entities`` to ``doc.ents``; on overlap the old ones win unless ``overwrite_ents``."""
        kept = list(doc.ents)
        added = []
        for entity in entities:
            clashes = [old for old in kept if old.start < entity.end and entity.start < old.end]
            if clashes and not self.overwrite:
                continue
            kept = [old for old in kept if old not in clashes]
            added.append(entity)
        doc.ents = sorted(kept + added, key=lambda span: span.start)
