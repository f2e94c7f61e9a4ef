"""Label sets: the entity types a recipe asks for, with the descriptions shown to the model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Label:
    """One entity type: ``name`` is the tag (``PER``), ``gloss`` its reading (``person``)."""

    name: str
    gloss: str = ""
    description: str = ""

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
