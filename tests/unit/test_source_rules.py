"""Source rules for the code that runs on the boards (firmware/, lib/, boards/), checked
on the source with Python's ast module.

1. A module-level private constant (`_NAME = <literal>`: a str, bytes, number or tuple
   of them, never rebound) is declared with const(). MicroPython then folds it into the
   code: the module keeps no global for it, and no name (qstr) is made when the module
   is loaded. Names cost heap on every port (docs/memory.md, "names"). Exception: a
   constant that other module-level tuples hold (the schema tables' shared `_S`): a
   .mpy stores each folded tuple whole, so const() would store that value once per tuple.
2. A private const() is declared before its first use in the file. MicroPython folds a
   const only into code that comes after its declaration; a use above it is compiled as
   a global lookup, and the global does not exist: NameError at run time, on the board
   only (CPython's const() shim hides it).
"""
import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIRS = ("firmware", "lib", "boards")


def _sources():
    for top in DIRS:
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in sorted(files):
                if f.endswith(".py"):
                    p = os.path.join(d, f)
                    with open(p) as fh:
                        yield os.path.relpath(p, ROOT), ast.parse(fh.read(), p)


def _literal(n):
    if isinstance(n, ast.Constant):
        return n.value is not None and not isinstance(n.value, bool)
    if isinstance(n, ast.Tuple):
        return all(_literal(e) for e in n.elts)
    if isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
        return _literal(n.operand)
    if isinstance(n, ast.BinOp):
        return _literal(n.left) and _literal(n.right)
    return False


def _rebound(tree):
    names = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Global):
            names.update(n.names)
    return names


def _shared(tree):
    """Names held by module-level tuples: kept as globals so the value is stored once."""
    names = set()
    for s in tree.body:
        if isinstance(s, ast.Assign):
            for n in ast.walk(s.value):
                if isinstance(n, ast.Tuple):
                    names.update(e.id for e in n.elts if isinstance(e, ast.Name))
    return names


def _is_const(value):
    return (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and value.func.id == "const")


def test_private_literal_constants_use_const():
    bad = []
    for path, tree in _sources():
        rebound = _rebound(tree) | _shared(tree)
        for s in tree.body:
            if (isinstance(s, ast.Assign) and len(s.targets) == 1
                    and isinstance(s.targets[0], ast.Name)):
                name = s.targets[0].id
                if (name.startswith("_") and not name.startswith("__") and name not in rebound
                        and _literal(s.value)):
                    bad.append("%s:%d %s" % (path, s.lineno, name))
    assert not bad, "declare these with const() (no global, no name on the board):\n" + \
        "\n".join(bad)


def test_private_consts_are_declared_before_use():
    bad = []
    for path, tree in _sources():
        decl = {}
        for s in tree.body:
            if (isinstance(s, ast.Assign) and len(s.targets) == 1
                    and isinstance(s.targets[0], ast.Name) and _is_const(s.value)
                    and s.targets[0].id.startswith("_")):
                decl.setdefault(s.targets[0].id, s.lineno)
        for n in ast.walk(tree):
            if isinstance(n, ast.Name) and n.id in decl and n.lineno < decl[n.id]:
                bad.append("%s:%d %s (declared on line %d)" % (path, n.lineno, n.id, decl[n.id]))
    assert not bad, "private consts used above their declaration (NameError on the " \
        "board):\n" + "\n".join(bad)
