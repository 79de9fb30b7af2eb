"""Malformed safetensors headers are refused with one line, never a traceback, wherever they are read.

Hand-picked defects go through every reader (read_safetensors, load_bundle, read_state_dict, the
export and import commands); random mutations of a valid header check that the validator never
passes a file the safetensors loader then refuses, and random valid files always pass it.
"""
from __future__ import annotations

import functools
import json
import math
import re
import struct
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings, strategies as st

from engine.cli import main
from engine.compile import compile_design
from engine.export import WeightsFileError, load_bundle, read_safetensors, save_safetensors
from engine.export.weights import check_safetensors_header
from engine.pretrained import WeightsError, read_state_dict
from engine.safetensors_header import DTYPES, MAX_DEPTH, torch_dtypes

from .test_export_safety import tiny

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def split(data: bytes) -> tuple[dict, bytes]:
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def join(header, body: bytes) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + body


@functools.cache
def valid_bytes() -> bytes:
    """The bytes of a valid tiny-design weights file (design in its metadata)."""
    design = tiny()
    with tempfile.TemporaryDirectory() as folder:
        return save_safetensors(compile_design(design).state_dict(), Path(folder) / "w.safetensors",
                                design).read_bytes()


@pytest.fixture
def valid() -> bytes:
    return valid_bytes()


def by_offset(header: dict) -> list[str]:
    return sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"])


def set_field(field, value, which=0):
    def mutate(header, body):
        header[by_offset(header)[which]][field] = value
        return join(header, body)
    return mutate


def shift_last(header, body):
    """The last tensor moved past the end of the data."""
    last = header[by_offset(header)[-1]]
    begin, end = last["data_offsets"]
    last["data_offsets"] = [begin + len(body), end + len(body)]
    return join(header, body)


def overlap(header, body):
    """The second tensor starts 4 bytes inside the first."""
    second = header[by_offset(header)[1]]
    begin, end = second["data_offsets"]
    second["data_offsets"] = [begin - 4, end - 4]
    return join(header, body)


def gap(header, body):
    header.pop(by_offset(header)[1])
    return join(header, body)


def size_mismatch(header, body):
    first = header[by_offset(header)[0]]
    first["shape"] = [*first["shape"][:-1], first["shape"][-1] + 1]
    return join(header, body)


def meta(value):
    def mutate(header, body):
        header["__metadata__"] = value
        return join(header, body)
    return mutate


def raw_header(text: bytes):
    return lambda header, body: join(text, body)


def header_longer_than_file(header, body):
    data = join(header, body)
    return struct.pack("<Q", len(data)) + data[8:]


def rename_first(new_name):
    def mutate(header, body):
        header[new_name] = header.pop(by_offset(header)[0])
        return join(header, body)
    return mutate


def offsets_text(text: str):
    """data_offsets of the first tensor written as raw JSON text (what json.dumps cannot produce)."""
    def mutate(header, body):
        name = by_offset(header)[0]
        header[name]["data_offsets"] = "@@"
        return join(json.dumps(header).replace('"@@"', text).encode(), body)
    return mutate


def duplicate_key(header, body):
    text = json.dumps(header)
    name = by_offset(header)[-1]
    entry = json.dumps(header[name])
    return join(text[:-1].encode() + f", {json.dumps(name)}: {entry}}}".encode(), body)


# (id, mutation, what the message says, whether it names the first tensor)
CASES = [
    ("offsets-empty", set_field("data_offsets", []), r"data_offsets must be two whole numbers \[begin, end\], found \[\]",
     True),
    ("offsets-int", set_field("data_offsets", 5), r"data_offsets must be two whole numbers.*found 5", True),
    ("offsets-null", set_field("data_offsets", None), r"data_offsets must be two whole numbers.*found null", True),
    ("offsets-strings", set_field("data_offsets", ["a", "b"]), r"found \[\"a\", \"b\"\]", True),
    ("offsets-three", set_field("data_offsets", [0, 144, 144]), r"data_offsets must be two", True),
    ("offsets-negative", set_field("data_offsets", [-1, 143]), r"data_offsets must be two whole numbers", True),
    ("offsets-negative-zero", offsets_text("[-0, 144]"), r"data_offsets must be two whole numbers", True),
    ("offsets-float", set_field("data_offsets", [0.0, 144.0]), r"data_offsets must be two whole numbers", True),
    ("offsets-bool", set_field("data_offsets", [False, 144]), r"data_offsets must be two whole numbers", True),
    ("offsets-reversed", set_field("data_offsets", [144, 0]), r"end before they begin", True),
    ("offsets-beyond-file", shift_last, r"truncated: tensor .* ends at byte", False),
    ("offsets-overlap", overlap, r"overlap those of tensor", False),
    ("offsets-gap", gap, r"belong to no tensor", False),
    ("trailing-bytes", lambda h, b: join(h, b + b"\0" * 8), r"8 bytes follow the last tensor", False),
    ("size-mismatch", size_mismatch, r"hold \d+ bytes but shape .* of F32 needs", True),
    ("dtype-unknown", set_field("dtype", "F31"), r"unknown dtype \"F31\"", True),
    ("dtype-not-text", set_field("dtype", 32), r"unknown dtype 32", True),
    ("dtype-torch-cannot-hold", set_field("dtype", "F6_E2M3"), r"PyTorch cannot hold dtype F6_E2M3", True),
    ("shape-bool", set_field("shape", [True, 1, 3, 3]), r"shape must be a list of at most \d+ whole numbers", True),
    ("shape-float", set_field("shape", [4.0, 1, 3, 3]), r"shape must be a list", True),
    ("shape-negative", set_field("shape", [-4, 1, 3, 3]), r"shape must be a list", True),
    ("shape-not-list", set_field("shape", "4,1,3,3"), r"shape must be a list", True),
    ("shape-too-long", set_field("shape", [1] * 65), r"shape must be a list of at most 64", True),
    ("shape-too-large", set_field("shape", [0, 2**40, 2**40]), r"too large for PyTorch", True),
    ("dtype-null", set_field("dtype", None), r"unknown dtype null", True),
    ("entry-missing-key", lambda h, b: (h[by_offset(h)[0]].pop("shape"), join(h, b))[1], r"has no shape", True),
    ("entry-extra-key", set_field("strides", [1]), r"unexpected keys \[\"strides\"\]", True),
    ("entry-is-list", lambda h, b: join({**h, by_offset(h)[0]: [1, 2]}, b), r"must be an object with dtype", True),
    ("metadata-int-value", meta({"format": 1}), r"__metadata__ must map text to text", False),
    ("metadata-list", meta(["format"]), r"__metadata__ must be an object", False),
    ("metadata-null", meta(None), r"__metadata__ must be an object", False),
    ("header-list", raw_header(b"[]"), r"not a safetensors file \(its header is a JSON list", False),
    ("header-string", raw_header(b'"{}"'), r"not a safetensors file", False),
    ("header-nested-brackets", raw_header(b"[" * 10**5), rf"nests brackets deeper than {MAX_DEPTH}", False),
    ("header-nested-objects", raw_header(b'{"a":' * 10**4), rf"nests brackets deeper than {MAX_DEPTH}", False),
    ("header-not-utf8", raw_header(b'{"\xff": 1}'), r"not UTF-8", False),
    ("header-nan", offsets_text("[NaN, 144]"), r"not a safetensors file \(its header is not JSON", False),
    ("header-duplicate-key", duplicate_key, r"twice", False),
    ("header-longer-than-file", header_longer_than_file, r"truncated or not a safetensors file", False),
    ("header-too-long", lambda h, b: struct.pack("<Q", 2**63) + join(h, b)[8:], r"more than the 100,000,000", False),
    ("name-too-long", rename_first("x" * 2000), r"a tensor name may have at most 1,024 characters, found one of 2,000",
     False),
    ("name-lone-surrogate", rename_first("\ud800"), r"tensor name '\\ud800' is not valid Unicode", False),
    ("too-short", lambda h, b: b"\x01\x00", r"too short", False),
]


def bad_file(valid: bytes, tmp_path, mutate):
    header, body = split(valid)
    first = by_offset(header)[0]
    path = tmp_path / "w.safetensors"
    path.write_bytes(mutate(header, body))
    return path, first


def one_line(message: str) -> str:
    assert "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize("mutate, reason, names_tensor", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_every_reader_refuses_the_defect_in_one_line(valid, tmp_path, capsys, mutate, reason, names_tensor):
    path, first = bad_file(valid, tmp_path, mutate)
    with pytest.raises(WeightsFileError, match=reason) as caught:
        read_safetensors(path)
    message = one_line(str(caught.value))
    assert message.startswith("w.safetensors")
    if names_tensor:
        assert f"w.safetensors: tensor '{first}': " in message
    with pytest.raises(WeightsFileError, match=reason):
        load_bundle(path)
    with pytest.raises(WeightsError, match=reason) as caught:
        read_state_dict(path)
    one_line(str(caught.value))

    out = tmp_path / "out"
    out.mkdir()
    assert main(["export", str(path), "-f", "pt", "-o", str(out / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "cannot export" in err
    assert main(["import", str(path), "--out", str(out / "d.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and "cannot import" in err
    assert not any(out.iterdir())


def test_the_unmutated_file_passes(valid, tmp_path):
    """split/join round-trip: the cases above differ from a valid file only by their defect."""
    assert check_safetensors_header(bad_file(valid, tmp_path, lambda h, b: join(h, b))[0])["format"] == \
        "network-designer-weights"
    state, metadata = read_safetensors(bad_file(valid, tmp_path, lambda h, b: join(h, b))[0])
    assert "design" in metadata and set(state) == set(compile_design(tiny()).state_dict())


@pytest.mark.parametrize("error", [MemoryError(), OverflowError("big"), KeyError("F8"), TypeError("x"),
                                   RuntimeError("line one\nline two")])
def test_a_loader_failure_after_the_check_is_still_one_line(valid, tmp_path, monkeypatch, error):
    import safetensors.torch

    def boom(*args, **kwargs):
        raise error
    monkeypatch.setattr(safetensors.torch, "load_file", boom)
    path = tmp_path / "w.safetensors"
    path.write_bytes(valid)
    with pytest.raises(WeightsFileError, match="not a readable safetensors file") as caught:
        read_safetensors(path)
    one_line(str(caught.value))
    with pytest.raises(WeightsError, match="cannot read weights") as caught:
        read_state_dict(path)
    one_line(str(caught.value))


def test_a_missing_file_is_a_weights_error(tmp_path):
    with pytest.raises(WeightsError, match="cannot be read"):
        read_state_dict(tmp_path / "none.safetensors")
    with pytest.raises(WeightsFileError, match="does not exist"):
        read_safetensors(tmp_path / "none.safetensors")


# ---- random search ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 4000) | st.integers() | st.floats()
    | st.text(max_size=6) | st.sampled_from(sorted(DTYPES)),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


def locations(value, path=()):
    """Every (path) into a JSON value, the root included."""
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from locations(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from locations(v, (*path, i))


def mutate_once(header, data):
    paths = list(locations(header))
    path = data.draw(st.sampled_from(paths), label="where")
    parent = header
    for step in path[:-1]:
        parent = parent[step]
    current = parent[path[-1]] if path else header
    kinds = ["replace", "drop", "number", "add-key", "dtype", "swap-offsets"]
    kind = data.draw(st.sampled_from(kinds), label="how")
    if kind == "replace" or not path:
        value = data.draw(json_values, label="value")
        if not path:
            return value
        parent[path[-1]] = value
    elif kind == "drop":
        del parent[path[-1]]
    elif kind == "number" and type(current) is int:
        parent[path[-1]] = data.draw(st.sampled_from([current + 1, current - 1, current + 4, current - 4, 0,
                                                      -current, current * 2, current + 2**64, 2**63]),
                                     label="number")
    elif kind == "add-key" and isinstance(current, dict):
        current[data.draw(st.text(max_size=6) | st.sampled_from(["dtype", "shape", "data_offsets", "__metadata__"]),
                          label="key")] = data.draw(json_values, label="value")
    elif kind == "dtype" and isinstance(current, dict) and "dtype" in current:
        current["dtype"] = data.draw(st.sampled_from(sorted(DTYPES)), label="dtype")
    elif kind == "swap-offsets" and isinstance(current, dict):
        others = [k for k, v in header.items() if isinstance(v, dict) and "data_offsets" in v] \
            if isinstance(header, dict) else []
        if others and "data_offsets" in current:
            other = header[data.draw(st.sampled_from(others), label="other")]
            current["data_offsets"], other["data_offsets"] = other["data_offsets"], current["data_offsets"]
    return header


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_headers_are_refused_or_load(tmp_path, data):
    from safetensors.torch import load_file
    header, body = split(valid_bytes())
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        header = mutate_once(header, data)
    trim = data.draw(st.sampled_from([0, 0, 0, 1, 4, -4]), label="body change")
    body = body + b"\0" * trim if trim >= 0 else body[:trim]
    raw = json.dumps(header).encode() + b" " * data.draw(st.integers(0, 7), label="padding")
    path = tmp_path / "m.safetensors"
    path.write_bytes(join(raw, body))
    try:
        check_safetensors_header(path)
    except WeightsFileError as e:
        one_line(str(e))
        event("refused: " + " ".join(re.sub(r"^[^ :]*:? (tensor '.*?': )?", "", str(e)).split()[:4]))
        return
    event("passed and loaded")
    # The validator let it through: the real loader must agree, and so must every reader.
    loaded = load_file(str(path))
    assert set(loaded) == {k for k in header if k != "__metadata__"}
    read_safetensors(path)
    read_state_dict(path)


@st.composite
def small_files(draw):
    """A few tiny tensors laid out back to back, then a few small perturbations: near the
    boundary, where offsets, sizes and dtypes decide between valid and not."""
    names = draw(st.lists(st.sampled_from(["a", "b", "c", "d", ""]), unique=True, max_size=4))
    header, position = {}, 0
    for name in names:
        dtype = draw(st.sampled_from(sorted(DTYPES)))
        shape = draw(st.lists(st.integers(0, 3), max_size=3))
        size = math.prod(shape) * DTYPES[dtype][0] // 8
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [position, position + size]}
        position += size
    data_bytes = position
    for _ in range(draw(st.integers(0, 2))):
        if not names:
            break
        entry = header[draw(st.sampled_from(names))]
        field = draw(st.sampled_from(["dtype", "shape", "begin", "end", "both", "data"]))
        delta = draw(st.sampled_from([-2, -1, 1, 2, 4]))
        if field == "dtype":
            entry["dtype"] = draw(st.sampled_from(sorted(DTYPES)))
        elif field == "shape":
            entry["shape"] = draw(st.lists(st.integers(0, 3) | st.sampled_from([-1, True, 2.0, 2**64]), max_size=3))
        elif field in ("begin", "end", "both"):
            which = {"begin": [0], "end": [1], "both": [0, 1]}[field]
            entry["data_offsets"] = [o + delta if i in which else o for i, o in enumerate(entry["data_offsets"])]
        else:
            data_bytes = max(0, data_bytes + delta)
    return header, data_bytes


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=small_files())
def test_small_hand_made_headers_are_refused_or_load(tmp_path, case):
    header, data_bytes = case
    from safetensors.torch import load_file
    path = tmp_path / "s.safetensors"
    path.write_bytes(join(header, bytes(i % 256 for i in range(data_bytes))))
    try:
        check_safetensors_header(path)
    except WeightsFileError as e:
        one_line(str(e))
        event("refused")
        return
    event("passed and loaded")
    assert set(load_file(str(path))) == set(header)


TORCH_DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32,
                torch.int16, torch.int8, torch.uint8, torch.bool, torch.uint16, torch.uint32, torch.uint64,
                torch.complex64, torch.float8_e4m3fn, torch.float8_e5m2]


@st.composite
def tensors(draw):
    dtype = draw(st.sampled_from(TORCH_DTYPES))
    shape = draw(st.lists(st.integers(0, 4), max_size=4))
    size = torch.empty((), dtype=dtype).element_size()
    raw = torch.randint(0, 2 if dtype == torch.bool else 256, (*shape, size), dtype=torch.uint8)
    return raw.view(dtype).reshape(shape)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(state=st.dictionaries(st.text(min_size=0, max_size=40).filter(lambda s: s != "__metadata__"), tensors(),
                             max_size=6))
def test_files_written_by_save_safetensors_always_pass(tmp_path, state):
    path = save_safetensors(state, tmp_path / "r.safetensors")
    assert check_safetensors_header(path) == {"format": "network-designer-weights"}
    loaded, _ = read_safetensors(path)
    assert set(loaded) == set(state)
    for k, v in state.items():
        assert loaded[k].dtype == v.dtype and loaded[k].shape == v.shape
        assert torch.equal(loaded[k].reshape(-1).view(torch.uint8), v.reshape(-1).view(torch.uint8))


def test_every_dtype_torch_holds_is_accepted():
    assert {"BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F16", "BF16", "F32", "F64", "F8_E4M3",
            "F8_E5M2"} <= torch_dtypes()
    assert "F6_E2M3" not in torch_dtypes()
