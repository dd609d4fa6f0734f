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
3. (for the tests) No test embeds a MicroPython program in a string: the programs tests
   run inside `micropython` are files in tests/mp/ (tests/mp.py run_file), which
   `make check-mp` compiles, so an error names a file and a line. tests/mp.py runs
   files only, and no test hands `micropython` a program with -c.
"""
import ast
import os
import textwrap

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


# -- 3. no MicroPython programs in strings inside tests ------------------------------
# A string is taken for a program when it parses as Python and holds at least two
# statements that prose cannot make (anything but bare expressions and `Name: text`
# lines), over three lines or more; docstrings are not. What a test types at a device's
# REPL (the argument of a call named mpremote, as a person would type it) is input, not
# a program the test runs. Files that still hold programs, with how many (none: keep it
# so; the number may only go down).
STILL_EMBEDDED = {
}
_REPL_INPUT = ("mpremote",)


def _docstrings(tree):
    ids = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            if n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant):
                ids.add(id(n.body[0].value))
    return ids


def _repl_input(tree):
    ids = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Call):
            f = n.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
            if name in _REPL_INPUT:
                ids.update(id(a) for a in n.args)
    return ids


def _is_program(text):
    if text.count("\n") < 2:
        return False
    try:
        tree = ast.parse(textwrap.dedent(text))     # a program indented inside a test too
    except (SyntaxError, ValueError):
        return False
    code = [st for st in tree.body
            if not isinstance(st, ast.AnnAssign)
            and not (isinstance(st, ast.Expr) and isinstance(st.value, (ast.Constant, ast.Name)))]
    return len(code) >= 2


def embedded_programs(path):
    """-> line numbers of the strings in the test file at path that are programs."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    skip = _docstrings(tree) | _repl_input(tree)
    return [n.lineno for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip
            and _is_program(n.value)]


def _test_files():
    tests = os.path.join(ROOT, "tests")
    for d, dirs, files in os.walk(tests):
        dirs[:] = sorted(x for x in dirs if x not in ("mp", "__pycache__"))
        for f in sorted(files):
            if f.endswith(".py"):
                yield os.path.relpath(os.path.join(d, f), ROOT)


def test_the_rule_tells_programs_from_prose():
    def text(*lines):                   # joined at run time: not a program in this file
        return "\n".join(lines) + "\n"
    assert _is_program(text("import ws", "from out import report", "report({})"))
    assert _is_program(text("x = 1", "print(x)", ""))
    assert not _is_program(text("Types: deb", "URIs: http://deb.debian.org/debian", "Suites: bookworm"))
    assert not _is_program(text("one line of prose", "and another", "and a third"))
    assert not _is_program("a = 1; b = 2")                 # fewer than three lines
    assert _is_program(text("    async def main():", "        await x()", "    run(main)"))


def test_no_micropython_programs_in_test_strings():
    bad = []
    for rel in _test_files():
        lines = embedded_programs(os.path.join(ROOT, rel))
        if len(lines) > STILL_EMBEDDED.get(rel, 0):
            bad.append("%s: %d programs in strings (lines %s; allowed %d)"
                       % (rel, len(lines), lines, STILL_EMBEDDED.get(rel, 0)))
    assert not bad, "MicroPython programs belong in tests/mp/NAME.py, run with " \
        "tests.mp.run_file(NAME, *args):\n" + "\n".join(bad)


# one line of imports run on the 32-bit frozen image from a directory without sources: a
# file would put its own directory on the path (what the test rules out)
_DASH_C_ALLOWED = {"tests/integration/test_memory_budget.py"}


def test_micropython_runs_files_not_strings():
    import tests.mp
    assert not hasattr(tests.mp, "run"), "tests/mp.py runs files only (run_file, run_program)"
    bad = []
    for rel in _test_files():
        if rel in _DASH_C_ALLOWED:
            continue
        with open(os.path.join(ROOT, rel)) as f:
            tree = ast.parse(f.read(), rel)
        for n in ast.walk(tree):
            if isinstance(n, (ast.List, ast.Tuple)) and any(
                    isinstance(e, ast.Constant) and e.value == "-c" for e in n.elts):
                bad.append("%s:%d" % (rel, n.lineno))
    assert not bad, "a program for micropython -c: make it a file in tests/mp/\n" + \
        "\n".join(bad)
