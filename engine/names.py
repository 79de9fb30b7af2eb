"""Turning text a user typed (node names, block titles, design names) into Python names.

Labels and ids come from design files, which anyone can write. They become attribute names
of compiled modules and of exported source, where a name that is not a plain identifier would
be code: torch.fx writes ``getattr(self, "<name>")`` into the source it generates and execs,
and the code exporter writes ``self.<name> = ...``. So every name passes through here, and
what comes out is an identifier Python reads back as exactly the same name.
"""
from __future__ import annotations

import keyword
import re
import unicodedata

# Attribute names nn.Module (and so GraphModule) uses itself; listed here rather than read
# from torch so that this module, and the analysis that uses it, need no torch import.
_MODULE_ATTRIBUTES = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children code compile cpu cuda
double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
get_submodule graph half input ipu load_state_dict meta modules mtia named_buffers
named_children named_modules named_parameters parameters print_readable recompile
register_backward_hook register_buffer register_forward_hook register_forward_pre_hook
register_full_backward_hook register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter
register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state
set_submodule share_memory smart_apply state_dict to to_empty to_folder train training type
xpu zero_grad
""".split())
_RESERVED = _MODULE_ATTRIBUTES | {"self", "torch", "nn", "F"}


def identifier(text: str) -> str:
    """``text`` as a Python identifier: runs of other characters become ``_``. Non-ASCII
    letters are kept when Python would read the name back unchanged (it NFKC-normalises
    identifiers, so ``ﬁlter`` in source is ``filter``); otherwise only ASCII is kept."""
    name = re.sub(r"\W+", "_", text).strip("_")
    if not (name.isidentifier() and unicodedata.normalize("NFKC", name) == name):
        name = re.sub(r"[^0-9A-Za-z_]+", "_", text).strip("_")
    name = name or "node"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"n_{name}"
    return name


def module_name(text: str, taken: set[str]) -> str:
    """A valid, unique attribute name for a node (its label if it has one, else its id);
    ``taken`` gets the result added."""
    name = identifier(text)
    if name in _RESERVED or name.startswith("__"):
        name = f"n_{name}"
    base, i = name, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def class_name(title: str, default: str = "Block") -> str:
    """``"Residual block (basic)"`` → ``ResidualBlockBasic``: ASCII words, capitalised."""
    name = "".join(w.capitalize() for w in re.split(r"[^0-9A-Za-z_]+", title) if w.strip("_"))
    name = name.strip("_") or default
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"{default}{name}"
    return name
