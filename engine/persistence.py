"""The design file: versioned, human-readable JSON; strict loading; atomic saving.

Loading never executes anything (plain ``json``) and every defect becomes one
:class:`DesignFileError` naming where it is (``nodes[3].params.kernel``).

Format (version 1)::

    {"format": "network-designer", "version": 1,
     "design": {"name": ..., "num_classes": 10, "notes": ""},
     "nodes": [{"id": "conv1", "block": "conv2d", "params": {...}, "pos": [x, y],
                "label": "", "frozen": false}, ...],
     "edges": [{"from": "conv1", "to": "relu1", "from_port": "out", "to_port": "in"}, ...],
     "composites": [{"key": "user:stem", "title": ..., "doc": ..., "nodes": [...], "edges": [...]}]}
"""
from __future__ import annotations

import glob
import json
import os
import re
import secrets
import stat
from pathlib import Path

from .collector import collector_paused
from .errors import DesignError, DesignFileError, EngineError
from .graph import MAX_TEXT, CompositeDefinition, Design, LintError
from .param_values import plain_value

FORMAT = "network-designer"
VERSION = 1
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_NODES = 20_000
MAX_EXPANDED_NODES = 100_000
MAX_NESTING = 32


def to_dict(design: Design) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "design": {"name": design.name, "num_classes": design.num_classes, "notes": design.notes},
        "nodes": [_node_dict(n) for n in design.nodes.values()],
        "edges": [_edge_dict(e) for e in design.edges],
        "composites": [{"key": c.key, "title": c.title, "doc": c.doc,
                        "nodes": [_node_dict(n) for n in c.design.nodes.values()],
                        "edges": [_edge_dict(e) for e in c.design.edges]}
                       for c in design.composites.values()],
    }


def _node_dict(n) -> dict:
    # A plain dict (the node's params are a read-only mapping), lists copied: a caller may edit it.
    params = {k: plain_value(v) for k, v in n.params.items()}
    d = {"id": n.id, "block": n.block, "params": params, "pos": [round(n.pos[0], 1), round(n.pos[1], 1)]}
    if n.label:
        d["label"] = n.label
    if n.frozen:
        d["frozen"] = True
    return d


def _edge_dict(e) -> dict:
    d = {"from": e.src, "to": e.dst}
    if e.src_port != "out":
        d["from_port"] = e.src_port
    if e.dst_port != "in":
        d["to_port"] = e.dst_port
    return d


def dumps(design: Design) -> str:
    return dumps_dict(to_dict(design))


def dumps_dict(data: dict) -> str:
    """The file's text for :func:`to_dict`'s data (which may be encoded in another thread)."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def save(design: Design, path: str | os.PathLike) -> None:
    """Write atomically: a temporary file in the same folder, flushed, then renamed over."""
    atomic_write_text(Path(path), dumps(design))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def atomic_write(path: Path, write) -> None:
    """``write(tmp_path)`` to a temporary file in the same folder, fsync, then rename over
    ``path``: a crash mid-save never leaves a torn file. Writers that can stream to a path
    (``torch.save``, safetensors) should: building the bytes in memory first holds the GIL
    ~25 ms instead of ~5 ms for a ResNet-18 checkpoint, a stall the app's UI thread feels.

    A new file gets the mode the umask gives (as ``open`` would); a file saved over keeps its
    mode. The temporary file is named ``.<name>.~<pid>-<token>.tmp``: one left by a save that
    was killed is recognisable, and the next save of the same file removes it."""
    path = Path(path)
    folder = path.parent
    _remove_leftovers(path)
    tmp = _create_temp(path)
    try:
        try:
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        except FileNotFoundError:
            pass  # a new file: the umask already applied when the temporary was created
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _sync_folder(folder)


def _create_temp(path: Path) -> Path:
    """An empty temporary file beside ``path``, created with mode 0o666 so the umask decides
    (``mkstemp`` would make it 0600 whatever the umask)."""
    for _ in range(100):
        tmp = path.parent / f".{path.name}.~{os.getpid()}-{secrets.token_hex(4)}{_TMP_SUFFIX}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"cannot create a temporary file beside {path}")


_TMP_SUFFIX = ".tmp"
_LEFTOVER = re.compile(r"\.(?P<name>.+)\.~(?P<pid>\d+)-[0-9a-f]{8}\.tmp")


def _remove_leftovers(path: Path) -> None:
    """Delete temporary files of earlier saves of ``path`` whose process is gone (killed
    mid-save); a save still running in a live process keeps its file."""
    try:
        candidates = list(path.parent.glob(f".{glob.escape(path.name)}.~*{_TMP_SUFFIX}"))
    except OSError:
        return
    for tmp in candidates:
        match = _LEFTOVER.fullmatch(tmp.name)
        if match is None or match["name"] != path.name or _process_alive(int(match["pid"])):
            continue
        try:
            tmp.unlink()
        except OSError:
            pass


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of ours may be saving the same file right now
    if os.name == "nt":
        return True  # os.kill would terminate the process there; Windows leftovers stay
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # someone else's process, or a pid we cannot check: leave its file
    return True


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless to skip where folders cannot be opened."""
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path: str | os.PathLike) -> Design:
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as e:
        raise DesignFileError(f"cannot open the file: {e.strerror or e}") from None
    if size > MAX_FILE_BYTES:
        raise DesignFileError(f"the file is {size / 1e6:.0f} MB; a design file is at most "
                              f"{MAX_FILE_BYTES // 10**6} MB — is this really a design?")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise DesignFileError(f"not a text file (byte {e.start} is not UTF-8)") from None
    except OSError as e:
        raise DesignFileError(f"cannot read the file: {e.strerror or e}") from None
    return loads(text)


def loads(text: str) -> Design:
    if len(text) > MAX_FILE_BYTES:
        raise DesignFileError("the text is too large for a design file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DesignFileError(f"not valid JSON: {e.msg}", f"line {e.lineno}, column {e.colno}") from None
    except RecursionError:
        raise DesignFileError("the JSON is nested too deeply") from None
    except ValueError as e:  # e.g. an integer literal of more than 4300 digits
        raise DesignFileError(f"not a usable JSON value: {str(e)[:120]}") from None
    return from_dict(data)


def from_dict(data) -> Design:
    """Build a design from parsed JSON, checking everything; raises only DesignFileError."""
    try:
        with collector_paused():  # hundreds of thousands of objects, no cycles
            return _from_dict(data)
    except DesignFileError:
        raise
    except (EngineError, ValueError, TypeError, LookupError, AttributeError, ArithmeticError, RecursionError) as e:
        # A defect the checks above did not name precisely; still one clear error.
        raise DesignFileError(f"the design is inconsistent: {e}") from None


def _from_dict(data) -> Design:
    _expect(data, dict, "", "an object")
    if data.get("format") != FORMAT:
        raise DesignFileError(f"not a Network Designer file (format is {data.get('format')!r})", "format")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise DesignFileError("missing or invalid version number", "version")
    if version > VERSION:
        raise DesignFileError(f"the file is version {version}, newer than this program (reads up to "
                              f"{VERSION}); update Network Designer", "version")
    data = migrate(data, version)
    meta = data.get("design", {})
    _expect(meta, dict, "design", "an object")
    name = meta.get("name", "Untitled")
    _expect(name, str, "design.name", "a text")
    classes = meta.get("num_classes")
    if classes is not None and (not isinstance(classes, int) or isinstance(classes, bool) or not 1 <= classes <= 1 << 20):
        raise DesignFileError("must be a whole number from 1 to 1,048,576, or null", "design.num_classes")
    notes = meta.get("notes", "")
    _expect(notes, str, "design.notes", "a text")
    _expect_length(name, "design.name")
    design = Design(name, classes, notes)
    _read_composites(design, _list(data, "composites"))
    _fill(design, data, "")
    try:
        # A file that loads is consistent (the checks above should make this moot). _fill has
        # checked each design in it for cycles, naming the file's place: once is enough.
        design.lint(acyclic_checked=True)
    except LintError as e:
        raise DesignFileError(f"the design is inconsistent: {e}") from None
    return design


def _read_composites(design: Design, entries: list) -> None:
    """User blocks, in the order their uses need them (a file may list them in any order).

    Duplicate keys are refused (the second would silently replace the first, and could refer
    to itself); so are blocks that use each other in a circle, found without recursion. All
    inner designs share the design's one table of blocks: 20,000 blocks cost 20,000 entries,
    not 20,000 copies of the table."""
    seen: dict[str, int] = {}
    uses: dict[str, set[str]] = {}
    for i, comp in enumerate(entries):
        where = f"composites[{i}]"
        _expect(comp, dict, where, "an object")
        key = comp.get("key")
        if not isinstance(key, str) or not key.startswith("user:") or len(key) > 100:
            raise DesignFileError("key must be a text starting with 'user:'", f"{where}.key")
        if key in seen:
            raise DesignFileError(f"composites[{seen[key]}] and {where} both define the block {key!r}; "
                                  "a key names one block — rename one of them", f"{where}.key")
        seen[key] = i
        nodes = _list(comp, "nodes", where)
        uses[key] = {raw["block"] for raw in nodes
                     if isinstance(raw, dict) and isinstance(raw.get("block"), str) and raw["block"].startswith("user:")}
    for key, used in uses.items():
        unknown = sorted(u for u in used if u not in uses and u != key)
        if unknown:
            raise DesignFileError(f"uses the block {unknown[0]!r}, which the file does not define",
                                  f"composites[{seen[key]}].nodes")
    sizes: dict[str, int] = {}  # user block key -> number of primitive layers it expands to
    depth: dict[str, int] = {}  # user block key -> levels of blocks inside blocks
    for key in _dependency_order(uses, seen):
        i = seen[key]
        comp, where = entries[i], f"composites[{i}]"
        title, doc = comp.get("title", key), comp.get("doc", "")
        _expect(title, str, f"{where}.title", "a text")
        _expect_length(title, f"{where}.title")
        _expect(doc, str, f"{where}.doc", "a text")
        inner = Design(title)
        inner.composites = design.composites  # shared: only the blocks it depends on are in it yet
        _fill(inner, comp, where)
        sizes[key] = sum(sizes.get(n.block, 1) for n in inner.nodes.values())
        depth[key] = 1 + max((depth[u] for u in uses[key]), default=0)
        if depth[key] > MAX_NESTING:
            # Analysis and compilation descend one level per block: keep far from Python's stack.
            raise DesignFileError(f"blocks are nested {depth[key]} deep here; at most {MAX_NESTING} levels "
                                  "are supported", f"{where}.nodes")
        if sizes[key] > MAX_EXPANDED_NODES:
            # Blocks nested in blocks multiply: 40 levels of "two of the previous one" would
            # make the analysis evaluate 2**40 layers. Refuse such a file up front.
            raise DesignFileError(f"this block expands to {sizes[key]:,} layers; at most "
                                  f"{MAX_EXPANDED_NODES:,} are supported", f"{where}.nodes")
        design.composites[key] = CompositeDefinition(key, title, inner, doc)
    # Keep the file's order for the table (a save writes it back the same).
    ordered = {key: design.composites[key] for key in seen}
    design.composites.clear()
    design.composites.update(ordered)


def _dependency_order(uses: dict[str, set[str]], position: dict[str, int]) -> list[str]:
    """Keys so that every block comes after the blocks it uses (Kahn's algorithm, no
    recursion); a block that uses itself, directly or through others, is an error."""
    waiting = {key: len(used) for key, used in uses.items()}
    users: dict[str, list[str]] = {key: [] for key in uses}
    for key, used in uses.items():
        for u in used:
            users[u].append(key)
    order = [key for key, n in waiting.items() if n == 0]
    for key in order:  # appended to while walked
        for user in users[key]:
            waiting[user] -= 1
            if waiting[user] == 0:
                order.append(user)
    if len(order) < len(uses):
        stuck = sorted((k for k in uses if waiting[k] > 0), key=position.__getitem__)
        first = stuck[0]
        if first in uses[first]:
            raise DesignFileError(f"the block {first!r} contains itself", f"composites[{position[first]}].nodes")
        raise DesignFileError("these blocks contain each other in a circle, so none of them can be built: "
                              + ", ".join(repr(k) for k in stuck[:5]) + (", …" if len(stuck) > 5 else ""),
                              f"composites[{position[first]}].nodes")
    return order


def _fill(design: Design, data: dict, where: str) -> None:
    nodes = _list(data, "nodes", where)
    if len(nodes) > MAX_NODES:
        raise DesignFileError(f"{len(nodes)} nodes; at most {MAX_NODES} are supported", _at(where, "nodes"))
    for i, raw in enumerate(nodes):
        loc = _at(where, f"nodes[{i}]")
        _expect(raw, dict, loc, "an object")
        node_id, block = raw.get("id"), raw.get("block")
        _expect(node_id, str, f"{loc}.id", "a text")
        _expect(block, str, f"{loc}.block", "a text")
        if len(block) > 100:
            raise DesignFileError("is not a block type (too long)", f"{loc}.block")
        params = raw.get("params", {})
        _expect(params, dict, f"{loc}.params", "an object")
        pos = raw.get("pos", [0, 0])
        if (not isinstance(pos, list) or len(pos) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e7 for v in pos)):
            raise DesignFileError("must be [x, y] with numbers", f"{loc}.pos")
        label = raw.get("label", "")
        _expect(label, str, f"{loc}.label", "a text")
        _expect_length(label, f"{loc}.label")
        frozen = raw.get("frozen", False)
        _expect(frozen, bool, f"{loc}.frozen", "true or false")
        if node_id in design.nodes:
            raise DesignFileError(f"duplicate node id {node_id!r}", f"{loc}.id")
        try:  # add_node checks every parameter; only a refusal is checked again, to name the one at fault
            design.add_node(block, params, pos, node_id=node_id, label=label, frozen=frozen)
        except DesignError as e:
            try:
                _check_params(design, block, params, f"{loc}.params")
            except DesignError:  # an unknown block: said below
                pass
            raise DesignFileError(str(e), loc) from None
    for i, raw in enumerate(_list(data, "edges", where)):
        loc = _at(where, f"edges[{i}]")
        _expect(raw, dict, loc, "an object")
        src, dst = raw.get("from"), raw.get("to")
        sp, dp = raw.get("from_port", "out"), raw.get("to_port", "in")
        for key, value in (("from", src), ("to", dst), ("from_port", sp), ("to_port", dp)):
            _expect(value, str, f"{loc}.{key}", "a text")
        for key, value in (("from", src), ("to", dst)):
            if value not in design.nodes:
                raise DesignFileError(f"refers to node {value!r}, which does not exist", f"{loc}.{key}")
        try:
            design.connect(src, dst, sp, dp, check_cycle=False)
        except DesignError as e:
            raise DesignFileError(str(e), loc) from None
    try:
        design.check_acyclic()
    except DesignError as e:
        raise DesignFileError(str(e), _at(where, "edges")) from None


def _check_params(design: Design, block: str, params: dict, where: str) -> None:
    """Check each parameter on its own, so the error names it (``nodes[3].params.kernel``)."""
    spec = design.spec(block)
    for name, value in params.items():
        param = spec.param_index.get(name)
        if param is None:
            raise DesignFileError(f"{spec.title} has no parameter {name!r}; it takes "
                                  f"{', '.join(spec.param_index) or 'none'}", f"{where}.{name}"[:200])
        try:
            param.coerce(value)
        except DesignError as e:
            raise DesignFileError(str(e), f"{where}.{name}") from None


def migrate(data: dict, version: int) -> dict:
    """Bring an older file up to :data:`VERSION`. Version 1 is the first; each future format
    change adds a step here (``if version < 2: ...``) so old files keep opening."""
    return data


def _expect_length(text: str, where: str) -> None:
    if len(text) > MAX_TEXT:
        raise DesignFileError(f"is {len(text):,} characters long; at most {MAX_TEXT:,} are allowed", where)


def _list(data: dict, key: str, where: str = "") -> list:
    value = data.get(key, [])
    _expect(value, list, _at(where, key), "a list")
    return value


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _expect(value, kind, where: str, what: str) -> None:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DesignFileError(f"must be {what}, found {type(value).__name__}", where or "file")
    if kind is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800"): the file could not be saved again
            raise DesignFileError("contains an invalid character (a lone UTF-16 surrogate)", where) from None
