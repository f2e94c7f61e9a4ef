"""The diagnostic vocabulary shared by every built-in format: one constant per kind.

A parser reports what it could not use, or had to repair, as ``Diagnostic(kind, message)``;
reports count them per kind and per sentence. The kinds, in the order a parse meets them:
"""

from __future__ import annotations

#: non-blank text after the first newline was discarded (``first_line_only``)
TRAILING_LINES = "trailing_lines"
#: inline markup that does not pair up: a ``[`` or ``<TAG>`` never closed, a closer never opened
UNBALANCED_MARKUP = "unbalanced_markup"
#: an XML closing tag whose label differs from its opening tag's (``<PER>x</LOC>``)
MISMATCHED_TAG = "mismatched_tag"
#: a closer without a label (``[EU | ]``)
MISSING_LABEL = "missing_label"
#: output that is not valid JSON; whatever records could be salvaged were used
MALFORMED_JSON = "malformed_json"
#: a JSON value of the wrong shape: a record that is not an object, a field of the wrong type
MALFORMED_RECORD = "malformed_record"
#: a label outside the recipe's label set: the entity is kept as a span, so every scorer counts it as a
#: wrong prediction (``keep_unknown_labels: false`` drops it instead)
UNKNOWN_LABEL = "unknown_label"
#: an entity with no text (``[ | PER]``, ``"text": ""``)
EMPTY_ENTITY = "empty_entity"
#: the output's text differs from the input beyond whitespace and letter case (mis-copied, dropped or added words)
TEXT_MISMATCH = "text_mismatch"
#: an output too long and too different from its input to align within the work budget: the text
#: after the named character was not aligned, so its entities are ``entity_not_in_input``
ALIGNMENT_CAPPED = "alignment_capped"
#: an entity whose text cannot be found in, or aligned to, the input: not turned into a span
ENTITY_NOT_IN_INPUT = "entity_not_in_input"
#: an entity that aligns to the input but starts or ends inside a token: not turned into a span
PARTIAL_TOKEN = "partial_token"
#: an entity that matches whole input tokens only when letter case is ignored (``Japan`` for
#: ``JAPAN``: a model trained on truecased text): kept as a span, counted so that it shows
CASE_MISMATCH = "case_mismatch"
#: a JSON ``occurrence_index`` that is missing or out of range for its text
BAD_OCCURRENCE = "bad_occurrence"
#: JSON ``start``/``end`` offsets missing, out of range, or not matching the entity's text
BAD_OFFSETS = "bad_offsets"
#: an entity inside another while the label set is flat (``nested=False``): the inner one is dropped
NESTED_ENTITY = "nested_entity"
#: an entity that crosses or repeats another's tokens with another label: the later one is dropped
OVERLAPPING_ENTITY = "overlapping_entity"
#: a parser bug caught by the totality guard; tests assert it never appears
INTERNAL_ERROR = "internal_error"

KINDS: tuple[str, ...] = (
    TRAILING_LINES,
    UNBALANCED_MARKUP,
    MISMATCHED_TAG,
    MISSING_LABEL,
    MALFORMED_JSON,
    MALFORMED_RECORD,
    UNKNOWN_LABEL,
    EMPTY_ENTITY,
    TEXT_MISMATCH,
    ALIGNMENT_CAPPED,
    ENTITY_NOT_IN_INPUT,
    PARTIAL_TOKEN,
    CASE_MISMATCH,
    BAD_OCCURRENCE,
    BAD_OFFSETS,
    NESTED_ENTITY,
    OVERLAPPING_ENTITY,
    INTERNAL_ERROR,
)
"""Every kind a built-in format may report."""
