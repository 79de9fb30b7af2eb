"""Where each layer sits in the exported code: torchvision's module names, found by rule.

The compiled model names every layer after its design node (``layer1_0``, ``downsample_0``,
``conv1_bn``); torchvision nests them (``layer1.0``, ``downsample.0``, ``conv1.bn``). The
exported code nests the same way whenever the names say so, so a torchvision checkpoint loads
into it with ``load_state_dict`` as it is, and its weights file uses the same keys:

* ``<prefix>_0 … <prefix>_<n-1>`` (all indices present) become ``nn.Sequential`` ``<prefix>``;
* ``<prefix>_conv`` with ``<prefix>_bn`` (and ``<prefix>_relu``) become an ``nn.ModuleDict``,
  torchvision's ``BasicConv2d`` (GoogLeNet);
* a plain chain ``… → adaptive pool → flatten → …`` (AlexNet, VGG) is written as torchvision
  writes those: ``features`` and ``classifier`` ``nn.Sequential`` numbered by position.

This is the reverse of the rule :mod:`engine.pretrained` uses to read torchvision keys. Names
that follow no such pattern (``conv2d_3``, ``relu_4``: no ``_0``, no ``conv``/``bn`` pair) stay
attributes of their own.
"""
from __future__ import annotations

import keyword
from dataclasses import dataclass, field

from torch import nn

BASIC_PARTS = ("conv", "bn", "relu")  # torchvision's BasicConv2d: conv, bn (the ReLU is functional there)
_RESERVED = set(dir(nn.Module)) | {"self", "torch", "nn", "x", "out"}

Path = tuple[str, ...]


@dataclass
class Node:
    member: str | None = None  # the layer's name in the design, for a leaf
    children: dict[str, "Node"] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        if not self.children:
            return "leaf"
        return "seq" if all(k.isdigit() for k in self.children) else "dict"


def _tokens(name: str) -> Path:
    """``branch2_0_conv`` → ``("branch2", "0", "conv")``: a name splits only before an index or
    a BasicConv2d part, never inside a word (``adaptive_avgpool2d_5`` → ``(adaptive_avgpool2d, 5)``)."""
    parts = name.split("_")
    out = [parts[0]]
    for p in parts[1:]:
        if p.isdigit() or p in BASIC_PARTS:
            out.append(p)
        else:
            out[-1] += "_" + p
    return tuple(out)


def _valid(key: str, children: dict[str, Node]) -> bool:
    if not key.isdigit() and (not key.isidentifier() or keyword.iskeyword(key) or key in _RESERVED):
        return False  # an index is checked with its siblings (below, by the parent)
    keys = list(children)
    if all(k.isdigit() for k in keys):
        return sorted(int(k) for k in keys) == list(range(len(keys))) and all(str(int(k)) == k for k in keys)
    return set(keys) <= set(BASIC_PARTS) and {"conv", "bn"} <= set(keys)


def _settle(children: dict[str, Node]) -> dict[str, Node]:
    """Keep the groups torchvision would have; a group that is not one puts its parts back as
    attributes named in full (``conv2d_1``)."""
    out: dict[str, Node] = {}
    for key, child in children.items():
        child.children = _settle(child.children)
        if child.children and (child.member is not None or not _valid(key, child.children)):
            if child.member is not None:
                out[key] = Node(child.member)
            for sub, grand in child.children.items():
                out[f"{key}_{sub}"] = grand
        else:
            out[key] = child
    return out


def _insert(root: Node, path: Path, member: str) -> None:
    node = root
    for key in path:
        node = node.children.setdefault(key, Node())
    node.member = member


def _paths(root: Node, prefix: Path = ()) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for key, node in root.children.items():
        if node.member is not None:
            out[node.member] = prefix + (key,)
        out.update(_paths(node, prefix + (key,)))
    return out


def nested_paths(names: list[str]) -> dict[str, Path]:
    """Each name's path in the code (``layer1_0`` → ``("layer1", "0")``)."""
    root = Node()
    for name in names:
        _insert(root, _tokens(name), name)
    root.children = _settle(root.children)
    paths = _paths(root)
    # a leaf key can only be an index inside a group, never on its own
    return paths if all(paths[n][0].isidentifier() for n in names) else {n: (n,) for n in names}


def sequential_paths(lines, members: dict) -> dict[str, Path] | None:
    """AlexNet's and VGG's layout for a plain chain with an adaptive pool then a flatten:
    ``features.N`` before the pool, ``classifier.N`` after the flatten (positions count every
    layer, as in torchvision's ``nn.Sequential``); None for any other design."""
    modules = [s for s in lines if s.kind == "module"]
    if any(s.kind not in ("module", "identity", "output") or len(s.inputs) != 1 for s in lines):
        return None
    if any(isinstance(members[s.name], tuple) for s in modules):
        return None  # composite blocks: not the torchvision chain
    previous = None
    for s in lines:
        if previous is not None and s.inputs[0] != previous:
            return None
        previous = s.name
    kinds = [type(members[s.name]).__name__ for s in modules]
    pool = next((i for i in range(len(kinds) - 1)
                 if kinds[i] == "AdaptiveAvgPool2d" and kinds[i + 1] == "Flatten"), None)
    if pool is None or pool == 0 or pool + 2 >= len(modules):
        return None
    names = {s.name for s in modules}
    if {"features", "classifier"} & names:
        return None
    paths: dict[str, Path] = {s.name: ("features", str(i)) for i, s in enumerate(modules[:pool])}
    paths[modules[pool].name] = (modules[pool].name,)
    paths[modules[pool + 1].name] = (modules[pool + 1].name,)
    paths.update({s.name: ("classifier", str(i)) for i, s in enumerate(modules[pool + 2:])})
    return paths


def tree(paths: dict[str, Path]) -> Node:
    root = Node()
    for name, path in paths.items():
        _insert(root, path, name)
    for node in _walk(root):
        if node.kind == "seq":
            node.children = dict(sorted(node.children.items(), key=lambda kv: int(kv[0])))
    return root


def _walk(node: Node):
    yield node
    for child in node.children.values():
        yield from _walk(child)


def access(path: Path) -> str:
    """``("layer1", "0")`` → ``self.layer1[0]``."""
    return "self" + "".join(f"[{k}]" if k.isdigit() else f".{k}" for k in path)


def render_members(paths: dict[str, Path], texts: dict[str, str], indent: str = "        ") -> list[str]:
    """The ``self.<name> = …`` lines of ``__init__``; groups as ``nn.Sequential`` (each layer
    commented with its name in the design) and ``nn.ModuleDict``."""
    lines: list[str] = []
    for key, node in tree(paths).children.items():
        lines += f"{indent}self.{key} = {_render(node, texts, indent)}".split("\n")
    return lines


def _render(node: Node, texts: dict[str, str], indent: str) -> str:
    if node.kind == "leaf":
        assert node.member is not None
        return texts[node.member]
    inner = indent + "    "
    if node.kind == "seq":
        items = []
        for child in node.children.values():
            comment = f"  # {child.member}" if child.kind == "leaf" else ""
            items.append(f"{inner}{_render(child, texts, inner)},{comment}")
        return "nn.Sequential(\n" + "\n".join(items) + f"\n{indent})"
    items = [f'{inner}"{k}": {_render(c, texts, inner)},' for k, c in node.children.items()]
    return "nn.ModuleDict({\n" + "\n".join(items) + f"\n{indent}}})"


def chains(paths: dict[str, Path]) -> list[tuple[Path, list[str]]]:
    """Every ``nn.Sequential`` of plain layers with its members in order: forward calls it whole
    when its layers follow one another."""
    out = []

    def visit(node: Node, prefix: Path):
        for key, child in node.children.items():
            if child.kind == "seq" and all(c.kind == "leaf" for c in child.children.values()):
                out.append((prefix + (key,), [str(c.member) for c in child.children.values()]))
            elif child.kind != "leaf":
                visit(child, prefix + (key,))
    visit(tree(paths), ())
    return out


def code_key(key: str, paths: dict[str, Path] | None, inner) -> str:
    """Our state_dict key → the exported code's (``layer1_0.downsample_0.weight`` →
    ``layer1.0.downsample.0.weight``). ``inner(name)`` gives the ``(paths, inner)`` of a
    composite member, or None for a plain layer."""
    parts = key.split(".")
    out: list[str] = []
    for i, part in enumerate(parts):
        if paths is None or part not in paths:
            return ".".join(out + parts[i:])
        out += paths[part]
        nested = inner(part)
        paths, inner = nested if nested else (None, None)
    return ".".join(out)
