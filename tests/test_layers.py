"""The package's architecture, checked: each room imports only rooms of a lower layer (or of its
own, without circles), and no driver imports another driver. Run it alone to check a change:
``python -m pytest tests/test_layers.py -q``."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "vidcolor"

# bottom to top; a room may import from its own layer and any below it
LAYERS = [
    ("foundations", {"errors", "options", "color", "tempfiles", "folderlock"}),
    ("maths and files", {"planes", "planes_torch", "imageio", "mediakind", "models", "shots", "weights", "hints", "propagate"}),
    ("media", {"decode", "encode", "encoders", "temporal", "reference", "contactsheet"}),
    ("engine", {"colorizer", "picture", "shotrefs", "segments", "join", "suggest"}),
    ("drivers", {"image", "video", "keyframes"}),
    ("batches", {"files", "workers", "split", "pool", "parallel", "tree", "folder", "cluster"}),
    ("commands", {"cliargs", "command", "cli", "keyframes_cli", "__main__", "__init__", "studio"}),
]
# what takes a user's job end to end; none may hand its work to another
DRIVERS = {"image", "video", "keyframes", "parallel", "folder", "cluster"}


def room_of(module: str) -> str:
    return module.split(".")[0]


def imports() -> dict[str, set[str]]:
    """room -> the rooms it imports (at module level or inside functions)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("")
        room = rel.parts[0]
        inside_package = len(rel.parts) > 1
        found = graph.setdefault(room, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                if node.level == 1 and inside_package:
                    continue  # within a package (vidcolor/models/)
                target = node.module or ""
                if target:
                    found.add(room_of(target))
                else:  # from . import name: a room, or a name of the package itself
                    found.update(a.name if (PACKAGE / f"{a.name}.py").exists() or (PACKAGE / a.name).is_dir()
                                 else "__init__" for a in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vidcolor."):
                found.add(room_of(node.module.removeprefix("vidcolor.")))
        found.discard(room)
    return graph


def test_every_room_has_a_layer():
    placed = set().union(*(rooms for _, rooms in LAYERS))
    assert set(imports()) == placed, (set(imports()) - placed, placed - set(imports()))


def test_no_room_imports_one_above_it():
    rank = {room: n for n, (_, rooms) in enumerate(LAYERS) for room in rooms}
    upward = [(room, target) for room, targets in imports().items() for target in targets
              if rank[target] > rank[room]]
    assert not upward, upward


def test_no_import_circles():
    graph = imports()
    state: dict[str, int] = {}

    def visit(room, path):
        state[room] = 1
        for target in sorted(graph.get(room, ())):
            assert state.get(target) != 1, " -> ".join([*path, room, target])
            if target not in state:
                visit(target, [*path, room])
        state[room] = 2

    for room in sorted(graph):
        if room not in state:
            visit(room, [])


def test_no_driver_imports_another_driver():
    graph = imports()
    crossing = [(room, target) for room in DRIVERS for target in graph[room] & DRIVERS]
    assert not crossing, crossing


MODULE_LINES = 400  # a room that grows past this is two rooms
FUNCTION_LINES = 60  # docstring included
SIGNATURE_PARAMETERS = 8  # self/cls not counted; *args and **options count one each


def functions():
    """(module, function, lines, parameters) of every function and method in the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                named = [*a.posonlyargs, *a.args, *a.kwonlyargs]
                count = len(named) + (a.vararg is not None) + (a.kwarg is not None)
                count -= bool(named) and named[0].arg in ("self", "cls")
                yield module, node.name, node.end_lineno - node.lineno + 1, count


def test_rooms_functions_and_signatures_stay_small():
    long_modules = {".".join(p.relative_to(PACKAGE).with_suffix("").parts): n for p in PACKAGE.rglob("*.py")
                    if (n := len(p.read_text().splitlines())) > MODULE_LINES}
    assert not long_modules, long_modules
    long_functions = [(m, f, n) for m, f, n, _ in functions() if n > FUNCTION_LINES]
    assert not long_functions, long_functions
    wide = [(m, f, k) for m, f, _, k in functions() if k > SIGNATURE_PARAMETERS]
    assert not wide, wide
