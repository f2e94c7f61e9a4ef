"""ner-toolkit formats plugins; each module is one plugin, registered by its own entry point."""
