"""Small rules of the question reader, one file each, with their words and weights as module-level data.

Each rule reads the question's words (and the semantic model, never a particular database) and contributes one
part of a plan: which columns to show, whether to list each row once, the most frequent value, a count that
must pass a bar, ... The reader calls them; each has its own tests on invented schemas in tests/semantics/.
"""
