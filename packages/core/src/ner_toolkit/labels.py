"""Label sets: the entity types a recipe asks for, with the descriptions shown to the model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Annotated

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Label:
    """One entity type: ``name`` is the tag (``PER``), ``gloss`` its reading (``person``); a recipe's ``labels`` entry."""

    name: Annotated[str, Field(pattern=r"^\S+$")]
    gloss: str = ""
    description: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    def describe(self) -> str:
        """The label's line in an instruction: ``PER(person): A named individual, ...``."""
        head = f"{self.name}({self.gloss})" if self.gloss else self.name
        return f"{head}: {self.description}" if self.description else head


CONLL2003_LABELS: tuple[Label, ...] = (
    Label(
        "ORG",
        "organization",
        "A collective entity such as a company, institution, brand, political or governmental body, "
        "publication, or any organized group of people acting as a unit.",
    ),
    Label(
        "PER",
        "person",
        "A named individual, including humans, animals, fictional characters, and their aliases.",
    ),
    Label(
        "LOC",
        "location",
        "A geographical or spatial entity, including natural features, built structures, regions, "
        "public or commercial places, assorted buildings, and abstract or metaphorical places.",
    ),
    Label(
        "MISC",
        "miscellaneous",
        "Named entities that are not persons, organizations, or locations, including derived adjectives, "
        "religions, ideologies, nationalities, languages, events, programs, wars, titles of works, "
        "slogans, eras, and types of objects.",
    ),
)
"""The reference label set of the CoNLL-2003 reproduction, in the reference order."""


LabelSpec = str | Sequence[str | Label] | None
"""Labels as a user names them: ``conll2003``, ``PER,LOC``, a list of names or ``Label``s; None for CoNLL-2003."""


def label_set(spec: LabelSpec) -> list[Label]:
    """The labels a spec names; a CoNLL-2003 name (``PER``) keeps the reference gloss and description."""
    if spec is None or spec == "conll2003":
        return list(CONLL2003_LABELS)
    names = [name.strip() for name in spec.split(",")] if isinstance(spec, str) else list(spec)
    known = {label.name: label for label in CONLL2003_LABELS}
    labels = [name if isinstance(name, Label) else known.get(name, Label(name)) for name in names if name]
    if not labels:
        raise ValueError(f"no labels in {spec!r}; expected conll2003 or comma-separated names such as PER,LOC")
    return labels
