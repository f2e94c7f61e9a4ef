"""Corpus files and raw text to sentences: the CoNLL and JSONL readers, the tokenizers. Imports nothing of run/ or tagging/."""
