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

``Tagger.load`` reads a run folder (``recipe.yaml`` and the trained model), a folder
written by ``ner-toolkit export`` (``ner_toolkit.json`` beside the weights), or any model
or PEFT adapter by folder or hub name with the format and labels given
(``Tagger.load("stefan-it/Qwen2.5-7B-CoNLL-2003", base="Qwen/Qwen2.5-7B", format="bracketed",
labels="conll2003")``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import plugins
from .interfaces import Diagnostic, Formatter, ModelSpec, Predictor, Tokenizer
from .labels import CONLL2003_LABELS, Label
from .spans import Sentence, Span

EXPORT_FILE = "ner_toolkit.json"
DEFAULT_MAX_TOKENS = 256


@dataclass(frozen=True)
class Entity:
    """An entity in a text: characters ``[start, end)``, its label, and the text it covers."""

    start: int
    end: int
    label: str
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "label": self.label, "text": self.text}


@dataclass(frozen=True)
class TaggedSentence:
    """One tokenized sentence with what the model wrote for it and what was read from that."""

    tokens: tuple[str, ...]
    spans: tuple[Span, ...]
    diagnostics: tuple[Diagnostic, ...] = ()
    output: str = ""
    offsets: tuple[tuple[int, int], ...] = ()


@dataclass
class Document:
    """A tagged text: its entities (character offsets), its sentences, and warnings about how it was split."""

    text: str
    entities: list[Entity] = field(default_factory=list)
    sentences: list[TaggedSentence] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    id: str | None = None

    def __iter__(self) -> Iterator[Entity]:
        return iter(self.entities)

    def __len__(self) -> int:
        return len(self.entities)

    def to_json(self) -> dict[str, Any]:
        """The record ``ner-toolkit predict`` writes: text, entities, per-sentence diagnostics, warnings."""
        record: dict[str, Any] = {} if self.id is None else {"id": self.id}
        record["text"] = self.text
        record["entities"] = [entity.to_json() for entity in self.entities]
        record["diagnostics"] = [
            {"sentence": k, "kind": d.kind, "message": d.message}
            for k, sentence in enumerate(self.sentences)
            for d in sentence.diagnostics
        ]
        record["warnings"] = list(self.warnings)
        return record


def _labels(labels: str | Sequence[str | Label] | None) -> list[Label]:
    if labels is None or labels == "conll2003":
        return list(CONLL2003_LABELS)
    if isinstance(labels, str):
        labels = [name.strip() for name in labels.split(",") if name.strip()]
    known = {label.name: label for label in CONLL2003_LABELS}
    return [label if isinstance(label, Label) else known.get(label, Label(label)) for label in labels]


def _trained_model(run: Path) -> Path | None:
    """The folder a run's training saved (adapter or full weights), found even when the run folder moved."""
    marker = run / "model" / "trained.json"
    if not marker.exists():
        return None
    saved = Path(json.loads(marker.read_text(encoding="utf-8"))["path"])
    for candidate in (run / "model" / saved.name, saved):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"{marker} names {saved}, which is not there (nor {run / 'model' / saved.name})")


class Tagger:
    """A loaded model with its format, labels, prompt and tokenizer: call it on text."""

    def __init__(self, formatter: Formatter, predictor: Predictor, tokenizer: Tokenizer, max_tokens: int = DEFAULT_MAX_TOKENS) -> None:
        self.formatter = formatter
        self.predictor = predictor
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self._opened = False

    # --- loading ------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        source: str | Path,
        *,
        base: str | None = None,
        format: str | None = None,
        labels: str | Sequence[str | Label] | None = None,
        instruction: str | None = None,
        chat_template: str | None = None,
        system_prompt: str | None = None,
        tokenizer: str = "regex",
        max_tokens: int = DEFAULT_MAX_TOKENS,
        predictor: str | None = None,
        batch_size: int | None = None,
        **predictor_options: Any,
    ) -> Tagger:
        """Load a run folder, an exported folder, or a model or adapter (folder or hub name).

        Keyword arguments override what the run or export says; for a bare model or adapter
        they say it (``format`` and ``labels`` at least). ``batch_size`` sets the predictor's
        decoding batch where it has one; ``predictor_options`` go to the predictor as they are
        (``decoding``, ``device``, ...).
        """
        folder = Path(source)
        settings: dict[str, Any]
        if (folder / "recipe.yaml").is_file():
            settings = cls._run_settings(folder)
        elif (folder / EXPORT_FILE).is_file():
            settings = cls._export_settings(folder)
        else:
            settings = cls._model_settings(str(source), base)
        if format is not None:
            settings["format"] = {"name": format, "options": {}}
        if labels is not None:
            settings["labels"] = _labels(labels)
        for key, value in (("instruction", instruction), ("chat_template", chat_template), ("system_prompt", system_prompt)):
            if value is not None:
                settings[key] = value
        formatter = plugins.get_formatter(settings["format"]["name"])(
            settings["labels"], instruction=settings.get("instruction"), **settings["format"]["options"]
        )
        name = predictor or settings["predictor"]["name"]
        options = {**settings["predictor"]["options"], **predictor_options} if name == settings["predictor"]["name"] else dict(predictor_options)
        if name == "transformers":
            options.setdefault("progress", False)
            if "decoding" not in options:  # the run's setting when there is one; else speculative copying where it applies
                options["decoding"] = "speculative" if formatter.inline_markup() is not None else "plain"
                options.setdefault("prefix_cache", True)
        predictor_cls = plugins.get_predictor(name)
        if batch_size is not None and "batch_size" in predictor_cls.Options.model_fields:
            options["batch_size"] = batch_size
        spec = ModelSpec(
            settings["model"], settings.get("gguf_file"), settings.get("revision"),
            settings.get("chat_template", "model"), settings.get("system_prompt"),
        )
        made = predictor_cls(spec, settings.get("adapter"), formatter, **options)
        return cls(formatter, made, plugins.get_tokenizer(tokenizer)(), max_tokens)

    @staticmethod
    def _run_settings(run: Path) -> dict[str, Any]:
        import yaml

        from .recipe import Recipe, RecipeError

        path = run / "recipe.yaml"
        try:
            recipe = Recipe.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        except (ValueError, yaml.YAMLError) as error:
            raise RecipeError(f"{path}: not a run's recipe: {error}") from None
        if recipe.model is None:
            raise RecipeError(f"{path}: the run names no model")
        predictor = recipe.predictor.model_dump() if recipe.predictor else {"name": "transformers", "options": {}}
        spec = recipe.model.spec()
        return {
            "format": {"name": recipe.format.name, "options": dict(recipe.format.options)},
            "labels": recipe.label_set(),
            "instruction": recipe.format.instruction,
            "model": spec.name_or_path, "gguf_file": spec.gguf_file, "revision": spec.revision,
            "chat_template": spec.chat_template, "system_prompt": spec.system_prompt,
            "adapter": _trained_model(run),
            "predictor": predictor,
        }

    @staticmethod
    def _export_settings(folder: Path) -> dict[str, Any]:
        meta = json.loads((folder / EXPORT_FILE).read_text(encoding="utf-8"))
        adapter = (folder / "adapter_config.json").is_file()
        model = meta["model"]
        return {
            "format": meta["format"],
            "labels": [Label(**label) for label in meta["labels"]],
            "instruction": meta.get("instruction"),
            "model": model["base"] if adapter else str(folder),
            "gguf_file": model.get("gguf_file") if adapter else None,
            "revision": model.get("revision") if adapter else None,
            "chat_template": model.get("chat_template", "model"),
            "system_prompt": model.get("system_prompt"),
            "adapter": folder if adapter else None,
            "predictor": meta.get("predictor", {"name": "transformers", "options": {}}),
        }

    @staticmethod
    def _model_settings(source: str, base: str | None) -> dict[str, Any]:
        folder = Path(source)
        if base is None and (folder / "adapter_config.json").is_file():
            base = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path")
        return {
            "format": {"name": "bracketed", "options": {}},
            "labels": list(CONLL2003_LABELS),
            "model": base or source,
            "adapter": source if base else None,
            "predictor": {"name": "transformers", "options": {}},
        }

    # --- tagging ------------------------------------------------------------------------

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

    def tag_tokens(self, sentences: Sequence[Sequence[str]]) -> list[TaggedSentence]:
        """Tag already tokenized sentences in one batch; spans are token offsets into each."""
        return self._tag([Sentence(f"{k}", tuple(tokens)) for k, tokens in enumerate(sentences)])

    def _tag(self, sentences: Sequence[Sentence]) -> list[TaggedSentence]:
        results: list[TaggedSentence | None] = [None] * len(sentences)
        todo = [k for k, sentence in enumerate(sentences) if sentence.tokens]
        for k, sentence in enumerate(sentences):
            if not sentence.tokens:
                results[k] = TaggedSentence((), (), (), "", ())
        if todo:
            self.open()
            examples = [self.formatter.example(sentences[k]) for k in todo]
            for index, output in self.predictor.generate(examples):
                sentence = sentences[todo[index]]
                parsed = self.formatter.parse(output, sentence.tokens)
                results[todo[index]] = TaggedSentence(sentence.tokens, parsed.spans, parsed.diagnostics, output, sentence.offsets)
        missing = [k for k, result in enumerate(results) if result is None]
        if missing:
            raise RuntimeError(f"the predictor returned no output for {len(missing)} sentence(s)")
        return [result for result in results if result is not None]

    def split(self, text: str, document: str = "text") -> tuple[list[Sentence], list[str]]:
        """The sentences of ``text`` (with character offsets), and a warning for each one cut at ``max_tokens``."""
        sentences: list[Sentence] = []
        warnings: list[str] = []
        for offsets in self.tokenizer.sentences(text):
            pieces = [offsets[i : i + self.max_tokens] for i in range(0, len(offsets), self.max_tokens)]
            if len(pieces) > 1:
                start = offsets[0][0]
                warnings.append(
                    f"{document}: the sentence at character {start} has {len(offsets)} tokens, more than max_tokens="
                    f"{self.max_tokens}; it was cut into {len(pieces)} pieces (an entity across a cut is lost)"
                )
            for piece in pieces:
                tokens = tuple(text[s:e] for s, e in piece)
                sentences.append(Sentence(f"{document}:{len(sentences)}", tokens, (), None, tuple(piece)))
        return sentences, warnings

    def __call__(self, text: str) -> Document:
        """Tag one text."""
        return next(self.pipe([text]))

    def pipe(self, texts: Iterable[str], batch_size: int = 64, ids: Iterable[str | None] | None = None) -> Iterator[Document]:
        """Tag many texts, decoding the sentences of several texts together in batches of at least ``batch_size``.

        Documents come back in input order, each as soon as its batch is done.
        """
        pending: list[tuple[Document, list[Sentence]]] = []
        size = 0
        id_iter = iter(ids) if ids is not None else None
        for text in texts:
            identifier = next(id_iter) if id_iter is not None else None
            sentences, warnings = self.split(text, identifier or "text")
            pending.append((Document(text, warnings=warnings, id=identifier), sentences))
            size += len(sentences)
            if size >= batch_size:
                yield from self._finish(pending)
                pending, size = [], 0
        if pending:
            yield from self._finish(pending)

    def tag_tokenized(self, documents: Sequence[Sequence[Sequence[str]]], ids: Sequence[str | None] | None = None) -> list[Document]:
        """Tag documents given as tokenized sentences, as they are (no tokenizer, no cut).

        A document's text is its sentences one a line, tokens joined by single spaces;
        entity offsets are characters of that text.
        """
        pending: list[tuple[Document, list[Sentence]]] = []
        for k, sentences in enumerate(documents):
            identifier = ids[k] if ids is not None else None
            made, at = [], 0
            for tokens in sentences:
                offsets = []
                for token in tokens:
                    offsets.append((at, at + len(token)))
                    at += len(token) + 1  # the space after a token, or the newline after a sentence
                made.append(Sentence(f"{identifier or k}:{len(made)}", tuple(tokens), (), None, tuple(offsets)))
            text = "\n".join(" ".join(tokens) for tokens in sentences)
            pending.append((Document(text, id=identifier), made))
        return list(self._finish(pending))

    def _finish(self, pending: list[tuple[Document, list[Sentence]]]) -> Iterator[Document]:
        tagged = iter(self._tag([sentence for _, sentences in pending for sentence in sentences]))
        for document, sentences in pending:
            for _ in sentences:
                sentence = next(tagged)
                document.sentences.append(sentence)
                for span in sentence.spans:
                    start, end = sentence.offsets[span.start][0], sentence.offsets[span.end - 1][1]
                    document.entities.append(Entity(start, end, span.label, document.text[start:end]))
            yield document
