"""Design → one readable, standalone PyTorch file.

The file defines the network as an ``nn.Module`` written the way a person would: one attribute
per layer (named like the compiled model's submodules, so the exported ``state_dict`` loads
as it is), sums and concatenations written inline in ``forward``, and every composite block
(residual, inception, user-defined) as its own small class. It imports torch only.

Composite classes are generated from their expansions: instances with the same inside share
one class, and a constructor argument is made for every value that differs between them,
named after the block's own parameter when the values match (``ResidualBasic(64, out_channels=128,
stride=2)``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from ..errors import CompileError
from ..graph import Design
from ..lowering import INLINE, Lowered, Step, lower
from ..names import class_name as class_name_of
from . import layout
from .render import CUSTOM_CLASSES, Expr, constructor_args, custom_sources, doc_literal, literal, render_call

if TYPE_CHECKING:
    from torch import nn

_CHANNEL_ARGS = {"in_channels", "out_channels", "num_features", "num_channels", "c_in", "c_out",
                 "in_features", "out_features", "num_parameters"}
_INPUT_ARGS = {"in_channels", "c_in", "in_features"}
# Names the exported file (and the training script that embeds it) defines or imports: a
# generated class must not shadow them.
_TAKEN_NAMES = {c.__name__ for c in CUSTOM_CLASSES} | {
    "Path", "Dataset", "DataLoader", "DistributedSampler", "TensorDataset", "DistributedDataParallel",
    "FolderData", "F", "HERE", "MODEL_CLASS", "INPUT_SHAPES", "NUM_CLASSES"}


class CodegenError(CompileError):
    pass


@dataclass
class Line:
    """One line of forward: ``name`` is the attribute (or value) name, ``kind`` 'module' or an
    inline operation, ``inputs`` the names of the values it reads."""

    name: str
    kind: str
    inputs: list[str]
    softmax: bool = False
    call: str = ""  # the module called, when not ``self.<name>`` (``self.layer1[0]``, ``self.features``)
    var: str = ""  # the variable it would be named after, when not ``name``


@dataclass
class Instance:
    args: dict[str, Any]  # local id -> constructor_args of a module, or nested Instance call
    candidates: dict[str, object]  # parameter name -> value (in_channels, the block's params)


@dataclass
class CompositeClass:
    key: str
    name: str
    steps: list[Line]
    members: dict[str, object]  # local id -> built module, or nested CompositeClass
    output: str
    spec_params: list[str]
    reads_input: set[str] = field(default_factory=set)  # local ids fed by the block's input
    instances: list[Instance] = field(default_factory=list)
    arguments: dict[tuple[str, str], str] = field(default_factory=dict)  # (local, arg) -> parameter
    signature: list[str] = field(default_factory=list)
    paths: dict[str, tuple[str, ...]] = field(default_factory=dict)  # local id -> path in the code (layout)


class Generator:
    def __init__(self, design: Design):
        self.design = design
        self.classes: dict[tuple, CompositeClass] = {}
        self.custom: set[type] = set()

    # -- collection ---------------------------------------------------------------------
    def member(self, step: Step, where: str):
        """A built module, or (CompositeClass, Instance) for a composite block."""
        if step.block == "opaque":
            raise CodegenError(f"'{where}' is an opaque imported layer ({step.params.get('type')}); it has no "
                               "code to export — replace it with catalog blocks first")
        if step.inner is None:
            assert step.spec.build is not None  # every block without an inside builds a module
            module = step.spec.build(step.params, step.input_shapes)
            if type(module) in CUSTOM_CLASSES:
                self.custom.add(type(module))
            return module
        inner = step.inner
        # The class's forward takes x0, x1, ... (x alone when it reads one: forward_source)
        rename = {name: f"x{i}" for i, name in enumerate(inner.inputs)}
        lines, members = self.walk(inner, f"{where}.", rename)
        members = {local: m for local, (m, _frozen) in members.items()}
        args = {local: m if isinstance(m, tuple) else constructor_args(m) for local, m in members.items()}
        signature = tuple((s.name, s.kind, tuple(s.inputs), _kind_of(members.get(s.name))) for s in lines)
        key, spec = step.block, step.spec
        group = self.classes.get((key, signature))
        if group is None:
            name = self._class_name(spec.title, key, members)
            group = self.classes[(key, signature)] = CompositeClass(
                key, name, lines, {k: (v[0] if isinstance(v, tuple) else v) for k, v in members.items()},
                rename.get(inner.outputs[0], inner.outputs[0]), [p.name for p in spec.params],
                {s.name for s in inner.steps if any(src in rename for src in s.sources)})
        in_shapes = step.input_shapes
        candidates = {"in_channels": in_shapes[0][0]} if in_shapes and in_shapes[0] else {}
        candidates.update({k: v for k, v in step.params.items()
                           if isinstance(v, (int, float)) and not isinstance(v, bool)})
        instance = Instance(args, candidates)
        group.instances.append(instance)
        return group, instance

    def walk(self, lowered: Lowered, prefix: str = "", rename: dict | None = None):
        """``(lines of forward, {name: (member, frozen)})`` for the steps of ``lowered``; an
        opaque layer is refused by its ``prefix`` + label (``block.conv1``)."""
        rename = rename or {}
        lines: list[Line] = []
        members: dict[str, tuple] = {}
        for s in lowered.steps:
            if s.kind == "input":
                continue
            inputs = [rename.get(n, n) for n in s.sources]
            if s.kind in INLINE:
                lines.append(Line(s.name, s.kind, inputs, s.params.get("softmax", False)))
                continue
            members[s.name] = (self.member(s, prefix + s.label), s.frozen)
            lines.append(Line(s.name, "module", inputs))
        return lines, members

    def _class_name(self, title: str, key: str, members) -> str:
        base = _camel(key) if not key.startswith("user:") else _camel(title)
        taken = {c.name for c in self.classes.values()} | _TAKEN_NAMES
        earlier = [c for c in self.classes.values() if c.key == key]
        name = base
        if earlier:
            extra = sorted(set(members) - set(earlier[0].members))
            prefix = re.sub(r"_?\d+$", "", extra[0]) if extra else ""
            name = base + ("With" + _camel(prefix) if prefix else "")
        candidate, i = name, 2
        while candidate in taken:
            candidate, i = f"{name}{i}", i + 1
        return candidate

    # -- constructor arguments of composite classes --------------------------------------
    def resolve_arguments(self, cls: CompositeClass) -> None:
        used: list[str] = []
        extras: list[str] = []
        for local, first in cls.instances[0].args.items():
            if isinstance(first, tuple):  # a composite inside: its call's arguments
                inner_cls = first[0]
                positions = [(n, [self._value_of(inner_cls, inst.args[local][1], n) for inst in cls.instances], None)
                             for n in inner_cls.signature]
            else:
                positions = [(arg, [inst.args[local][index][1] for inst in cls.instances], default)
                             for index, (arg, _v, _r, default) in enumerate(first)]
            for arg, vector, *default in positions:
                if all(v == vector[0] for v in vector) and default and default[0] is not None \
                        and vector[0] == default[0]:
                    continue  # the same default everywhere: a literal (left out of the call)
                choice = self._match(arg, vector, cls.instances, local in cls.reads_input, local)
                if choice is None and any(v != vector[0] for v in vector):
                    choice = f"{local}_{arg}"
                    extras.append(choice)
                if choice is not None:
                    cls.arguments[(local, arg)] = choice
                    if choice not in used:
                        used.append(choice)
        order = ["in_channels"] + extras + cls.spec_params
        cls.signature = [n for n in order if n in used]

    @staticmethod
    def _match(arg: str, vector: list, instances: list[Instance], reads_input: bool, local: str = "") -> str | None:
        """The block parameter that explains this argument's values in every instance. When
        several would (c1 = c3 = 4 in one inception), a name hint in the layer's id decides
        (branch3 ↔ c3); without one the value stays a literal rather than a wrong name."""
        names = list(instances[0].candidates)

        def fits(name):
            return name in names and [inst.candidates.get(name) for inst in instances] == vector
        if arg in _INPUT_ARGS and reads_input:
            return "in_channels" if fits("in_channels") else None
        if arg not in _CHANNEL_ARGS and arg not in _INPUT_ARGS:
            return arg if fits(arg) else None
        if arg not in _INPUT_ARGS and fits(arg):
            return arg
        matches = [n for n in names if n not in ("in_channels", "stride") and fits(n)]
        if len(matches) > 1:
            hinted = [n for n in matches if (m := re.search(r"\d+", n))
                      and re.search(rf"(^|\D){m.group()}(\D|$)", local)]
            matches = hinted if len(hinted) == 1 else []
            return matches[0] if matches else None
        if matches:
            return matches[0]
        return "in_channels" if fits("in_channels") else None

    def call(self, cls: CompositeClass, instance: Instance, values: dict | None = None) -> str:
        """``ResidualBasic(64, out_channels=128, stride=2)`` for one instance; ``values`` maps
        names to expressions when the call is itself inside a composite class."""
        parts = []
        for name in cls.signature:
            value = self._value_of(cls, instance, name)
            text = values.get(name, literal(value)) if values else literal(value)
            parts.append(text if name == "in_channels" or name not in cls.spec_params else f"{name}={text}")
        return f"{cls.name}({', '.join(parts)})"

    @staticmethod
    def _value_of(cls, instance, name):
        if name in instance.candidates and name in cls.spec_params + ["in_channels"]:
            return instance.candidates[name]
        local, arg = next(k for k, v in cls.arguments.items() if v == name)
        member = instance.args[local]
        if isinstance(member, tuple):
            return Generator._value_of(member[0], member[1], arg)
        return next(a[1] for a in member if a[0] == arg)

    # -- writing --------------------------------------------------------------------------
    def class_source(self, cls: CompositeClass) -> str:
        lines = [f"class {cls.name}(nn.Module):"]
        doc = self.design.spec(cls.key).doc or self.design.spec(cls.key).title
        lines.append("    " + doc_literal(doc.split(". ")[0].rstrip(".") + "."))
        lines += ["", f"    def __init__(self{''.join(', ' + n for n in cls.signature)}):", "        super().__init__()"]
        instance = cls.instances[0]
        texts = {}
        for local, member in cls.members.items():
            if isinstance(member, CompositeClass):
                inner = instance.args[local][1]
                names = {n: cls.arguments[(local, n)] for n in member.signature if (local, n) in cls.arguments}
                texts[local] = self.call(member, inner, names)
                continue
            args = [(a, Expr(cls.arguments[(local, a)]) if (local, a) in cls.arguments else v, r, d)
                    for a, v, r, d in instance.args[local]]
            texts[local] = render_call(cast("nn.Module", member), args)
        lines += layout.render_members(cls.paths, texts)
        steps = with_layout(cls.steps, cls.paths, [cls.output])
        lines += ["", *forward_source(steps, cls.output, ["x" + str(i) for i in range(_arity(cls.steps))])]
        return "\n".join(lines)

    def code_key(self, key: str, paths: dict, members: dict) -> str:
        """Our state_dict key → the generated code's (see :mod:`engine.export.layout`)."""
        def inner(name):
            member = members[name]
            member = member[0] if isinstance(member, tuple) else member
            if not isinstance(member, CompositeClass):
                return None
            return member.paths, _inner_of(member)

        def _inner_of(cls):
            def look(name):
                m = cls.members[name]
                return (m.paths, _inner_of(m)) if isinstance(m, CompositeClass) else None
            return look
        return layout.code_key(key, paths, inner)



def _camel(text: str) -> str:
    return class_name_of(text.replace("_", " "))


def _kind_of(member) -> str:
    if member is None:
        return ""
    if isinstance(member, tuple):
        return "class:" + member[0].name
    return type(member).__name__


def _arity(steps: list[Line]) -> int:
    used = {int(i[1:]) for s in steps for i in s.inputs if re.fullmatch(r"x\d+", i)}
    return max(used, default=0) + 1


def with_layout(steps: list[Line], paths: dict, outputs: list[str]) -> list[Line]:
    """The lines of forward calling each layer where the layout put it (``self.layer1[0]``); an
    ``nn.Sequential`` whose layers follow one another in a chain is called whole
    (``x = self.layer1(x)``), as torchvision's forward does."""
    steps = [Line(s.name, s.kind, list(s.inputs), s.softmax,
                  layout.access(paths[s.name]) if s.kind == "module" and s.name in paths else s.call, s.var)
             for s in steps]
    uses: dict[str, int] = {}
    for s in steps:
        for i in s.inputs:
            uses[i] = uses.get(i, 0) + 1
    for o in outputs:
        uses[o] = uses.get(o, 0) + 1
    for path, members in layout.chains(paths):
        at = {s.name: i for i, s in enumerate(steps)}
        if not all(m in at for m in members):
            continue
        first = at[members[0]]
        run = steps[first:first + len(members)]
        if [s.name for s in run] != members or any(s.kind != "module" for s in run) \
                or any(b.inputs != [a.name] or uses.get(a.name) != 1 for a, b in zip(run, run[1:])):
            continue
        last = run[-1]
        steps[first:first + len(members)] = [Line(last.name, "module", run[0].inputs, call=layout.access(path),
                                                  var="_".join(path))]
    return steps


def forward_source(steps: list[Line], output, inputs: list[str], indent: str = "    ") -> list[str]:
    """The body of ``forward``. A chain of layers reuses its variable (``x = self.conv1(x)``); a
    value still needed later (a shortcut, a branch point) keeps it, and the next chain gets
    ``out`` or a name of its own, as torchvision writes residual blocks."""
    outputs = output if isinstance(output, list) else [output]
    pending: dict[str, int] = {}
    for s in steps:
        for i in s.inputs:
            pending[i] = pending.get(i, 0) + 1
    for o in outputs:
        pending[o] = pending.get(o, 0) + 1
    uses = dict(pending)  # a value used more than once is a branch point: no branch takes its name
    var = {name: ("x" if len(inputs) == 1 else name) for name in inputs}
    lines = [f"{indent}def forward(self, {', '.join(var[i] for i in inputs)}):"]
    for s in steps:
        args = [var[i] for i in s.inputs]
        for i in s.inputs:
            pending[i] -= 1
        live = {var[n] for n, count in pending.items() if count > 0 and n in var}
        if s.kind in ("identity", "output"):
            var[s.name] = args[0]
            if s.softmax:
                lines.append(f"{indent * 2}if not self.training:  # probabilities at inference; training sees logits")
                lines.append(f"{indent * 3}{args[0]} = torch.softmax({args[0]}, dim=1)")
            continue
        if s.kind == "module":
            expr = f"{s.call or 'self.' + s.name}({', '.join(args)})"
        elif s.kind == "add":
            expr = " + ".join(args)
        else:
            expr = f"torch.cat([{', '.join(args)}], dim=1)"
        if len(args) == 1 and args[0] not in live and uses.get(s.inputs[0], 0) == 1:
            target = args[0]  # the next layer of a chain
        elif "out" not in live:
            target = "out"
        else:
            target = _var_name(re.sub(r"_conv$", "", s.var or s.name), live)
        var[s.name] = target
        lines.append(f"{indent * 2}{target} = {expr}")
    lines.append(f"{indent * 2}return {', '.join(var[o] for o in outputs)}")
    return lines


def _var_name(name: str, live: set[str]) -> str:
    name = name if name not in ("self", "torch", "nn", "x", "out") else f"{name}_value"
    base, i = name, 2
    while name in live:
        name, i = f"{base}_{i}", i + 1
    return name


@dataclass
class GeneratedCode:
    source: str
    class_name: str
    code_key: Any  # (our state_dict key) -> the generated module's key (torchvision's names)

    def state_dict(self, state: dict) -> dict:
        """``state`` (the compiled model's) under the generated module's keys."""
        return {self.code_key(k): v for k, v in state.items()}


def python_source(design: Design, weights_file: str | None = None, standalone: bool = True) -> tuple[str, str]:
    """``(source, class name)`` of the standalone module file for ``design`` (see :func:`generate`)."""
    code = generate(design, weights_file, standalone)
    return code.source, code.class_name


def generate(design: Design, weights_file: str | None = None, standalone: bool = True,
             extra: str = "", normalise_input: bool = False) -> GeneratedCode:
    """The standalone module file for ``design``, and how its state_dict keys relate to the
    compiled model's (layers nest as torchvision's do: :mod:`engine.export.layout`). Without
    ``standalone`` the module docstring and the ``__main__`` block are left out (the training
    script embeds the rest). ``extra`` is code put after the imports (the preprocessing of
    :mod:`engine.export.preprocess`); ``normalise_input`` starts forward with its ``normalize``."""
    lowered = lower(design, error=CodegenError)
    gen = Generator(design)
    steps, members = gen.walk(lowered)
    for cls in _dependency_order(gen.classes.values()):
        gen.resolve_arguments(cls)
        cls.paths = layout.nested_paths(list(cls.members))
    class_name = _top_class_name(design.name, {c.name for c in gen.classes.values()})
    body = [f"class {class_name}(nn.Module):", "    " + doc_literal(design.name + ".") if design.name else "", "",
            "    def __init__(self):", "        super().__init__()"]
    paths = layout.sequential_paths(steps, {n: m for n, (m, _f) in members.items()}) \
        or layout.nested_paths(list(members))
    texts = {name: gen.call(*member) if isinstance(member, tuple) else render_call(member)
             for name, (member, _frozen) in members.items()}
    body += layout.render_members(paths, texts)
    for name, (_member, frozen) in members.items():
        if frozen:
            body.append(f"        {layout.access(paths[name])}.requires_grad_(False)  # {name}: frozen in the design")
    outputs = lowered.outputs
    steps = with_layout(steps, paths, list(outputs))
    forward = forward_source(steps, outputs if len(outputs) > 1 else outputs[0], lowered.inputs)
    if normalise_input:
        if len(lowered.inputs) != 1:
            raise CodegenError("the normalisation can be put inside models with one Input only")
        forward.insert(1, "        x = normalize(x)  # the trainer's normalisation, inside the model: raw [0, 1] input")
    body += ["", *forward]
    shapes = [tuple(s.params["shape"]) for s in lowered.steps if s.kind == "input"]
    docstring, imports = _header(design, class_name, weights_file, shapes, bool(extra))
    footer = _footer(class_name, len(shapes))
    header = docstring + imports
    if not standalone:
        header = imports
        footer = footer[:footer.index('if __name__ == "__main__":')]
    parts = [header, extra, custom_sources(gen.custom)]
    parts += [gen.class_source(c) + "\n" for c in _dependency_order(gen.classes.values())]
    parts += ["\n".join(line for line in body if line is not None) + "\n", footer]
    source = "\n\n".join(p.rstrip("\n") + "\n" for p in parts if p)
    top = {n: m for n, (m, _f) in members.items()}
    return GeneratedCode(source, class_name, lambda key: gen.code_key(key, paths, top))


def _top_class_name(design_name: str, composite_names: set[str]) -> str:
    name = class_name_of(design_name or "Network", default="Network")
    base, i = name, 2
    while name in composite_names or name in _TAKEN_NAMES:
        name, i = f"{base}{i}", i + 1
    return name


def _dependency_order(classes) -> list[CompositeClass]:
    done: list[CompositeClass] = []

    def visit(c):
        for m in c.members.values():
            if isinstance(m, CompositeClass):
                visit(m)
        if c not in done:
            done.append(c)
    for c in classes:
        visit(c)
    return done


def _header(design: Design, class_name: str, weights_file: str | None, shapes,
            preprocessing: bool = False) -> tuple[str, str]:
    """``(module docstring, imports and constants)``. The design's name and the weights' file name are
    text from outside: they go into the docstring escaped (:func:`doc_literal`), never raw."""
    weights = weights_file or "weights.pt"
    example = ", ".join(f"torch.randn(1, {', '.join(map(str, s))})" for s in shapes)
    doc = f"""{design.name}: a PyTorch model exported by Network Designer.

Standalone: this file needs only PyTorch.

    model = {class_name}()
    load_weights(model, {weights!r})
    model.eval()
    prediction = model({example})
"""
    if preprocessing:
        doc = f"""{design.name}: a PyTorch model exported by Network Designer.

Standalone: this file needs only PyTorch.

    model = build({weights!r}).eval()
    scores = model(preprocess(images))   # images: uint8, or float in [0, 1]; see preprocess
    names = [CLASSES[i] for i in scores.argmax(1)] if CLASSES else scores.argmax(1)

preprocess scales and normalises the input as the trainer did (MEAN, STD below); a model fed
unnormalised input gives wrong predictions.
"""
    return doc_literal(doc), f'''
import torch
from torch import nn

INPUT_SHAPES = {[tuple(s) for s in shapes]!r}
NUM_CLASSES = {design.num_classes!r}
'''


def _footer(class_name: str, n_inputs: int) -> str:
    return f'''def load_weights(model: nn.Module, path) -> nn.Module:
    """Load exported weights: a state_dict in a .pt file (read with weights_only=True, so no code
    in the file can run) or a .safetensors file (needs the safetensors package)."""
    if str(path).endswith(".safetensors"):
        from safetensors.torch import load_file
        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state.get("model"), dict):  # a training checkpoint
            state = state["model"]
    model.load_state_dict(state)
    return model


def build(weights=None) -> {class_name}:
    """The network, with the exported weights when a path is given."""
    model = {class_name}()
    return load_weights(model, weights) if weights else model


if __name__ == "__main__":
    import sys
    model = build(sys.argv[1] if len(sys.argv) > 1 else None).eval()
    with torch.no_grad():
        out = model(*(torch.randn(2, *shape) for shape in INPUT_SHAPES))
    print("output shape:", tuple(out.shape) if isinstance(out, torch.Tensor) else [tuple(o.shape) for o in out])
'''
