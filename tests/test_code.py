from foldwise import code

MODULE = '''"""A module."""

import numpy as np


def scale(x, factor=2):
    """Scale x."""
    return x * factor  # the factor
'''


def hash_of(tmp_path, text):
    path = tmp_path / "module.py"
    path.write_text(text)
    return code.source_hash([path])


def test_comments_docstrings_and_formatting_rerun_nothing(tmp_path):
    before = hash_of(tmp_path, MODULE)
    edited = MODULE.replace('"""Scale x."""', '"""Scale x by a factor; a longer docstring."""')
    edited = edited.replace("# the factor", "# a comment that says more") + "\n# a trailing comment\n"
    assert hash_of(tmp_path, edited) == before
    assert hash_of(tmp_path, edited.replace("x * factor", "x  *  factor")) == before


def test_an_edit_of_the_code_reruns(tmp_path):
    before = hash_of(tmp_path, MODULE)
    assert hash_of(tmp_path, MODULE.replace("factor=2", "factor=3")) != before
    assert hash_of(tmp_path, MODULE.replace("x * factor", "x * factor + 0")) != before


def test_a_function_of_only_a_docstring_still_parses(tmp_path):
    assert hash_of(tmp_path, 'def f():\n    """Nothing."""\n') != hash_of(tmp_path, "def g():\n    pass\n")
