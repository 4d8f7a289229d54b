"""One calibrated decision: the probability that an answer is right, and the threshold for a stated risk.

The signals of one answer (`Signals`) become a few numbers (`features`); a logistic regression fitted
on a calibration split turns them into P(right). The threshold is not hand-set: for `max_risk` (the
share of wrong answers among those given) it is the lowest probability at which the calibration
answers at or above it were wrong at most that often.

Two models are fitted: `before` reads only what is known before generating (the gate's scores of the
passages), so a question nobody could answer is declined in milliseconds; `after` adds the generator's
own signals and the gate's reading of the passage the answer cites.

    >>> c = Calibrator.fit([[0.0], [1.0], [2.0], [3.0]] * 5, [0, 0, 1, 1] * 5, names=("x",))
    >>> round(c.probability([3.0]), 2) > round(c.probability([0.0]), 2)
    True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np


@dataclass
class Signals:
    """What the decision reads about one answer (kept on `Answer.signals` for the API and the eval)."""

    gate: list[float] = field(default_factory=list)  # the gate's probability for each passage shown, in order
    relevance: float = 0.0  # retrieval's own score of its best passage, 0..1
    cited_gate: float = 0.0  # the gate's probability for the passage(s) the answer cites (0: none cited)
    span_agree: float = 0.0  # token F1 of the answer with the gate's own answer span in the cited passage
    refusal_prob: float = -1.0  # the generator's P(NOT FOUND) as its first token (-1: unknown)
    answer_logprob: float = 0.0  # mean log-probability of the written tokens (0: unknown)
    verified: bool = False  # the answer's citations check out against the passages (rag/grounding/verify.py)
    rescued: bool = False  # the answer came from the second look

    def to_dict(self) -> dict:
        return asdict(self)


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


BEFORE = ("gate_top", "gate_margin", "relevance")
AFTER = BEFORE + ("cited_gate", "span_agree", "refusal", "logprob", "rescued")


def features(s: Signals, names: Sequence[str]) -> list[float]:
    """The numbers a model reads, by name (logits for probabilities)."""
    ranked = sorted(s.gate, reverse=True) + [0.0, 0.0]
    values = {
        "gate_top": _logit(ranked[0]),
        "gate_margin": _logit(ranked[0]) - _logit(ranked[1]),
        "relevance": s.relevance,
        "cited_gate": _logit(s.cited_gate) if s.cited_gate > 0 else _logit(1e-4),
        "span_agree": s.span_agree,
        "refusal": s.refusal_prob if s.refusal_prob >= 0 else 0.5,
        "logprob": max(s.answer_logprob, -5.0),
        "verified": float(s.verified),
        "rescued": float(s.rescued),
    }
    return [values[n] for n in names]


@dataclass
class Calibrator:
    """A logistic regression over named features, with the calibration points it was fitted on (for
    thresholds by risk)."""

    names: tuple[str, ...]
    coef: list[float]
    intercept: float
    mean: list[float]
    scale: list[float]
    points: list[tuple[float, int]] = field(default_factory=list)  # (probability, right) on calibration data

    def probability(self, x: Sequence[float]) -> float:
        z = (np.asarray(x, float) - self.mean) / self.scale
        return float(1 / (1 + np.exp(-(z @ np.asarray(self.coef) + self.intercept))))

    def threshold(self, max_risk: float) -> float:
        """The lowest probability whose calibration answers at or above it were wrong at most
        `max_risk` of the time."""
        return _risk_threshold(self.points, max_risk)

    @classmethod
    def fit(cls, X: Sequence[Sequence[float]], y: Sequence[int], names: Sequence[str],
            l2: float = 1.0, iterations: int = 50) -> "Calibrator":
        """Logistic regression by Newton's method with an L2 penalty (on standardised features)."""
        X = np.asarray(X, float)
        y = np.asarray(y, float)
        mean, scale = X.mean(0), X.std(0)
        scale[scale < 1e-9] = 1.0
        Z = np.hstack([(X - mean) / scale, np.ones((len(X), 1))])
        w = np.zeros(Z.shape[1])
        penalty = np.eye(Z.shape[1]) * l2
        penalty[-1, -1] = 0.0  # no penalty on the intercept
        for _ in range(iterations):
            p = 1 / (1 + np.exp(-Z @ w))
            grad = Z.T @ (p - y) + penalty @ w
            hess = (Z * (p * (1 - p))[:, None]).T @ Z + penalty
            step = np.linalg.solve(hess, grad)
            w -= step
            if np.abs(step).max() < 1e-8:
                break
        c = cls(tuple(names), w[:-1].tolist(), float(w[-1]), mean.tolist(), scale.tolist())
        c.points = [(round(c.probability(x), 6), int(t)) for x, t in zip(X, y)]
        return c

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Calibrator":
        return cls(tuple(d["names"]), d["coef"], d["intercept"], d["mean"], d["scale"],
                   [tuple(p) for p in d.get("points", [])])


@dataclass
class Decision:
    """The two calibrated models and the calibration questions they were fitted on
    (rag/gate/weights/calibration.json): for each, (p_before, p_after, right), p_after = -1 when the
    pipeline had nothing to give (the model declined and the second look found nothing)."""

    before: Calibrator
    after: Calibrator
    rows: list[tuple[float, float, int]] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def p_before(self, s: Signals) -> float:
        return self.before.probability(features(s, self.before.names))

    def p_after(self, s: Signals) -> float:
        return self.after.probability(features(s, self.after.names))

    def thresholds(self, max_risk: float, early_loss: float) -> tuple[float, float]:
        """(t_early, t_after). t_after: answer when p_after >= it, the lowest value keeping the share of
        wrong answers among the calibration questions answered at most `max_risk`. t_early: decline
        before generating when p_before < it, the highest value that loses at most `early_loss` of the
        right answers the full decision gives on the calibration questions (0: never decline early)."""
        t_after = _risk_threshold([(pa, r) for _, pa, r in self.rows if pa >= 0], max_risk)
        kept = sorted(pb for pb, pa, r in self.rows if pa >= t_after and r)
        if early_loss <= 0 or not kept:
            return 0.0, float(t_after)
        k = int(early_loss * len(kept))  # this many right answers may be lost
        return float((kept[k] if k < len(kept) else 1.0) if k else kept[0] * 0.999), float(t_after)

    def to_dict(self) -> dict:
        return {"before": self.before.to_dict(), "after": self.after.to_dict(), "rows": self.rows, "meta": self.meta}

    @classmethod
    def from_dict(cls, d: dict) -> "Decision":
        return cls(Calibrator.from_dict(d["before"]), Calibrator.from_dict(d["after"]),
                   [tuple(r) for r in d.get("rows", [])], d.get("meta", {}))


def _risk_threshold(points: list[tuple[float, int]], max_risk: float) -> float:
    """The lowest probability t such that the points with probability >= t were wrong at most
    `max_risk` of the time; just above the highest point when none is (nothing is answered).

    >>> _risk_threshold([(0.9, 1), (0.8, 1), (0.7, 0), (0.6, 1)], 0.25)
    0.6
    >>> _risk_threshold([(0.9, 1), (0.8, 1), (0.7, 0), (0.6, 0)], 0.25)
    0.8
    """
    if max_risk >= 1.0:
        return 0.0
    pts = sorted(points, key=lambda p: -p[0])
    best, wrong = (pts[0][0] + 1e-6) if pts else 1.0, 0
    for i, (prob, right) in enumerate(pts, 1):
        wrong += 1 - right
        if wrong / i <= max_risk and (i == len(pts) or pts[i][0] < prob):
            best = prob
    return float(best)


def risk_coverage(confidences: Sequence[float], right: Sequence[int], total: int | None = None) -> dict:
    """The risk-coverage curve of answering the most confident first: coverage (share answered) and
    risk (share of the answered that are wrong) at each cut; its area (AURC: lower is better) and
    the coverage at 5% and 10% risk (the largest coverage whose risk is at most that). `total` counts
    the questions that have no answer to give at all (they are never covered), default none.

    >>> r = risk_coverage([0.9, 0.8, 0.7, 0.1], [1, 1, 0, 0])
    >>> r["coverage"], r["risk"], r["coverage@5%"]
    ([0.25, 0.5, 0.75, 1.0], [0.0, 0.0, 0.333, 0.5], 0.5)
    """
    order = np.argsort(-np.asarray(confidences, float), kind="stable")
    r = np.asarray(right, float)[order]
    n = len(r)
    if n == 0:
        return {"coverage": [], "risk": [], "aurc": 0.0, "coverage@5%": 0.0, "coverage@10%": 0.0}
    wrong = np.cumsum(1 - r)
    k = np.arange(1, n + 1)
    risk = wrong / k
    coverage = k / max(total or n, n)
    out = {"coverage": [round(float(c), 3) for c in coverage], "risk": [round(float(x), 3) for x in risk],
           "aurc": round(float(risk.mean()), 4)}
    for target in (0.05, 0.10):
        ok = np.nonzero(risk <= target + 1e-12)[0]
        out[f"coverage@{int(target * 100)}%"] = round(float(coverage[ok.max()]), 3) if len(ok) else 0.0
    return out
