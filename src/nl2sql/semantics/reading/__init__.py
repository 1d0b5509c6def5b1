"""The stages of the question reader (semantics/reader.py runs them in order, its docstring says how).

parsing → cues → measures → focus → filters (comparisons, timing) → grouping → ordering → assembly → accounting;
parts.py holds the data they pass along, schema.py and ratio.py what several stages ask of the model.
"""
