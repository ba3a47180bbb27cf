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


def test_every_claim_has_two_quick_sizes_a_reference_and_controls():
    assert len(CLAIMS) == len(all_claims()), "claim names must be unique"
    for c in CLAIMS.values():
        assert len(c.quick) >= 2, c.name
        assert set(c.quick) <= set(c.full) or c.name == "butterfly-strictness", c.name
        assert c.item and c.statement and c.all_controls(), c.name
        for size in c.quick:
            assert c.reason_to_skip(size) is None, (c.name, size)
    for name in (
        "library-dft",
        "library-hadamard",
        "library-trig",
        "library-convolution",
        "library-butterfly",
        "mmstar-factorisation",
        "hd3-mmstar2",
        "fastfood-mmstar2",
        "convolution-not-monarch",
        "permutation-bbstar",
        "dct3-mmstar",
        "dst3-mmstar",
    ):
        assert name in CLAIMS, name


def test_no_reference_to_internal_documents():
    """Reports, --list and the claims speak for themselves (they cite the paper, not notes)."""
    import pathlib

    root = pathlib.Path(proofs.__file__).parent
    for f in sorted(root.glob("*.py")):
        text = f.read_text()
        # the names of planning notes the repository does not contain, spelled in parts so
        # that this test does not itself mention them
        for word in ("DES" + "IGN", "CLA" + "IMS.md", "CLA" + "IMS item"):
            assert word not in text, (f.name, word)


def test_quick_sizes_need_cyclotomic_fields_with_odd_factors():
    """Sizes whose cyclotomic polynomials have odd-order factors run in --quick."""
    assert {9, 12, 36, 45} <= set(CLAIMS["dft-monarch"].quick)
    assert {9, 12, 36, 45} <= set(CLAIMS["library-dft"].quick)
    assert 12 in CLAIMS["dct-mmstar"].quick and 12 in CLAIMS["library-trig"].quick
    assert 24 in CLAIMS["convolution-mmstar"].quick


def test_false_claim_dft_is_monarch_is_refuted():
    """ "F_n ∈ M" with the four-step factors as witness (no permutation): refuted."""
    n, b = 16, 4
    claim = Claim(
        name="false-dft-in-M",
        item="-",
        statement="F_n = Monarch(four-step factors)",
        method="monomial",
        quick=(n,),
        full=(n,),
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
    assert not proofs.hadamard.check(
        [(2, proofs.hadamard._witness(16, 2, negate_block=True))], 16
    ).ok


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

    c = Claim(
        name="x",
        item="-",
        statement="-",
        method="-",
        quick=(1,),
        full=(1,),
        witness=boom,
        check=lambda w, n: Outcome(True, ""),
        negative=boom,
        negative_label="-",
    )
    row = run_one(c, 1)
    assert row["verdict"] == "error" and row["negative_control"] == "error"


# ------------------------------------------------------------------------------------------------
# the runner
# ------------------------------------------------------------------------------------------------


def test_runner_quick_outputs(tmp_path, capsys):
    rep, js = tmp_path / "r.md", tmp_path / "r.json"
    code = main(
        [
            "--quick",
            "--claim",
            "dft-monarch,hadamard-monarch",
            "--claim",
            "theorem3",
            "--max-n",
            "16",
            "--report",
            str(rep),
            "--json",
            str(js),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "dft-monarch" in out and "negative control" in out
    rows = json.loads(js.read_text())
    assert {r["claim"] for r in rows} == {"dft-monarch", "hadamard-monarch", "theorem3"}
    assert all(
        {"claim", "n", "method", "seconds", "verdict", "negative_control", "controls"} <= set(r)
        for r in rows
    )
    assert all(c["outcome"] == "rejected" and c["step"] for r in rows for c in r["controls"])
    assert all(
        r["n"] <= 16 and r["verdict"] == "verified" and r["negative_control"] == "rejected"
        for r in rows
    )
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
    assert (
        main(
            [
                "--quick",
                "--claim",
                "dft-monarch",
                "--max-n",
                "2",
                "--report",
                str(tmp_path / "c.md"),
            ]
        )
        == 1
    )


def test_runner_exit_code_reports_failures(tmp_path, monkeypatch):
    bad = Claim(
        name="always-false",
        item="-",
        statement="-",
        method="-",
        quick=(1, 2),
        full=(1, 2),
        witness=lambda n: n,
        check=lambda w, n: Outcome(False, "no"),
        negative=lambda n: n,
        negative_label="-",
    )
    accepting = Claim(
        name="accepts-negative",
        item="-",
        statement="-",
        method="-",
        quick=(1, 2),
        full=(1, 2),
        witness=lambda n: n,
        check=lambda w, n: Outcome(True, "yes"),
        negative=lambda n: n,
        negative_label="-",
    )
    monkeypatch.setattr("proofs.__main__.all_claims", lambda: [bad, accepting])
    js = tmp_path / "f.json"
    assert (
        main(
            [
                "--quick",
                "--claim",
                "always-false",
                "--report",
                str(tmp_path / "f.md"),
                "--json",
                str(js),
            ]
        )
        == 1
    )
    assert json.loads(js.read_text())[0]["verdict"] == "refuted"
    assert main(["--quick", "--claim", "accepts-negative", "--report", str(tmp_path / "g.md")]) == 1


def test_package_main_entry_point(tmp_path):
    assert (
        proofs.main(["--quick", "--claim", "parameter-counts", "--report", str(tmp_path / "p.md")])
        == 0
    )
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
        assert all(
            ring.equal(_coefficient_of(ring, D[i][j], s), Ms[i][j])
            for i in range(n)
            for j in range(n)
        ), s
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


# ------------------------------------------------------------------------------------------------
# runner: where reports go, named sizes, usage errors
# ------------------------------------------------------------------------------------------------


def _tiny_claims():
    return [
        Claim(
            name="tiny",
            item="-",
            statement="n is even",
            method="integers",
            quick=(2, 4),
            full=(2, 4, 6),
            witness=lambda n: n,
            check=lambda w, n: Outcome(w % 2 == 0, "parity"),
            negative=lambda n: n + 1,
            negative_label="n + 1",
            admits=lambda n: None if n % 2 == 0 else f"n = {n} is odd",
        )
    ]


@pytest.fixture
def default_paths(tmp_path, monkeypatch):
    rep, js = tmp_path / "default" / "REPORT.md", tmp_path / "default" / "report.json"
    monkeypatch.setattr("proofs.__main__.DEFAULT_REPORT", rep)
    monkeypatch.setattr("proofs.__main__.DEFAULT_JSON", js)
    return rep, js


def test_filtered_runs_write_nothing_full_runs_write_the_default(
    default_paths, monkeypatch, capsys
):
    rep, js = default_paths
    for args in (
        ["--quick", "--claim", "parameter-counts"],
        ["--claim", "parameter-counts"],
        ["--n", "16", "--claim", "parameter-counts"],
        ["--max-n", "16", "--claim", "parameter-counts"],
    ):
        assert main(args) == 0, args
        assert not rep.exists() and not js.exists(), args
    monkeypatch.setattr("proofs.__main__.all_claims", _tiny_claims)
    assert main([]) == 0
    assert rep.exists() and js.exists()
    assert "| tiny | 6 |" in rep.read_text()
    assert {r["n"] for r in json.loads(js.read_text())} == {2, 4, 6}


def test_unwritable_default_report_is_skipped_with_a_warning(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    monkeypatch.setattr("proofs.__main__.DEFAULT_REPORT", blocker / "REPORT.md")
    monkeypatch.setattr("proofs.__main__.DEFAULT_JSON", tmp_path / "report.json")
    monkeypatch.setattr("proofs.__main__.all_claims", _tiny_claims)
    assert main([]) == 0
    assert "warning:" in capsys.readouterr().err
    assert (tmp_path / "report.json").exists() and blocker.read_text() == "x"


def test_named_sizes_and_skips(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("proofs.__main__.all_claims", _tiny_claims)
    js = tmp_path / "s.json"
    assert main(["--n", "8,3", "--n", "10", "--json", str(js)]) == 0
    rows = {r["n"]: r for r in json.loads(js.read_text())}
    assert rows[8]["verdict"] == rows[10]["verdict"] == "verified"
    assert rows[3]["verdict"] == "skipped" and "odd" in rows[3]["summary"]
    err = capsys.readouterr().err
    assert "[tiny] n=8" in err and "skipped (n = 3 is odd)" in err  # progress goes to stderr
    assert main(["--n", "3"]) == 1  # nothing ran


def test_named_sizes_of_real_claims(capsys):
    assert main(["--claim", "dft-monarch,library-dft", "--n", "96,100,7"]) == 0
    out = capsys.readouterr().out
    assert "4 of 4 checks verified" in out and "2 skipped" in out


def test_usage_errors_before_any_check(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    for args in (
        ["--claim", ""],
        ["--claim", " , "],
        ["--n", "x"],
        ["--n", "0"],
        ["--max-n", "0"],
        ["--json", str(blocker / "r.json")],
        ["--report", str(blocker / "r.md")],
        ["--json", str(tmp_path)],
        ["--json", str(blocker)],
    ):
        assert main(["--quick"] + args) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("error:") and "Traceback" not in err, args
    assert blocker.read_text() == "x"


def test_failed_json_write_is_a_clean_error(tmp_path, monkeypatch, capsys):
    import proofs.__main__ as pm

    real = pm.atomic_write

    def flaky(path, text):
        if str(path).endswith(".json"):
            raise OSError("disk full")
        real(path, text)

    monkeypatch.setattr(pm, "atomic_write", flaky)
    rep = tmp_path / "r.md"
    assert (
        main(
            [
                "--claim",
                "parameter-counts",
                "--report",
                str(rep),
                "--json",
                str(tmp_path / "r.json"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "cannot write" in err and "disk full" in err and "Traceback" not in err
    assert rep.exists()


def test_list_and_report_cite_the_paper(tmp_path, capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    notes = ("CLA" + "IMS", "DES" + "IGN")  # planning notes outside the repository
    assert not any(w in out for w in notes) and "Proposition 3.2" in out
    rep = tmp_path / "r.md"
    assert (
        main(["--claim", "dct-mmstar,permutation-bbstar", "--n", "8,16", "--report", str(rep)]) == 0
    )
    text = rep.read_text()
    assert not any(w in text for w in notes) and "ICML 2022" in text
    assert "width 3 (paper: 2)" in text  # the DCT witness's width, stated honestly
    assert "step *routing*" in text and "step *width*" in text and "step *target*" in text


# ------------------------------------------------------------------------------------------------
# the remaining claims: each control is rejected at its own step
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,n",
    [
        ("permutation-bbstar", 16),
        ("fastfood-mmstar2", 4),
        ("hd3-mmstar2", 4),
        ("mmstar-factorisation", 12),
        ("library-dft", 12),
        ("library-trig", 4),
        ("dct-mmstar", 4),
        ("dst3-mmstar", 4),
        ("dft-mmstar2", 12),
    ],
)
def test_controls_rejected_at_their_step(name, n):
    row = run_one(CLAIMS[name], n)
    assert row["verdict"] == "verified", row["summary"]
    steps = {c["step"] for c in row["controls"]}
    assert len(steps) >= 2, steps
    for c in row["controls"]:
        assert c["outcome"] == "rejected", c
        key = c["step"].split(" / ")[0]
        if key in ("routing", "width", "final equality"):
            assert key in c["summary"], c


def test_benes_routes_every_permutation_of_8_sampled_and_bit_reversal():
    from proofs.permutations import benes_witness, check_benes

    rng = np.random.default_rng(5)
    items = [(f"p{i}", benes_witness(rng.permutation(8))) for i in range(40)]
    items.append(("bit reversal", benes_witness(np.array([0, 4, 2, 6, 1, 5, 3, 7]))))
    assert check_benes(items, 8).ok


def test_library_targets_match_scipy_numerically():
    """The definitions used as targets (cos/sin as sums of roots of unity, butterfly levels)
    agree with SciPy / the library's float matrices (a float sanity check of the target code)."""
    import scipy.fft

    from proofs.library import butterfly_target, trig_target
    from structmat import Butterfly
    from structmat.exact import ExactRing, butterfly_symbol_names

    n = 6
    ring = ExactRing(8 * n)
    for kind, fn in (("dct", scipy.fft.dct), ("dst", scipy.fft.dst)):
        for typ in (2, 3, 4):
            T = np.array(
                [[ring.evaluate(x) for x in row] for row in trig_target(kind, typ, n, ring)]
            )
            ref = fn(np.eye(n), type=typ, axis=0)
            assert np.allclose(T, ref, atol=1e-12), (kind, typ)
    B = Butterfly.random(8, seed=3)
    tw = np.asarray(B.twiddle)
    names = butterfly_symbol_names(8)
    ring = ExactRing(1, names)
    vals = {}
    s = 3
    for e in range(s):
        for u in range(2):
            for v in range(2):
                for i in range(4):
                    vals[f"t{e}_{u}{v}_{i}"] = tw[e, u, v, i]
    T = np.array([[ring.evaluate(x, vals) for x in row] for row in butterfly_target(8, ring)])
    assert np.allclose(T, B.to_dense(), atol=1e-12)


# ------------------------------------------------------------------------------------------------
# mutations of the library's closed forms make the proofs fail
# ------------------------------------------------------------------------------------------------

MUTATIONS = {
    "conjugated root in the DFT's L blocks": (
        "L = cb[:, :, None] * RootSum.root(db[:, :, None] * res_col[None, None, :], K, sign)",
        "L = cb[:, :, None] * RootSum.root(db[:, :, None] * res_col[None, None, :], K, -sign)",
    ),
    "one R twiddle off by one": (
        "vals = ce[:, None] * RootSum.root(bvec[None, :] * e[:, None], N, sign)",
        "vals = ce[:, None] * RootSum.root(bvec[None, :] * e[:, None] + (e[:, None] == 1) * (bvec[None, :] == 1), "
        "N, sign)",
    ),
    "flipped sign of the inverse DFT": (
        "sign = 1 if X.inverse else -1",
        "sign = -1 if X.inverse else -1",
    ),
    "one negated Hadamard block entry": (
        "Lb = RootSum.root(np.broadcast_to(_sylvester(k), (p, k, k)), 2, sign=1)",
        "Lb = RootSum.root(np.broadcast_to(_sylvester(k), (p, k, k)) "
        "+ (np.arange(p * k * k).reshape(p, k, k) == p * k * k - 1), 2, sign=1)",
    ),
    "DCT input twiddle off by one": (
        "c1 = RootSum.root(a2 * (2 * e1 + b2), 4 * N)",
        "c1 = RootSum.root(a2 * (2 * e1 + b2) + (e1 == 1), 4 * N)",
    ),
    "conjugated DFT blocks of the convolution's left factor": (
        "    one = _dft_blocks(N, N // P1, +1)\n    two = one if P2 == P1 else _dft_blocks(N, N // P2, +1)",
        "    one = _dft_blocks(N, N // P1, -1)\n    two = _dft_blocks(N, N // P2, +1)",
    ),
    "flipped sign of the DST's second half-sum": (
        "c2 = c2 * RootSum.root(np.array(3), 4, sign=1)",
        "c2 = c2 * RootSum.root(np.array(1), 4, sign=1)",
    ),
}


def _run_copy(tmp, mutation=None):
    import pathlib
    import shutil
    import subprocess
    import sys

    root = pathlib.Path(proofs.__file__).resolve().parent.parent
    dst = pathlib.Path(tmp)
    shutil.copytree(
        root / "structmat", dst / "structmat", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copytree(
        root / "proofs",
        dst / "proofs",
        ignore=shutil.ignore_patterns("__pycache__", "*.md", "*.json"),
    )
    if mutation is not None:
        old, new = mutation
        hits = [
            f
            for f in sorted((dst / "structmat" / "monarch_form").glob("*.py"))
            if old in f.read_text()
        ]
        assert len(hits) == 1 and hits[0].read_text().count(old) == 1, (
            f"the mutation target is not unique in structmat/monarch_form/: {old}"
        )
        hits[0].write_text(hits[0].read_text().replace(old, new))
    code = (
        "import sys, structmat, proofs; "
        f"assert structmat.__file__.startswith({str(dst)!r}), structmat.__file__; "
        "from proofs.__main__ import main; "
        "sys.exit(main(['--quick', '--claim', 'library-dft,library-hadamard,library-trig,library-convolution', "
        "'--max-n', '16']))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=dst, capture_output=True, text=True, env=env, timeout=300
    )


def test_mutated_closed_forms_fail_the_quick_proofs(tmp_path):
    base = _run_copy(tmp_path / "base")
    assert base.returncode == 0, base.stdout + base.stderr
    for i, (label, mutation) in enumerate(MUTATIONS.items()):
        res = _run_copy(tmp_path / f"m{i}", mutation)
        assert res.returncode == 1, (label, res.stdout[-2000:], res.stderr[-2000:])
        assert "refuted" in res.stdout, (label, res.stdout[-2000:])


# ------------------------------------------------------------------------------------------------
# the structmat command line: verify and prove
# ------------------------------------------------------------------------------------------------


def test_cli_verify_one_transform(capsys):
    from structmat.cli import main as cli_main

    assert cli_main(["verify", "dft", "96"]) == 0
    out = capsys.readouterr().out
    assert (
        "form MP" in out
        and "verified: MP == DFT(96) exactly over Q(zeta_96)" in out
        and " s " in out
    )
    assert cli_main(["verify", "dct", "12", "--type", "4"]) == 0
    assert cli_main(["verify", "hadamard", "16", "--nblocks", "2"]) == 0
    assert cli_main(["verify", "convolution", "8", "--symbolic"]) == 0
    assert "8 symbols" in capsys.readouterr().out
    assert cli_main(["verify", "dft", "7"]) == 2
    assert "no Monarch form" in capsys.readouterr().err


def test_cli_prove_passes_flags(tmp_path, capsys):
    from structmat.cli import main as cli_main

    assert cli_main(["prove", "--claim", "library-hadamard", "--n", "64,48"]) == 0
    captured = capsys.readouterr()
    assert "1 of 1 checks verified" in captured.out and "1 skipped" in captured.out
    assert "[library-hadamard] n=64" in captured.err
    assert cli_main(["prove", "--claim", ""]) == 2
