"""What a job's code is, for Snakemake's rerun decision: the src/foldwise modules a rule runs, hashed
by what they do. Comments, docstrings and formatting never rerun anything; an edit of the code does."""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(getattr(first, "value", None), ast.Constant):
                if isinstance(first.value.value, str):
                    node.body = body[1:] or [ast.Pass()]
    return tree


def source_hash(paths) -> str:
    """A short hash of the Python files ``paths``, in order, as their syntax trees without docstrings."""
    digest = hashlib.sha256()
    for path in paths:
        tree = _without_docstrings(ast.parse(Path(path).read_text(), filename=str(path)))
        digest.update(ast.unparse(tree).encode())
    return digest.hexdigest()[:16]
