"""The experiment a recipe describes: recipe, components, run folder, stages, pipeline, scoring, reports, evaluate.

Imports the vocabulary and corpus/, never tagging/.
"""
