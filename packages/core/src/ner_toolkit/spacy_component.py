"""A trained ner-toolkit model as a spaCy pipeline component: ``nlp.add_pipe("ner_toolkit", config={"model": ...})``.

spaCy finds the factory through the ``spacy_factories`` entry point of ``ner-toolkit-core``
and imports this module whenever it builds a ``Language``; so the module imports spaCy
alone, and the model stack (``ner_toolkit.tagger`` and, through it, torch) loads when the
component is created, the weights when it first tags.

The component tags spaCy's own tokens: each sentence of a doc (``doc.sents`` when
something set sentence boundaries, else the whole doc) without its whitespace tokens, with
the sentences of every doc of an ``nlp.pipe`` batch in one ``Tagger.tag_tokens`` call. Spans
come back as token offsets and become ``doc.ents`` through ``Doc.char_span``. Nested spans
(a format that writes them) keep the longest; an entity that overlaps one already in
``doc.ents`` replaces it only with ``overwrite_ents: true``, as in spaCy's ``EntityRuler``.
What the parser could not use is kept per doc in ``doc._.ner_toolkit_diagnostics``.

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
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from spacy.language import Language
from spacy.pipeline import Pipe
from spacy.tokens import Doc, Span
from spacy.util import filter_spans, minibatch

if TYPE_CHECKING:
    from .tagger import Tagger

DIAGNOSTICS = "ner_toolkit_diagnostics"


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
    """Sets ``doc.ents`` from a ner-toolkit ``Tagger``, a batch of docs per ``tag_tokens`` call."""

    def __init__(self, nlp: Language, name: str, tagger: "Tagger", *, overwrite_ents: bool = False) -> None:
        self.name = name
        self.vocab = nlp.vocab
        self.tagger = tagger
        self.overwrite = overwrite_ents
        if not Doc.has_extension(DIAGNOSTICS):
            Doc.set_extension(DIAGNOSTICS, default=None)

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc], batch_size=1)))

    def pipe(self, stream: Iterable[Doc], *, batch_size: int = 128) -> Iterator[Doc]:
        """Tag the docs ``batch_size`` at a time: one ``tag_tokens`` call per batch."""
        error_handler = self.get_error_handler()
        for batch in minibatch(stream, size=batch_size):
            docs = list(batch)
            try:
                self.set_annotations(docs)
            except Exception as error:
                error_handler(self.name, self, docs, error)
            yield from docs

    def sentences(self, doc: Doc) -> list[list[int]]:
        """The doc's sentences as lists of token indices, whitespace tokens left out, cut at the tagger's ``max_tokens``."""
        parts = doc.sents if doc.has_annotation("SENT_START") else [doc[:]]
        found = []
        limit = self.tagger.max_tokens
        for part in parts:
            indices = [token.i for token in part if not token.is_space]
            if len(indices) > limit:
                warnings.warn(
                    f"{self.name}: the sentence at character {doc[indices[0]].idx} has {len(indices)} tokens, more than "
                    f"max_tokens={limit}; it was cut into pieces (an entity across a cut is lost)",
                    stacklevel=2,
                )
            found.extend(indices[i : i + limit] for i in range(0, len(indices), limit))
        return found

    def set_annotations(self, docs: list[Doc]) -> None:
        """Tag every sentence of ``docs`` in one call and set each doc's entities."""
        per_doc = [self.sentences(doc) for doc in docs]
        tokens = [[doc[i].text for i in indices] for doc, sentences in zip(docs, per_doc) for indices in sentences]
        tagged = iter(self.tagger.tag_tokens(tokens) if tokens else [])
        for doc, sentences in zip(docs, per_doc):
            found: list[Span] = []
            diagnostics = []
            for indices in sentences:
                result = next(tagged)
                diagnostics.extend(result.diagnostics)
                for span in result.spans:
                    first, last = doc[indices[span.start]], doc[indices[span.end - 1]]
                    entity = doc.char_span(first.idx, last.idx + len(last), label=span.label)
                    if entity is None:  # pragma: no cover - both ends are token boundaries by construction
                        raise RuntimeError(f"{self.name}: {span} does not map onto tokens of the doc")
                    found.append(entity)
            doc._.set(DIAGNOSTICS, diagnostics)
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
