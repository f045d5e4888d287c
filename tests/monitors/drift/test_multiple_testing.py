"""correct(): Benjamini-Hochberg, Bonferroni and no correction, checked against statsmodels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from monitors.drift.multiple_testing import CORRECTIONS, Correction, Decision, correct

STATSMODELS_METHOD = {"bh": "fdr_bh", "bonferroni": "bonferroni"}

p_value = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
# Realistic drift p-values: many near 0, many spread over [0, 1], some exact ties.
p_values = st.lists(
    st.one_of(p_value, st.floats(min_value=0.0, max_value=0.01), st.sampled_from([0.0, 1e-3, 0.01, 0.5, 1.0])),
    min_size=1,
    max_size=60,
)
alphas = st.one_of(st.sampled_from([0.001, 0.01, 0.05, 0.1]), st.floats(min_value=1e-4, max_value=0.5))


def cut_offs(m: int, alpha: float) -> list[float]:
    """Every cut-off either implementation may compare a p-value with."""
    ours = [k * alpha / m for k in range(1, m + 1)]
    statsmodels = [(k / m) * alpha for k in range(1, m + 1)]
    return [*ours, *statsmodels, alpha / m, alpha]


def off_the_edges(p: list[float], alpha: float) -> bool:
    """No p-value within a few ulps of a cut-off, where rounding decides (see correct's Notes)."""
    edges = cut_offs(len(p), alpha)
    return all(not math.isclose(x, edge, rel_tol=1e-12, abs_tol=0.0) for x in p for edge in edges)


def statsmodels_rejects(p: list[float], alpha: float, correction: Correction) -> tuple[bool, ...]:
    if correction == "none":
        return tuple(x <= alpha for x in p)
    rejected = multipletests(p, alpha=alpha, method=STATSMODELS_METHOD[correction])[0]
    return tuple(bool(r) for r in rejected)


@settings(max_examples=500)
@given(p=p_values, alpha=alphas, correction=st.sampled_from(["bh", "bonferroni"]))
def test_agrees_with_statsmodels(p: list[float], alpha: float, correction: Correction) -> None:
    assume(off_the_edges(p, alpha))
    assert correct(p, alpha, correction).rejected == statsmodels_rejects(p, alpha, correction)


@pytest.mark.parametrize(
    ("p", "alpha"),
    [
        pytest.param([0.01, 0.02, 0.03, 0.5], 0.05, id="step-up-reaches-k3"),
        pytest.param([0.041, 0.001, 0.031, 0.019, 0.6], 0.05, id="unsorted"),
        pytest.param([0.004, 0.004, 0.004, 0.5], 0.01, id="ties-rejected-together"),
        pytest.param([0.02, 0.02, 0.02, 0.02], 0.05, id="ties-all-rejected"),
        pytest.param([0.03, 0.03, 0.001, 0.9], 0.05, id="ties-rejected-by-step-up"),
        pytest.param([0.035, 0.035, 0.001, 0.9], 0.04, id="ties-not-rejected"),
        pytest.param([1.0] * 8, 0.05, id="all-ones"),
        pytest.param([0.0] * 8, 0.05, id="all-zeros"),
        pytest.param([0.0, 1.0, 0.0, 1.0], 0.05, id="zeros-and-ones"),
        pytest.param([0.003], 0.01, id="single-rejected"),
        pytest.param([0.3], 0.01, id="single-kept"),
        pytest.param([0.041, 0.012, 0.035, 0.026, 0.2, 0.03], 0.05, id="bh-five-bonferroni-none"),
    ],
)
@pytest.mark.parametrize("correction", ["bh", "bonferroni", "none"])
def test_fixed_vectors_agree_with_statsmodels(p: list[float], alpha: float, correction: Correction) -> None:
    assert off_the_edges(p, alpha)
    decision = correct(p, alpha, correction)
    assert decision.rejected == statsmodels_rejects(p, alpha, correction)
    assert decision.correction == correction
    assert all(type(r) is bool for r in decision.rejected)


def test_fixed_vectors_by_hand() -> None:
    # 0.01 <= 1 * 0.05/4, 0.02 <= 2 * 0.05/4, 0.03 <= 3 * 0.05/4 = 0.0375; 0.5 > 0.05.
    assert correct([0.01, 0.02, 0.03, 0.5], 0.05) == Decision((True, True, True, False), 3 * 0.05 / 4, "bh")
    assert correct([0.01, 0.02, 0.03, 0.5], 0.05, "bonferroni") == Decision((True, False, False, False), 0.05 / 4, "bonferroni")
    assert correct([0.01, 0.02, 0.03, 0.5], 0.05, "none") == Decision((True, True, True, False), 0.05, "none")
    # Step-up, not step-down: p_(1) and p_(2) miss their cut-offs, p_(3) makes it and takes them along.
    assert correct([0.02, 0.04, 0.045], 0.05).rejected == (True, True, True)
    assert correct([1.0] * 5, 0.05) == Decision((False,) * 5, 0.05 / 5, "bh")
    assert correct([0.0] * 5, 0.05) == Decision((True,) * 5, 5 * 0.05 / 5, "bh")
    assert correct([0.02], 0.05) == Decision((True,), 0.05, "bh")


@settings(max_examples=500)
@given(p=p_values, alpha=alphas)
def test_bh_rejects_a_superset_of_bonferroni(p: list[float], alpha: float) -> None:
    bh, bonferroni = correct(p, alpha, "bh"), correct(p, alpha, "bonferroni")
    assert all(b for b, f in zip(bh.rejected, bonferroni.rejected) if f)
    assert bh.threshold >= bonferroni.threshold


@given(p=p_values, alpha=alphas, correction=st.sampled_from(CORRECTIONS))
def test_threshold_is_the_cut_off_applied(p: list[float], alpha: float, correction: Correction) -> None:
    decision = correct(p, alpha, correction)
    m = len(p)

    # One number explains every verdict, ties included.
    assert decision.rejected == tuple(x <= decision.threshold for x in p)
    if correction == "none":
        assert decision.threshold == alpha
    elif correction == "bonferroni":
        assert decision.threshold == alpha / m
    else:
        # k * alpha / m for the k p-values rejected; alpha / m (what the smallest missed) when none is.
        k = decision.n_rejected
        assert decision.threshold == max(k, 1) * alpha / m
        # Step-up: no larger j has its j-th smallest p-value within j * alpha / m.
        ordered = sorted(p)
        assert all(ordered[j - 1] > j * alpha / m for j in range(k + 1, m + 1))


@given(p=p_values, alpha=alphas)
def test_order_does_not_matter(p: list[float], alpha: float) -> None:
    decision = correct(p, alpha)
    order = np.random.default_rng(len(p)).permutation(len(p))
    shuffled = correct([p[i] for i in order], alpha)
    assert shuffled.threshold == decision.threshold
    assert shuffled.rejected == tuple(decision.rejected[i] for i in order)


def test_global_null_false_alarm_rate_is_alpha() -> None:
    """Ten independent uniform p-values: BH flags any with probability alpha (= its FDR bound).

    4,000 families at alpha = 0.05: about 200 flagged (sd 14); Bonferroni about
    1 - (1 - 0.005)**10 = 4.9 %, no correction 1 - 0.95**10 = 40 %.
    """
    rng = np.random.default_rng(20)
    families = rng.uniform(size=(4000, 10)).tolist()
    flagged = {c: sum(correct(p, 0.05, c).n_rejected > 0 for p in families) for c in CORRECTIONS}

    assert 160 <= flagged["bh"] <= 240
    assert 160 <= flagged["bonferroni"] <= 240
    assert flagged["none"] >= 1400
    assert flagged["bh"] >= flagged["bonferroni"]


def test_empty_family() -> None:
    assert correct([], 0.05) == Decision((), 0.0, "bh")
    assert correct([], 0.05, "bonferroni").n_rejected == 0


@pytest.mark.parametrize(
    ("args", "argument"),
    [
        (([0.1, math.nan], 0.05, "bh"), r"p_values\[1\]"),
        (([-0.01], 0.05, "bh"), r"p_values\[0\]"),
        (([1.01], 0.05, "bh"), r"p_values\[0\]"),
        (([True], 0.05, "bh"), r"p_values\[0\]"),
        (("0.1", 0.05, "bh"), "p_values"),
        (([0.1], 0.0, "bh"), "alpha"),
        (([0.1], 1.0, "bh"), "alpha"),
        (([0.1], math.nan, "bh"), "alpha"),
        (([0.1], True, "bh"), "alpha"),
        (([0.1], 0.05, "BH"), "correction"),
        (([0.1], 0.05, "holm"), "correction"),
    ],
)
def test_invalid_arguments_raise_value_error_naming_them(args: tuple[object, ...], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        correct(*args)  # type: ignore[arg-type]


def test_accepts_numpy_p_values() -> None:
    p = np.array([0.001, 0.2, 0.004])
    assert correct(p, np.float64(0.01)).rejected == (True, False, True)  # type: ignore[arg-type]


@given(
    st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), min_size=1, max_size=30),
    st.floats(min_value=1e-6, max_value=0.5),
    st.sampled_from(["bh", "bonferroni", "none"]),
)
def test_alarm_level_is_the_smallest_alpha_that_rejects(p_values: list[float], alpha: float, correction: str) -> None:
    from monitors.drift.multiple_testing import alarm_level

    level = alarm_level(p_values, correction)  # type: ignore[arg-type]
    rejects = any(correct(p_values, alpha, correction).rejected)  # type: ignore[arg-type]
    # Equal up to rounding at the cut-off itself.
    if abs(level - alpha) > 1e-12 * max(1.0, alpha):
        assert rejects == (level <= alpha)
