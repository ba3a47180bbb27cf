"""Tests of the proofs package: every claim at its smallest size, every negative control,
deliberately false claims, and the runner's flags and outputs."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import proofs
from proofs import all_claims
from proofs.__main__ import main
from proofs._common import Sparse, count_width, dft_witness, pbn, route
from proofs._core import Claim, Outcome, run_one
from structmat.exact import ExactRing, MonomialMatrix, monomial_equal

CLAIMS = {c.name: c for c in all_claims()}


@pytest.mark.parametrize("name", sorted(CLAIMS))
def test_claim_smallest_size(name):
    c = CLAIMS[name]
    n = min(c.quick)
    row = run_one(c, n)
    assert row["verdict"] == "verified", row["summary"]
    assert row["negative_control"] == "rejected", row["negative_summary"]


def test_every_claim_has_two_quick_sizes_and_a_family():
    assert len(CLAIMS) == len(all_claims()), "claim names must be unique"
    for c in CLAIMS.values():
        assert len(c.quick) >= 2, c.name
        assert set(c.quick) <= set(c.full) or c.name == "butterfly-strictness", c.name
    items = " ".join(c.item for c in CLAIMS.values())
    for item in ("1", "2", "3", "5", "6", "7", "8", "9", "10", "11", "12"):
        assert item in items.replace(",", " ").split(), item


def test_false_claim_dft_is_monarch_is_refuted():
    """"F_n ∈ M" with the four-step factors as witness (no permutation): refuted."""
    n, b = 16, 4
    claim = Claim(
        name="false-dft-in-M", item="-", statement="F_n = Monarch(four-step factors)", method="monomial",
        quick=(n,), full=(n,),
        witness=lambda n: [(b, MonomialMatrix.dft(n), dft_witness(n, b))],
        check=proofs.dft.check_split,
        negative=lambda n: [(b, MonomialMatrix.dft(n), dft_witness(n, b))],
        negative_label="same",
    )
    row = run_one(claim, n)
    assert row["verdict"] == "refuted"
    assert row["negative_control"] == "rejected"


def test_false_claim_dft_outside_m_for_members_is_refuted():
    out = proofs.dft.check_not_monarch(proofs.dft._members(16), 16)
    assert not out.ok


def test_broken_witness_is_rejected():
    n, b = 64, 8
    F = MonomialMatrix.dft(n).permute_columns(pbn(b, n))
    W = dft_witness(n, b)
    assert monomial_equal(F, W)[0]
    bad = W.perturbed(17, 40)
    out = proofs.dft.check_split([(b, F, bad)], n)
    assert not out.ok and "(17, 40)" in out.summary
    # a Hadamard witness with one R block negated is rejected too
    assert proofs.hadamard.check([(2, proofs.hadamard._witness(16, 2))], 16).ok
    assert not proofs.hadamard.check([(2, proofs.hadamard._witness(16, 2, negate_block=True))], 16).ok


def test_route_permutation_and_coupling(rng):
    ring = ExactRing(8)
    n, b = 16, 4
    perm = rng.permutation(n)
    P = Sparse.permutation(perm, ring)
    st = route(P, b)
    assert st.product().equals(P)[0]
    Y = Sparse(n, ring)
    for k in range(n):
        Y.add(k, k, ring.zeta(k))
        Y.add(k, (-k) % n, ring.zeta(-k))
    st = route(Y, b)
    assert st.product().equals(Y)[0]


def test_count_width():
    assert count_width("S") == 1
    assert count_width("SCSCS") == 2
    assert count_width("CSCSCS") == 3


def test_check_errors_become_error_verdicts():
    def boom(n):
        raise RuntimeError("witness construction failed")

    c = Claim(name="x", item="-", statement="-", method="-", quick=(1,), full=(1,), witness=boom,
              check=lambda w, n: Outcome(True, ""), negative=boom, negative_label="-")
    row = run_one(c, 1)
    assert row["verdict"] == "error" and row["negative_control"] == "error"


# ------------------------------------------------------------------------------------------------
# the runner
# ------------------------------------------------------------------------------------------------


def test_runner_quick_outputs(tmp_path, capsys):
    rep, js = tmp_path / "r.md", tmp_path / "r.json"
    code = main(["--quick", "--claim", "dft-monarch,hadamard-monarch", "--claim", "theorem3",
                 "--max-n", "16", "--report", str(rep), "--json", str(js)])
    assert code == 0
    out = capsys.readouterr().out
    assert "dft-monarch" in out and "negative control" in out
    rows = json.loads(js.read_text())
    assert {r["claim"] for r in rows} == {"dft-monarch", "hadamard-monarch", "theorem3"}
    assert all(set(r) == {"claim", "n", "method", "seconds", "verdict", "negative_control"} for r in rows)
    assert all(r["n"] <= 16 and r["verdict"] == "verified" and r["negative_control"] == "rejected" for r in rows)
    text = rep.read_text()
    assert "| dft-monarch |" in text and "How each check scales" in text
    # atomic writes leave no temporary files behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "r.md"]


def test_runner_refuses_existing_paths_without_force(tmp_path, capsys):
    rep = tmp_path / "r.md"
    rep.write_text("keep me")
    assert main(["--quick", "--claim", "theorem3", "--report", str(rep)]) == 2
    assert rep.read_text() == "keep me"
    assert main(["--quick", "--claim", "theorem3", "--report", str(rep), "--force"]) == 0
    assert rep.read_text() != "keep me"


def test_runner_usage_errors(tmp_path, capsys):
    assert main(["--claim", "no-such-claim", "--report", str(tmp_path / "a.md")]) == 2
    assert "unknown claim" in capsys.readouterr().err
    assert main(["--max-n", "0", "--report", str(tmp_path / "b.md")]) == 2
    assert main(["--list"]) == 0
    # nothing runs below the smallest size: non-zero exit
    assert main(["--quick", "--claim", "dft-monarch", "--max-n", "2", "--report", str(tmp_path / "c.md")]) == 1


def test_runner_exit_code_reports_failures(tmp_path, monkeypatch):
    bad = Claim(name="always-false", item="-", statement="-", method="-", quick=(1, 2), full=(1, 2),
                witness=lambda n: n, check=lambda w, n: Outcome(False, "no"), negative=lambda n: n,
                negative_label="-")
    accepting = Claim(name="accepts-negative", item="-", statement="-", method="-", quick=(1, 2), full=(1, 2),
                      witness=lambda n: n, check=lambda w, n: Outcome(True, "yes"), negative=lambda n: n,
                      negative_label="-")
    monkeypatch.setattr("proofs.__main__.all_claims", lambda: [bad, accepting])
    js = tmp_path / "f.json"
    assert main(["--quick", "--claim", "always-false", "--report", str(tmp_path / "f.md"), "--json", str(js)]) == 1
    assert json.loads(js.read_text())[0]["verdict"] == "refuted"
    assert main(["--quick", "--claim", "accepts-negative", "--report", str(tmp_path / "g.md")]) == 1


def test_package_main_entry_point(tmp_path):
    assert proofs.main(["--quick", "--claim", "parameter-counts", "--report", str(tmp_path / "p.md")]) == 0
    assert os.path.exists(tmp_path / "p.md")


# ------------------------------------------------------------------------------------------------
# convolution: the symbolic kernel by linearity (basis kernels e_s)
# ------------------------------------------------------------------------------------------------


def _coefficient_of(ring, p, k):
    """The ``Q(zeta_N)`` coefficient of the ``k``-th symbol in a polynomial linear in the symbols."""
    out = ring.zero
    for monom, cf in p.items():
        deg = monom[1:]
        assert sum(deg) == 1, "the witness must be linear (no constant or higher terms) in c"
        if deg[k] == 1:
            out += ring.zeta(monom[0]) * cf
    return ring.reduce(out)


def test_convolution_basis_path_agrees_with_symbolic_kernel_at_16():
    from proofs.convolution import basis_witness, check_basis, check_circulant, circulant_witness

    n = 16
    sym = circulant_witness(n, "kernel")
    ring, X1 = sym[0], sym[4]
    D = X1.to_dense().to_list()
    _, b, X2, X1s = basis_witness(n)
    assert b == 4
    # X2 is the same matrix on both paths
    assert X2.to_ring(ring) == sym[5].to_dense().to_list()
    # X1(e_s) of the basis path is the coefficient of c_s in the symbolic X1(c)
    for s in (0, 1, 5, 15):
        Ms = X1s[s].to_ring(ring)
        assert all(ring.equal(_coefficient_of(ring, D[i][j], s), Ms[i][j]) for i in range(n) for j in range(n)), s
    assert check_circulant(sym, n).ok and check_basis((n, b, X2, X1s), n).ok
    assert not check_circulant(circulant_witness(n, "kernel", perturb=True), n).ok
    assert not check_basis(basis_witness(n, perturb=True), n).ok


@pytest.mark.parametrize("n", [8, 12, 18, 32])
def test_convolution_basis_path_other_sizes_and_controls(n):
    from proofs.convolution import basis_witness, check_basis

    n_, b, X2, X1s = basis_witness(n)
    assert n % b == 0 and 1 < b < n
    assert check_basis((n_, b, X2, X1s), n).ok
    # the kernel shifted by one: X1(e_(s+1)) claimed for e_s
    out = check_basis((n_, b, X2, X1s[1:] + X1s[:1]), n)
    assert not out.ok and "basis kernel e_0" in out.summary
    # a wrong Gram scale is caught before the basis identities
    assert not check_basis((n_, b + 1, X2, X1s), n).ok
    assert not check_basis(basis_witness(n, perturb=True), n).ok
