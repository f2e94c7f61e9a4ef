"""Using a trained model: loading it, the Tagger, predict, serve, export and the spaCy component.

The only layer that reads run folders as a user's model; nothing below it imports it.
"""
