"""ner-toolkit trainers plugins; each module is one plugin, registered by its own entry point."""
