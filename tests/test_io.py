"""Persistence: structmat.save / structmat.load, pickling and deep copies over the whole zoo.

Round trips are bit-exact: the reloaded tree encodes to the same header and the same array
bytes, and its dense matrix is identical.  Damaged, truncated and foreign files must raise
``ValueError`` naming the problem, and loading must never run code from the file.
"""

from __future__ import annotations

import copy
import io
import json
import os
import pickle
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import structmat as sm
from structmat import DFT, Diagonal, Hadamard, Monarch, Permutation
from structmat.io import _Encoder, _header, _npz_bytes, _safetensors_bytes

from . import zoo_algebra
from .zoo import SPECS

ALL = {s.id: s for s in SPECS + zoo_algebra.specs()}
SPEC_LIST = list(ALL.values())
over_zoo = pytest.mark.parametrize("spec", SPEC_LIST, ids=[s.id for s in SPEC_LIST])
FORMATS = ("npz", "safetensors")


def encoded(op):
    """(JSON node, {key: (dtype, shape, bytes)}) of an operator tree."""
    enc = _Encoder()
    root = enc.node(op)
    return root, {k: (a.dtype.str, a.shape, a.tobytes()) for k, a in enc.arrays.items()}


def assert_identical(a, b, what=""):
    assert type(a) is type(b), what
    assert a.shape == b.shape and sm.base.dtype_name(a.dtype) == sm.base.dtype_name(b.dtype)
    assert encoded(a) == encoded(b), f"{what}: parameters or arguments differ"
    da, db = np.asarray(a.to_dense()), np.asarray(b.to_dense())
    assert da.dtype == db.dtype and da.tobytes() == db.tobytes(), f"{what}: dense differs"


@over_zoo
@pytest.mark.parametrize("fmt", FORMATS)
def test_save_load_round_trip_is_bit_exact(spec, fmt, tmp_path):
    e = spec.build(np)
    path = tmp_path / f"op.{fmt}"
    assert sm.save(path, e.A) == path
    back = sm.load(path)
    assert_identical(back, e.A, f"{e.id} via {fmt}")
    assert sorted(os.listdir(tmp_path)) == [f"op.{fmt}"]  # no temporary file left behind


@over_zoo
def test_pickle_and_deepcopy_round_trip(spec):
    e = spec.build(np)
    for how, back in (
        ("pickle", pickle.loads(pickle.dumps(e.A))),
        ("deepcopy", copy.deepcopy(e.A)),
    ):
        assert_identical(back, e.A, f"{e.id} {how}")


def test_round_trip_other_backends(tmp_path, xp):
    """Parameters of any backend are saved from the host and restored where asked."""
    A = (Monarch.random(12, seed=1, xp=xp) @ Diagonal(xp.asarray(np.arange(1.0, 13.0)))).T
    sm.save(tmp_path / "a.npz", A)
    back = sm.load(tmp_path / "a.npz", xp=xp)
    assert sm._backend.namespace_name(back.xp) == sm._backend.namespace_name(xp)
    assert encoded(back) == encoded(A)


def test_round_trip_torch(tmp_path):
    torch = pytest.importorskip("torch")
    M = Monarch.random(16, seed=0).to_backend("torch")
    L = M.L.clone().requires_grad_(True)
    Mg = Monarch(L, M.R)
    sm.save(tmp_path / "m.safetensors", 0.5 * Mg)
    back = sm.load(tmp_path / "m.safetensors", xp="torch")
    assert isinstance(back.L, torch.Tensor) and back.L.dtype == torch.float64
    assert torch.equal(back.L, (0.5 * Mg).L.detach()) and torch.equal(back.R, M.R)


@given(
    data=st.data(),
    dtype=st.sampled_from(["float32", "float64", "complex64", "complex128"]),
    nblocks=st.sampled_from([(2, 2), (3, 2), (1, 4), (4, 1), (6, 3)]),
)
def test_monarch_any_values_round_trip(data, dtype, nblocks, tmp_path_factory):
    """Every finite value (subnormals, -0.0, extremes) survives both containers bit for bit."""
    k, l = nblocks
    rdt = {"complex64": "float32", "complex128": "float64"}.get(dtype, dtype)
    elems = st.floats(allow_nan=False, allow_infinity=False, width=32 if rdt == "float32" else 64)

    def arr(shape):
        a = data.draw(hnp.arrays(rdt, shape, elements=elems))
        if dtype.startswith("complex"):
            a = a + 1j * data.draw(hnp.arrays(rdt, shape, elements=elems))
            a = a.astype(dtype)
        return a

    q = 3
    l = l if (k * q) % l == 0 else k * q  # l r = k q
    M = Monarch(arr((l, 2, k * q // l)), arr((k, q, 2)))
    d = tmp_path_factory.mktemp("hyp")
    for fmt in FORMATS:
        p = d / f"m.{fmt}"
        sm.save(p, M, overwrite=True)
        back = sm.load(p)
        assert back.L.tobytes() == M.L.tobytes() and back.R.tobytes() == M.R.tobytes()
        assert back.L.dtype == M.L.dtype


# ----------------------------------------------------------------------------------------------
# writing rules
# ----------------------------------------------------------------------------------------------


def test_save_never_overwrites_unless_asked(tmp_path):
    p = tmp_path / "x.npz"
    p.write_bytes(b"user data")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        sm.save(p, DFT(4))
    assert p.read_bytes() == b"user data"
    sm.save(p, DFT(4), overwrite=True)
    assert isinstance(sm.load(p), DFT)
    assert sorted(os.listdir(tmp_path)) == ["x.npz"]


def test_failed_save_leaves_nothing(tmp_path):
    class Unregistered(Diagonal):
        pass

    with pytest.raises(TypeError, match="not a registered"):
        sm.save(tmp_path / "u.npz", Hadamard(2) @ Unregistered(np.ones(2)))
    assert os.listdir(tmp_path) == []


def test_format_choice(tmp_path):
    sm.save(tmp_path / "a.safetensors", DFT(4))
    sm.save(tmp_path / "b.bin", DFT(4))
    sm.save(tmp_path / "c.bin", DFT(4), format="safetensors")
    assert (tmp_path / "b.bin").read_bytes()[:2] == b"PK"  # npz by default
    assert (tmp_path / "a.safetensors").read_bytes()[:2] != b"PK"
    assert (tmp_path / "c.bin").read_bytes() == (tmp_path / "a.safetensors").read_bytes()
    for name in ("a.safetensors", "b.bin", "c.bin"):
        assert isinstance(sm.load(tmp_path / name), DFT)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"format": "hdf5"}, ValueError, "format must be 'npz' or 'safetensors'"),
        ({"overwrite": 1}, TypeError, "overwrite must be True or False"),
    ],
)
def test_save_rejects_bad_arguments(tmp_path, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        sm.save(tmp_path / "a.npz", DFT(4), **kwargs)


def test_save_rejects_non_operators(tmp_path):
    with pytest.raises(TypeError, match="op must be a StructuredMatrix"):
        sm.save(tmp_path / "a.npz", np.eye(3))
    with pytest.raises(TypeError, match="path must be"):
        sm.save(3, DFT(4))
    with pytest.raises(TypeError, match="path must be"):
        sm.load(None)


# ----------------------------------------------------------------------------------------------
# damaged and foreign files
# ----------------------------------------------------------------------------------------------


def _op():
    return Monarch.random(16, seed=0) @ Permutation(np.arange(16)[::-1].copy()) + 2j * DFT(16)


@pytest.mark.parametrize("fmt", FORMATS)
def test_truncated_files_raise_value_error(tmp_path, fmt):
    p = tmp_path / f"a.{fmt}"
    sm.save(p, _op())
    data = p.read_bytes()
    for cut in sorted(
        {0, 3, 8, 12, 40, len(data) // 3, len(data) // 2, len(data) - 30, len(data) - 1}
    ):
        q = tmp_path / f"cut{cut}"
        q.write_bytes(data[:cut])
        with pytest.raises(ValueError) as info:
            sm.load(q)
        assert str(q) in str(info.value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_corrupted_array_bytes_raise_value_error(tmp_path, fmt):
    """A flipped bit in the parameter data is caught (zip CRC or the header's SHA-256)."""
    p = tmp_path / f"a.{fmt}"
    sm.save(p, Monarch.random(16, seed=0))
    data = bytearray(p.read_bytes())
    L = Monarch.random(16, seed=0).L.tobytes()
    pos = bytes(data).find(L[:16])
    assert pos > 0
    data[pos + 5] ^= 0x01
    p.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted"):
        sm.load(p)


def _write_npz(path, header_doc, arrays):
    members = dict(arrays)
    members["__structmat__"] = np.frombuffer(json.dumps(header_doc).encode(), dtype=np.uint8)
    np.savez(path, **members)


def _doc_of(op):
    enc = _Encoder()
    root = enc.node(op)
    return json.loads(_header(root, enc.arrays)), enc.arrays


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d, a: d.update(version=2), "newer structmat"),
        (lambda d, a: d.update(version="1"), "invalid format version"),
        (lambda d, a: d.update(format="other"), "not a structmat operator file"),
        (lambda d, a: d["root"].update({"class": "os.system"}), "unknown class 'os.system'"),
        (lambda d, a: d["root"].update(shape=[3, 3]), "the file says"),
        (lambda d, a: d["root"].update(dtype="float32"), "the file says 'float32'"),
        (lambda d, a: d["root"]["args"].append({"eval": "1"}), "unsupported value"),
        (lambda d, a: d["root"].update(extra=1), "a node must be an object"),
        (lambda d, a: d["arrays"]["a0"].update(shape=[2]), "the header says"),
        (lambda d, a: d["arrays"]["a0"].update(dtype="object"), "invalid declaration"),
        (lambda d, a: a.update(extra=np.zeros(2)), "not declared in the header"),
        (lambda d, a: a.pop("a0"), "declared but missing"),
        (lambda d, a: d["root"]["args"].__setitem__(0, {"array": "a1"}), "referenced twice"),
    ],
)
def test_invalid_headers_raise_value_error(tmp_path, edit, match):
    doc, arrays = _doc_of(Monarch.random(16, seed=0))
    edit(doc, arrays)
    p = tmp_path / "bad.npz"
    _write_npz(p, doc, arrays)
    with pytest.raises(ValueError, match=match):
        sm.load(p)


def test_constructor_validation_applies_on_load(tmp_path):
    """A consistent file describing an invalid matrix is refused like user input."""
    doc, arrays = _doc_of(Permutation([1, 0, 2]))
    bad = np.array([1, 1, 2], dtype=np.int64)
    arrays["a0"] = bad
    doc["arrays"]["a0"]["sha256"] = __import__("hashlib").sha256(bad.tobytes()).hexdigest()
    p = tmp_path / "perm.npz"
    _write_npz(p, doc, arrays)
    with pytest.raises(ValueError, match="invalid Permutation: perm must be a permutation"):
        sm.load(p)


def test_foreign_files_raise_value_error(tmp_path):
    np.savez(tmp_path / "plain.npz", x=np.ones(3))
    with pytest.raises(ValueError, match="without a structmat header"):
        sm.load(tmp_path / "plain.npz")
    (tmp_path / "text.npz").write_text("hello, world")
    with pytest.raises(ValueError, match="not a structmat file"):
        sm.load(tmp_path / "text.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="empty file"):
        sm.load(tmp_path / "empty.npz")
    import safetensors.numpy as stn

    (tmp_path / "w.safetensors").write_bytes(stn.save({"w": np.ones(2)}))
    with pytest.raises(ValueError, match="without structmat metadata"):
        sm.load(tmp_path / "w.safetensors")


def test_pickled_content_is_never_unpickled(tmp_path):
    """An object array (which np.load would unpickle) is refused without running code."""

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo executed > " + str(tmp_path / "pwned"),))

    doc, arrays = _doc_of(Diagonal(np.ones(2)))
    arrays["a0"] = np.array([Boom()], dtype=object)
    with zipfile.ZipFile(tmp_path / "evil.npz", "w") as zf:
        for k, a in {
            **arrays,
            "__structmat__": np.frombuffer(json.dumps(doc).encode(), dtype=np.uint8),
        }.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, a, allow_pickle=True)
            zf.writestr(k + ".npy", buf.getvalue())
    with pytest.raises(ValueError):
        sm.load(tmp_path / "evil.npz")
    assert not (tmp_path / "pwned").exists()


def test_header_helpers_agree_between_containers():
    enc = _Encoder()
    root = enc.node(_op())
    h = _header(root, enc.arrays)
    assert _npz_bytes(h, enc.arrays)[:2] == b"PK"
    assert b"structmat-operator" in _safetensors_bytes(h, enc.arrays)[:4096]


# ----------------------------------------------------------------------------------------------
# registry
# ----------------------------------------------------------------------------------------------


class Shifted(sm.StructuredMatrix):
    """A test class: x -> x + c * sum(x) * ones (a rank-one update of the identity)."""

    def __init__(self, n, c=1.0):
        self.n = sm.base.check_size(n, "n")
        self.c = float(c)
        self._shape = (self.n, self.n)
        self._dtype = np.dtype("float64")

    def _mul_cols(self, X):
        return X + self.c * X.sum(axis=0, keepdims=True)

    def _mul_rows(self, X):
        return X + self.c * X.sum(axis=1, keepdims=True)

    def flops(self, batch=1):
        return 3 * self.n * batch


def test_register_makes_new_classes_loadable(tmp_path):
    sm.io.register(Shifted, lambda A: ([A.n], {"c": A.c}), name="TestShifted")
    assert sm.io.registered()["TestShifted"] is Shifted
    op = Shifted(4, 0.25) @ Hadamard(4)
    sm.save(tmp_path / "s.npz", op)
    assert_identical(sm.load(tmp_path / "s.npz"), op)
    with pytest.raises(ValueError, match="already registered"):
        sm.io.register(Diagonal, lambda A: ([A.d], {}), name="TestShifted")
    with pytest.raises(TypeError, match="StructuredMatrix subclass"):
        sm.io.register(int, lambda A: ([], {}))
    with pytest.raises(TypeError, match="_save_args"):
        sm.io.register(type("NoArgs", (Diagonal,), {}))
    with pytest.raises(ValueError, match="identifier"):
        sm.io.register(Shifted, lambda A: ([A.n], {}), name="a.b")


def test_every_structmat_class_is_registered():
    import inspect

    import structmat.ops as ops

    classes = {
        c for _, c in inspect.getmembers(ops, inspect.isclass) if issubclass(c, sm.StructuredMatrix)
    }
    classes |= {sm.Product, sm.base.Transpose, sm.base.Adjoint, sm.base.Conjugate}
    missing = classes - set(sm.io.registered().values())
    assert not missing, f"not loadable: {sorted(c.__name__ for c in missing)}"


def test_warnings_are_not_raised_on_load(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        M = Monarch.random(7, seed=0)  # degenerate geometry: warns at creation
    sm.save(tmp_path / "m.npz", M)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sm.load(tmp_path / "m.npz")
