"""The plugin interfaces: Reader, Tokenizer, SentenceSplitter, Formatter, Trainer, Predictor, Scorer and Writer, and their contracts.

A plugin subclasses one of these, gives it a ``name``, and registers the class from a
``register_*`` hook (see ``hookspecs``). Options from a recipe reach the constructor as
keyword arguments; a plugin that declares ``Options`` (a pydantic model) has them
validated before any work starts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

from .context import CONTEXT_NOTE, MAX_CONTEXT, Context, document_contexts
from .labels import Label
from .spans import Sentence, Span

if TYPE_CHECKING:
    from .documents import Document


class NoOptions(BaseModel):
    """Options of a plugin that takes none: anything given is an error."""

    model_config = ConfigDict(extra="forbid")


RUNTIME_ONLY = {"results": False}
"""``json_schema_extra`` of an option that changes how a plugin runs, never what it gives
(a progress bar, a garbage-collector setting): a run's stage records leave it out, so
changing it redoes nothing. ``Field(True, json_schema_extra=RUNTIME_ONLY)``."""


def result_options(options: BaseModel) -> dict[str, Any]:
    """A plugin's validated options as JSON, less those marked ``RUNTIME_ONLY``: what its results depend on."""
    fields = type(options).model_fields
    runtime = {name for name, f in fields.items() if isinstance(f.json_schema_extra, dict) and f.json_schema_extra.get("results") is False}
    return options.model_dump(mode="json", exclude=runtime)


def path_options(options: type[BaseModel]) -> list[str]:
    """The options typed ``Path`` (or ``Path | None``): files or folders whose contents, not names, a result depends on.

    A run's stage records keep a digest of what such an option names, and its recipe the
    absolute path, so editing the file redoes what it reaches and moving the run does not.
    """
    import typing

    return [
        name for name, field in options.model_fields.items()
        if field.annotation is Path or Path in typing.get_args(field.annotation)
    ]


@dataclass(frozen=True)
class Diagnostic:
    """Something a parser could not use or had to repair, e.g. ``unknown_label``.

    ``kind`` is a short snake_case name counted in reports; ``message`` says what and where.
    """

    kind: str
    message: str


@dataclass(frozen=True)
class Mention:
    """An entity as the model wrote it: its text and label, before alignment to tokens."""

    text: str
    label: str


@dataclass(frozen=True)
class ParseResult:
    """What a formatter made of one model output.

    ``spans`` are on the original tokens; ``mentions`` are the entities as written, in
    output order; ``copied_input`` is true when the output without its markup equals the
    input up to whitespace and letter case.
    """

    spans: tuple[Span, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    mentions: tuple[Mention, ...] = ()
    copied_input: bool = True


MAX_NESTING = 16
"""Deepest nesting an inline format reads exactly; constrained decoding allows no deeper."""


@dataclass(frozen=True)
class InlineMarkup:
    """How an inline format writes entities into the copied input: what constrained decoding reads.

    The rendering of a sentence is its tokens joined by single spaces, with ``open`` written
    right before an entity's first token and ``close`` right after its last; either template
    may hold ``{label}``. At most ``max_depth`` entities are open at once (1: flat). Every
    string of that shape must parse back with no diagnostics.
    """

    open: str
    close: str
    max_depth: int = 1

    def opener(self, label: str) -> str:
        """The opener of an entity labelled ``label``."""
        return self.open.replace("{label}", label)

    def closer(self, label: str) -> str:
        """The closer of an entity labelled ``label``."""
        return self.close.replace("{label}", label)

    def __post_init__(self) -> None:
        if not self.open or not self.close:
            raise ValueError("inline markup needs a non-empty opener and closer")
        if not 1 <= self.max_depth <= MAX_NESTING:
            raise ValueError(f"max_depth must be between 1 and {MAX_NESTING}, not {self.max_depth}")


@dataclass(frozen=True)
class Example:
    """One instruction-tuning example in the Alpaca layout, tied to its sentence."""

    id: str
    instruction: str
    input: str
    """The sentence as the format writes it: what the model rewrites."""
    output: str
    tokens: tuple[str, ...] = ()
    context: Context | None = None
    """The sentence's neighbours in its document, shown before it in the prompt (``format.context``)."""
    shots: tuple[Example, ...] = ()
    """Solved examples shown as earlier turns of the conversation, before this one (``format.shots``)."""

    @property
    def model_input(self) -> str:
        """The input part of the prompt: the sentence, after its context when it has one."""
        return self.input if self.context is None else self.context.around(self.input)

    def to_alpaca(self) -> dict[str, Any]:
        """The example as LLaMA-Factory's Alpaca layout reads it; shots become ``history``, its earlier turns."""
        record: dict[str, Any] = {"instruction": self.instruction, "input": self.model_input, "output": self.output}
        if self.shots:
            from .prompts import user_turn

            record["history"] = [[user_turn(shot), shot.output] for shot in self.shots]
        return record


@dataclass(frozen=True)
class Prediction:
    """One sentence's model output and what was parsed from it."""

    sentence_id: str
    output: str
    spans: tuple[Span, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    mentions: tuple[Mention, ...] = ()
    copied_input: bool = True
    scores: tuple[float, ...] = ()
    """Each span's confidence in [0, 1], in the order of ``spans`` (``confidence``); empty where the predictor gave none."""

    @classmethod
    def from_parse(cls, sentence_id: str, output: str, result: ParseResult) -> Prediction:
        return cls(sentence_id, output, result.spans, result.diagnostics, result.mentions, result.copied_input)


@dataclass(frozen=True)
class Generation:
    """A model output with the log-probability of each of its tokens: what a predictor that can score entities yields.

    ``token_ends[k]`` is the character of ``text`` where token ``k`` ends; ``token_logprobs[k]``
    is the log-probability the model gave it where it was chosen.
    """

    text: str
    token_ends: tuple[int, ...]
    token_logprobs: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.token_ends) != len(self.token_logprobs):
            raise ValueError(f"{len(self.token_ends)} token ends for {len(self.token_logprobs)} log-probabilities")


class Plugin:
    """What every component has: a registry name and optional validated options."""

    name: ClassVar[str]
    Options: ClassVar[type[BaseModel]] = NoOptions

    @classmethod
    def check_recipe(cls, recipe: Any) -> list[str]:
        """Problems with this component in the context of the whole recipe, as ``field.path: message``.

        Called when a recipe is validated, before any work starts; the default finds none.
        """
        return []

    @classmethod
    def recipe_warnings(cls, recipe: Any) -> list[str]:
        """Settings that are valid but do nothing here (an option of another mode), as ``field.path: message``."""
        return []

    @classmethod
    def summary(cls) -> str:
        """The first line of the class docstring, for ``ner-toolkit plugins``."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""


class Reader(Plugin, ABC):
    """Reads a corpus file into sentences with gold spans; an error names the file and line."""

    reads_folders: ClassVar[bool] = False
    """Whether a split may name a folder (a saved dataset) rather than a file."""

    def __init__(self, **options: Any) -> None:
        self.options = self.Options.model_validate(options)

    @abstractmethod
    def read(self, path: Path) -> list[Sentence]:
        """Every sentence of ``path`` in file order, with ids that locate it (``file:line``)."""


class Tokenizer(Plugin, ABC):
    """Splits raw text into sentences of tokens, keeping each token's character offsets."""

    def __init__(self, **options: Any) -> None:
        self.options = self.Options.model_validate(options)

    @abstractmethod
    def tokenize(self, text: str) -> list[tuple[int, int]]:
        """The ``(start, end)`` characters of each token of ``text``, in order; no token holds whitespace."""

    def sentences(self, text: str) -> list[list[tuple[int, int]]]:
        """The tokens grouped into sentences; the default keeps the text as one sentence."""
        tokens = self.tokenize(text)
        return [tokens] if tokens else []


class SentenceSplitter(Plugin, ABC):
    """Splits raw text into sentences: what a tokenizer's ``splitter`` option names."""

    def __init__(self, **options: Any) -> None:
        self.options = self.Options.model_validate(options)

    @abstractmethod
    def split(self, text: str, tokens: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        """The ``(start, end)`` characters of each sentence of ``text``, in order; ``tokens`` are the tokenizer's, for a splitter that reads them."""


class Formatter(Plugin, ABC):
    """An output format: renders training targets and parses model outputs back into spans.

    Parsing is total: any string gives spans plus diagnostics, never an exception.
    ``output_description`` is the part of the instruction that describes the format.
    """

    output_description: ClassVar[str]

    def __init__(self, labels: Sequence[Label], instruction: str | None = None, context: int = 0, **options: Any) -> None:
        if not 0 <= context <= MAX_CONTEXT:
            raise ValueError(f"context must be between 0 and {MAX_CONTEXT} sentences, not {context}")
        self.labels = tuple(labels)
        self.label_names = frozenset(label.name for label in self.labels)
        self.options = self.Options.model_validate(options)
        self._instruction = instruction
        self.context = context
        """How many sentences before and after each sentence, from its document, the prompt shows."""

    def instruction(self) -> str:
        """The task instruction with the label set, as the reference lays it out (and a note on context when prompts carry it)."""
        if self._instruction is not None:
            return self._instruction
        label_lines = "\n".join(label.describe() for label in self.labels)
        note = f"{CONTEXT_NOTE}\n" if self.context else ""
        return (
            "Your task is to identify all named entities in the input sentence and "
            f"{self.output_description} Use only the label tags defined in the Label Set below.\n"
            f"Label Set:\n{label_lines}\n{note}Now process the input sentence:"
        )

    def inline_markup(self) -> InlineMarkup | None:
        """The markup of a format that writes the input with entities marked in place; None otherwise.

        A format that returns markup gets constrained and speculative decoding for free.
        """
        return None

    def writes_nested(self) -> bool:
        """Whether spans may nest or overlap in this format's outputs; the default reads a ``nested`` option."""
        return bool(getattr(self.options, "nested", False))

    def render_input(self, tokens: Sequence[str]) -> str:
        """The model input for a sentence: its tokens joined by single spaces."""
        return " ".join(tokens)

    @abstractmethod
    def render(self, tokens: Sequence[str], spans: Sequence[Span]) -> str:
        """The training target for a sentence with these spans."""

    @abstractmethod
    def parse(self, output: str, tokens: Sequence[str]) -> ParseResult:
        """Spans on ``tokens`` plus diagnostics for a raw model output; never raises."""

    def example(self, sentence: Sentence, context: Context | None = None) -> Example:
        """The Alpaca-style example for a gold sentence, with its document context if given."""
        return Example(
            sentence.id,
            self.instruction(),
            self.render_input(sentence.tokens),
            self.render(sentence.tokens, sentence.spans),
            sentence.tokens,
            context,
        )

    def contexts(self, sentences: Sequence[Sentence]) -> list[Context | None]:
        """Each sentence's document context, taken from ``sentences`` (whole documents, in reading order); None without ``context``."""
        if not self.context:
            return [None] * len(sentences)
        return list(document_contexts(sentences, self.context, self.render_input))

    def examples(self, sentences: Sequence[Sentence]) -> list[Example]:
        """The examples of ``sentences``, each with its neighbours among them when prompts carry context."""
        return [self.example(sentence, context) for sentence, context in zip(sentences, self.contexts(sentences))]

    def prediction(self, sentence: Sentence, output: str) -> Prediction:
        """What a model's ``output`` for ``sentence`` says: the one place an output becomes a ``Prediction``."""
        return Prediction.from_parse(sentence.id, output, self.parse(output, sentence.tokens))


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's weights come from (a hub name or folder, optionally a GGUF file in it) and how it is prompted.

    ``chat_template`` is ``model`` (the tokenizer's template) or ``alpaca`` (plain text);
    ``system_prompt`` replaces the template's default system turn when set.
    """

    name_or_path: str
    gguf_file: str | None = None
    revision: str | None = None
    chat_template: str = "model"
    system_prompt: str | None = None


class Trainer(Plugin, ABC):
    """Fine-tunes a model on examples and saves the result (an adapter or full weights)."""

    def __init__(self, **options: Any) -> None:
        self.options = self.Options.model_validate(options)

    def reads_eval(self) -> bool:
        """Whether ``train`` uses its ``eval`` examples (a change of the dev split then retrains)."""
        return True

    def close(self) -> None:
        """Free what training left in memory (models, optimizer, accelerator caches); called after ``train``."""

    @abstractmethod
    def train(
        self,
        model: ModelSpec,
        train: Sequence[Example],
        output_dir: Path,
        eval: Sequence[Example] = (),
    ) -> Path:
        """Train, checkpointing into ``output_dir`` so a rerun resumes; return the saved model folder."""


class Predictor(Plugin, ABC):
    """Turns sentences into parsed predictions with a model: a plugin implements ``generate``, callers use ``predict``.

    A predictor is used as a context manager: ``open`` loads the model once, every call of
    ``predict`` (one per split, or per batch of documents) reuses it, ``close`` frees it.
    """

    needs_model: ClassVar[bool] = True
    """Whether the recipe must name a ``model``; a predictor that asks a served model (``openai``) may do without."""

    def __init__(self, model: ModelSpec | None, adapter: Path | None, formatter: Formatter, /, **options: Any) -> None:
        self.model, self.adapter, self.formatter = model, adapter, formatter
        self.options = self.Options.model_validate(options)

    @classmethod
    def describe(cls, options: dict[str, Any]) -> dict[str, Any]:
        """What a run's manifest and reports say about where answers came from (a served model, its host); the default says nothing."""
        return {}

    @classmethod
    def tagging_options(cls, options: dict[str, Any], formatter: Formatter, scored: bool = False) -> dict[str, Any]:
        """The options to tag new text with, given those a run, an export or the caller gives; the default keeps them.

        ``scored``: the options are those a run or export was scored with, so that only
        options that never change an output (``RUNTIME_ONLY``) may differ.
        """
        return dict(options)

    def predict(self, sentences: Sequence[Sentence], examples: Sequence[Example] | None = None) -> Iterator[tuple[int, Prediction]]:
        """Yield ``(index into sentences, prediction)`` as each is ready, in any order: generate, then parse.

        ``examples`` are the sentences' rendered examples when the caller has them already;
        without them, document context comes from ``sentences`` (pass whole documents).
        A sentence without tokens gets an empty prediction without a model call; a
        sentence the backend returned nothing for is an error naming it.
        """
        todo = [k for k, sentence in enumerate(sentences) if sentence.tokens]
        for k, sentence in enumerate(sentences):
            if not sentence.tokens:
                yield k, Prediction(sentence.id, "")
        if not todo:
            return
        if examples is None:
            examples = self.formatter.examples(sentences)
        prompts = [examples[k] for k in todo]
        answered: set[int] = set()
        for index, output in self.generate(prompts):
            answered.add(index)
            sentence = sentences[todo[index]]
            if isinstance(output, Generation):
                from .confidence import entity_scores

                prediction = self.formatter.prediction(sentence, output.text)
                yield todo[index], replace(prediction, scores=entity_scores(self.formatter, sentence.tokens, prediction.spans, output))
            else:
                yield todo[index], self.formatter.prediction(sentence, output)
        if len(answered) < len(todo):
            missing = [sentences[todo[i]].id for i in range(len(todo)) if i not in answered]
            raise RuntimeError(f"the {self.name} predictor returned no output for {len(missing)} sentence(s), e.g. {missing[:3]}")

    def open(self) -> None:
        """Load what ``generate`` needs (weights, tokenizer); called once. The default loads nothing."""

    def close(self) -> None:
        """Free what ``open`` loaded. The default frees nothing."""

    def __enter__(self) -> Predictor:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @abstractmethod
    def generate(self, examples: Sequence[Example]) -> Iterator[tuple[int, str | Generation]]:
        """Yield ``(index into examples, raw output)`` as each output is ready, in any order (their ``output`` is ignored).

        A raw output given as a ``Generation`` (with its tokens' log-probabilities) gives its entities scores.
        """


class Scorer(Plugin, ABC):
    """Scores predicted spans against gold sentences; returns plain, JSON-ready numbers."""

    def __init__(self, labels: Sequence[str], **options: Any) -> None:
        self.labels = tuple(labels)
        self.options = self.Options.model_validate(options)

    @abstractmethod
    def score(self, gold: Sequence[Sentence], predictions: Sequence[Prediction]) -> dict[str, Any]:
        """Numbers keyed by what they are (``micro.f1``, ``per_type.PER.precision``, ...)."""

    def markdown(self, result: dict[str, Any]) -> str:
        """A Markdown section for the report; the default lists the top-level numbers."""
        lines = [f"### {self.name}", ""]
        lines += [f"- {key}: {value}" for key, value in result.items() if isinstance(value, (int, float))]
        return "\n".join(lines)

    def html(self, result: dict[str, Any]) -> str:
        """An HTML section for the report; the default shows the Markdown section as text."""
        from html import escape

        return f"<pre>{escape(self.markdown(result))}</pre>"


class Writer(Plugin, ABC):
    """Writes tagged documents as a file another tool imports (``ner-toolkit predict --output-format NAME``).

    ``start`` is called once before the first document, ``write`` once per document as it
    is tagged, ``finish`` once after the last. ``binary`` writers get a byte handle, others
    a text one. ``model_version`` names the model, for tools that show where a suggestion
    came from.
    """

    binary: ClassVar[bool] = False

    def __init__(self, handle: IO[Any], model_version: str | None = None, **options: Any) -> None:
        self.handle = handle
        self.model_version = model_version
        self.options = self.Options.model_validate(options)

    def start(self) -> None:
        """Write what comes before the first document; the default writes nothing."""

    @abstractmethod
    def write(self, document: Document) -> None:
        """Write one tagged document."""

    def finish(self) -> None:
        """Write what comes after the last document; the default writes nothing."""
