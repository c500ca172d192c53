"""Training and evaluating the post classifier (`shuoshi train`, `shuoshi eval`, bench/).

Pure numpy: logistic regressions fitted by full-batch gradient descent (Adam) on the sparse
n-gram matrix, calibrated on out-of-fold scores. No scikit-learn, at training or at run time.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from classifier.base import Classifier
from classifier.model import SILENT, LinearModel
from classifier.normalize import grams, normalize, view
from classifier.tags import explicit_tag
from storage.models import KINDS, NOT_MATTER

LABELS = [k.value for k in KINDS] + [NOT_MATTER]
KIND_LABELS = [k.value for k in KINDS]
DEV_PERCENT = 18  # share of each part that the deterministic split keeps for dev

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    weight: float = 1.0
    style: str = ""
    source: str = ""
    writer: str = ""


def read_jsonl(path: Path, source: str = "", writer: str = "") -> list[Example]:
    """{"text", "label"[, "style", "writer"]} lines; blank lines skipped; a bad line raises,
    numbered. `writer` is the writer of rows that do not name one."""
    out = []
    content = path.read_text(encoding="utf-8")
    lines = content.splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            text, label = str(obj["text"]), str(obj["label"])
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines) and not content.endswith("\n"):
                break  # a file still being written: its last line is not complete yet
            raise ValueError(f"{path}:{number}: not a labeled JSON line ({exc})") from exc
        if label not in LABELS:
            raise ValueError(f"{path}:{number}: unknown label {label!r}")
        out.append(
            Example(
                text,
                label,
                style=str(obj.get("style", "")),
                source=source or path.stem,
                writer=str(obj.get("writer") or writer),
            )
        )
    return out


def split_of(text: str) -> str:
    """'dev' or 'train', from a hash of the text: stable across runs, machines and file order."""
    h = int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:4], "big")
    return "dev" if h % 100 < DEV_PERCENT else "train"


# --- sparse matrix ------------------------------------------------------------------------------


@dataclass
class Matrix:
    """Rows of n-gram presence, each row weighted 1/sqrt(its number of distinct n-grams)."""

    indptr: I64
    indices: I64
    data: F64
    n_cols: int
    _row: I64 | None = None

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1

    def rows(self, which: I64) -> Matrix:
        starts, ends = self.indptr[which], self.indptr[which + 1]
        lengths = ends - starts
        take = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends, strict=True)])
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return Matrix(indptr, self.indices[take], self.data[take], self.n_cols)

    def dot(self, w: F64) -> F64:
        """X @ w for w of shape (n_cols, k)."""
        contrib = self.data[:, None] * w[self.indices]
        out = np.zeros((self.n_rows, w.shape[1]))
        nonempty = self.indptr[:-1] < self.indptr[1:]
        out[nonempty] = np.add.reduceat(contrib, self.indptr[:-1][nonempty], axis=0)
        return out

    def tdot(self, g: F64) -> F64:
        """X.T @ g for g of shape (n_rows, k)."""
        if self._row is None:
            self._row = np.repeat(np.arange(self.n_rows), np.diff(self.indptr))
        vals = self.data[:, None] * g[self._row]
        return np.stack(
            [
                np.bincount(self.indices, vals[:, c], minlength=self.n_cols)
                for c in range(g.shape[1])
            ],
            axis=1,
        )


def featurize(texts: Sequence[str], max_n: int, min_n: int = 1) -> list[tuple[set[str], set[str]]]:
    """(n-grams, cues) of each text."""
    out = []
    for t in texts:
        core, found = view(normalize(t))
        out.append((grams(core, max_n, min_n), found))
    return out


def document_frequency(feats: Sequence[tuple[set[str], set[str]]]) -> Counter[str]:
    df: Counter[str] = Counter()
    for g, c in feats:
        df.update(g)
        df.update(c)
    return df


def build_vocab(feats: Sequence[tuple[set[str], set[str]]], min_df: int) -> list[str]:
    df = document_frequency(feats)
    return sorted(g for g, c in df.items() if c >= min_df or len(g) == 1)


def to_matrix(
    feats: Sequence[tuple[set[str], set[str]]], index: dict[str, int], cue_value: float
) -> Matrix:
    """Known n-grams only, each weighted 1/sqrt(the post's number of known n-grams) (as
    `LinearModel.logits`: unknown words of a new style do not dilute the known ones); cues
    weighted `cue_value`."""
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for g, c in feats:
        cols = sorted(index[x] for x in g if x in index)
        indices.extend(cols)
        data.extend([1.0 / math.sqrt(max(1, len(cols)))] * len(cols))
        cue_cols = sorted(index[x] for x in c if x in index)
        indices.extend(cue_cols)
        data.extend([cue_value] * len(cue_cols))
        indptr.append(len(indices))
    return Matrix(
        np.array(indptr, dtype=np.int64),
        np.array(indices, dtype=np.int64),
        np.array(data, dtype=np.float64),
        len(index),
    )


# --- logistic regression --------------------------------------------------------------------------


def _softmax(z: F64) -> F64:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit(
    x: Matrix,
    y: I64,
    n_classes: int,
    *,
    sample_weight: F64 | None = None,
    l2: float | F64 = 1e-3,
    iters: int = 300,
    lr: float = 0.1,
) -> tuple[F64, F64]:
    """Weights (n_cols, k) and bias (k,) of an L2-regularised logistic regression (k = 1 for
    two classes, else softmax over k = n_classes), by full-batch Adam."""
    k = 1 if n_classes == 2 else n_classes
    sw = np.ones(x.n_rows) if sample_weight is None else sample_weight
    sw = sw / sw.sum()
    w = np.zeros((x.n_cols, k))
    b = np.zeros(k)
    if k == 1:
        target = y.astype(np.float64)[:, None]
        p0 = float(np.clip((sw * y).sum(), 1e-6, 1 - 1e-6))
        b[0] = math.log(p0 / (1 - p0))
    else:
        target = np.eye(k)[y]
        prior = np.clip(np.bincount(y, weights=sw, minlength=k), 1e-6, None)
        b = np.log(prior / prior.sum())
    m_w, v_w = np.zeros_like(w), np.zeros_like(w)
    m_b, v_b = np.zeros_like(b), np.zeros_like(b)
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    for t in range(1, iters + 1):
        z = x.dot(w) + b
        p = 1.0 / (1.0 + np.exp(-z)) if k == 1 else _softmax(z)
        g = (p - target) * sw[:, None]
        gw = x.tdot(g) + l2 * w
        gb = g.sum(axis=0)
        m_w = beta1 * m_w + (1 - beta1) * gw
        v_w = beta2 * v_w + (1 - beta2) * gw * gw
        m_b = beta1 * m_b + (1 - beta1) * gb
        v_b = beta2 * v_b + (1 - beta2) * gb * gb
        c1, c2 = 1 - beta1**t, 1 - beta2**t
        w -= lr * (m_w / c1) / (np.sqrt(v_w / c2) + eps)
        b -= lr * (m_b / c1) / (np.sqrt(v_b / c2) + eps)
    return w, b


def fit_platt(scores: F64, y: F64) -> tuple[float, float]:
    """a, b with P = sigmoid(a·score + b) fitted by Newton's method (Platt's smoothed targets)."""
    n_pos, n_neg = float(y.sum()), float(len(y) - y.sum())
    t = np.where(y > 0, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    a, b = 1.0, 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-(a * scores + b)))
        g = np.array([((p - t) * scores).sum(), (p - t).sum()])
        d = p * (1 - p) + 1e-12
        h = np.array(
            [[(d * scores * scores).sum(), (d * scores).sum()], [(d * scores).sum(), d.sum()]]
        )
        step = np.linalg.solve(h + 1e-9 * np.eye(2), g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-9:
            break
    return float(a), float(b)


def fit_temperature(logits: F64, y: I64) -> float:
    """The temperature minimising the out-of-fold negative log-likelihood (grid, then refine)."""

    def nll(temp: float) -> float:
        p = _softmax(logits / temp)
        return float(-np.log(p[np.arange(len(y)), y] + 1e-12).mean())

    grid = np.exp(np.linspace(math.log(0.2), math.log(10), 60))
    best = min(grid, key=nll)
    fine = np.linspace(best * 0.9, best * 1.1, 21)
    return float(min(fine, key=nll))


# --- the whole model ------------------------------------------------------------------------------


@dataclass
class Config:
    max_n: int = 3
    min_n: int = 1
    min_df: int = 2
    cue_value: float = 0.4
    l2_unigram: float = 1.0  # L2 multiplier of single characters (style more than meaning)
    # No L2: the fixed number of Adam steps is the regulariser. Leave-one-writer-out on five
    # writers (macro-F1 at the threshold that registers 5 % of chatter): L2 1e-3 0.71, 1e-4
    # 0.86, 1e-5 0.92, 1e-6 0.94, 0 0.946; 150, 300 or 450 steps the same within 0.001.
    l2_matter: float = 0.0
    l2_kind: float = 0.0
    iters: int = 150
    lr: float = 0.1
    folds: int = 5
    seed: int = 7
    extra: dict[str, object] = field(default_factory=dict)


def usable(examples: Iterable[Example]) -> list[Example]:
    """Training examples: tagged posts are decided by their tag, so their text teaches nothing
    about the words; duplicates keep the last label given (a correction overrides the dataset)."""
    by_text: dict[str, Example] = {}
    for e in examples:
        if explicit_tag(e.text) is None and e.text.strip():
            by_text.pop(e.text, None)
            by_text[e.text] = e
    return list(by_text.values())


def _fit_both(
    x: Matrix, labels: list[str], weights: F64, cfg: Config, l2_scale: F64
) -> tuple[F64, F64, F64, F64]:
    y_matter = np.array([lab != NOT_MATTER for lab in labels], dtype=np.int64)
    wm, bm = fit(
        x,
        y_matter,
        2,
        sample_weight=weights,
        l2=cfg.l2_matter * l2_scale,
        iters=cfg.iters,
        lr=cfg.lr,
    )
    matter_rows = np.flatnonzero(y_matter)
    y_kind = np.array([KIND_LABELS.index(labels[i]) for i in matter_rows], dtype=np.int64)
    wk, bk = fit(
        x.rows(matter_rows),
        y_kind,
        3,
        sample_weight=weights[matter_rows],
        l2=cfg.l2_kind * l2_scale,
        iters=cfg.iters,
        lr=cfg.lr,
    )
    return wm, bm, wk, bk


def train(examples: Sequence[Example], cfg: Config | None = None) -> LinearModel:
    """A calibrated model from labeled examples (at least a few of every label)."""
    cfg = cfg or Config()
    data = usable(examples)
    missing = [lab for lab in LABELS if not any(e.label == lab for e in data)]
    if missing:
        raise ValueError(f"no training examples labeled {'、'.join(missing)}")
    feats = featurize([e.text for e in data], cfg.max_n, cfg.min_n)
    labels = [e.label for e in data]
    weights = np.array([e.weight for e in data], dtype=np.float64)
    vocab = build_vocab(feats, cfg.min_df)
    df_all = document_frequency(feats)
    # Characters the model never reads, kept for duplicate detection's document frequencies.
    norms = [normalize(e.text) for e in data]
    silent = [g for g in SILENT if g not in df_all]
    for g in silent:
        df_all[g] = sum(1 for n in norms if g in n)
    vocab += [g for g in silent if df_all[g]]
    index = {g: i for i, g in enumerate(vocab)}
    x = to_matrix(feats, index, cfg.cue_value)
    l2_scale = np.array([cfg.l2_unigram if len(g) == 1 else 1.0 for g in vocab])[:, None]

    # Out-of-fold scores for calibration: each post scored by a model that never saw it.
    rng = np.random.default_rng(cfg.seed)
    fold = rng.permutation(len(data)) % max(2, min(cfg.folds, len(data)))
    oof_matter = np.zeros(len(data))
    oof_kind = np.zeros((len(data), 3))
    for f in range(int(fold.max()) + 1):
        tr, te = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        sub_labels = [labels[i] for i in tr]
        if len(set(sub_labels)) < len(LABELS):
            continue
        wm, bm, wk, bk = _fit_both(x.rows(tr), sub_labels, weights[tr], cfg, l2_scale)
        xt = x.rows(te)
        oof_matter[te] = (xt.dot(wm) + bm)[:, 0]
        oof_kind[te] = xt.dot(wk) + bk
    y_matter = np.array([lab != NOT_MATTER for lab in labels], dtype=np.float64)
    platt = fit_platt(oof_matter, y_matter)
    is_matter = np.flatnonzero(y_matter)
    y_kind = np.array([KIND_LABELS.index(labels[i]) for i in is_matter], dtype=np.int64)
    temperature = fit_temperature(oof_kind[is_matter], y_kind)

    wm, bm, wk, bk = _fit_both(x, labels, weights, cfg, l2_scale)
    weights_all = np.concatenate([wm, wk], axis=1).astype(np.float32)
    bias = np.concatenate([bm, bk]).astype(np.float32)
    meta = {
        "trained": datetime.now(UTC).isoformat(timespec="seconds"),
        "examples": len(data),
        "per_label": dict(Counter(labels)),
        "per_source": dict(Counter(e.source for e in data)),
        "per_writer": dict(Counter(e.writer for e in data)),
        "config": {k: v for k, v in cfg.__dict__.items() if k != "extra"} | dict(cfg.extra),
    }
    return LinearModel(
        vocab,
        weights_all,
        bias,
        KIND_LABELS,
        max_n=cfg.max_n,
        min_n=cfg.min_n,
        cue_value=cfg.cue_value,
        platt=platt,
        temperature=temperature,
        meta=meta,
        df=np.array([df_all[g] for g in vocab], dtype=np.int32),
    )


# --- evaluation -------------------------------------------------------------------------------


@dataclass
class Report:
    labels: list[str]
    confusion: list[list[int]]  # [gold][predicted]
    matter_recall: float  # of gold matters, share predicted as a matter (any kind)
    matter_precision: float
    n: int

    def prf(self, label: str) -> tuple[float, float, float, int]:
        i = self.labels.index(label)
        tp = self.confusion[i][i]
        gold = sum(self.confusion[i])
        pred = sum(row[i] for row in self.confusion)
        p = tp / pred if pred else 0.0
        r = tp / gold if gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f, gold

    @property
    def macro_f1(self) -> float:
        present = [lab for lab in self.labels if self.prf(lab)[3] > 0]
        return sum(self.prf(lab)[2] for lab in present) / max(1, len(present))

    @property
    def accuracy(self) -> float:
        return sum(self.confusion[i][i] for i in range(len(self.labels))) / max(1, self.n)

    def text(self) -> str:
        lines = [f"{'label':<6} {'P':>6} {'R':>6} {'F1':>6} {'n':>5}"]
        for lab in self.labels:
            p, r, f, n = self.prf(lab)
            lines.append(f"{lab:<6} {p:6.3f} {r:6.3f} {f:6.3f} {n:5d}")
        lines.append(f"macro-F1 {self.macro_f1:.3f}  accuracy {self.accuracy:.3f}  n={self.n}")
        lines.append(
            f"matter: recall {self.matter_recall:.3f}  precision {self.matter_precision:.3f}"
        )
        lines.append("confusion (rows gold, columns predicted):")
        lines.append("        " + " ".join(f"{lab:>5}" for lab in self.labels))
        for lab, row in zip(self.labels, self.confusion, strict=True):
            lines.append(f"{lab:<6}  " + " ".join(f"{v:6d}" for v in row))
        return "\n".join(lines)


def evaluate(
    classifier: Classifier, examples: Sequence[Example], *, threshold: float | None = None
) -> Report:
    """Per-label figures. With `threshold`, a post counts as a matter only when P(matter) ≥ it
    (what the group sees at MATTER_THRESHOLD); without, the classifier's own label."""
    confusion = [[0] * len(LABELS) for _ in LABELS]
    for e in examples:
        p = classifier.predict(e.text)
        label = p.label
        if threshold is not None:
            label = p.kind if p.matter >= threshold else NOT_MATTER
            if p.label != NOT_MATTER and p.matter >= threshold:
                label = p.label
        confusion[LABELS.index(e.label)][LABELS.index(label)] += 1
    m = LABELS.index(NOT_MATTER)
    gold_matter = sum(sum(row) for i, row in enumerate(confusion) if i != m)
    pred_matter = sum(row[j] for row in confusion for j in range(len(LABELS)) if j != m)
    both = sum(
        confusion[i][j] for i in range(len(LABELS)) for j in range(len(LABELS)) if i != m and j != m
    )
    return Report(
        LABELS,
        confusion,
        both / gold_matter if gold_matter else 0.0,
        both / pred_matter if pred_matter else 0.0,
        len(examples),
    )


# --- the project's dataset and a deployment's corrections --------------------------------------

REPO_POSTS = Path(__file__).resolve().parent.parent / "data" / "posts"
EVAL_ONLY = ("heldout",)  # files that are never trained on
WRITERS_DIR = "writers"  # one file per writer, each row naming its writer
FROZEN_DIR = "frozen"  # the frozen test set: never trained on, never read here
PART_WRITERS = {"part1": "A", "part2": "B", "part3": "C"}  # the first three writers' files


def training_files(posts_dir: Path = REPO_POSTS) -> list[Path]:
    """The training files present now: every *.jsonl of `posts_dir` but heldout.jsonl, and
    every writers/*.jsonl (files still being written are taken as they are); never frozen/."""
    top = sorted(p for p in posts_dir.glob("*.jsonl") if p.stem not in EVAL_ONLY)
    return top + sorted((posts_dir / WRITERS_DIR).glob("*.jsonl"))


def dataset(posts_dir: Path = REPO_POSTS) -> list[Example]:
    """Every training file of the dataset (see `training_files`), each post with its writer:
    the row's own, else A/B/C for part1–3, else the file's name."""
    files = training_files(posts_dir)
    if not files:
        raise FileNotFoundError(f"no labeled posts (*.jsonl) in {posts_dir}")
    return [e for f in files for e in read_jsonl(f, writer=PART_WRITERS.get(f.stem, f.stem))]


def with_corrections(
    base: Sequence[Example], corrections: Iterable[tuple[str, str, str]], weight: float
) -> list[Example]:
    """The dataset followed by the deployment's corrections (later examples win in `usable`)."""
    extra = [
        Example(t, lab, weight=weight, source=f"correction:{src}") for t, lab, src in corrections
    ]
    return [*base, *extra]


def main(argv: Sequence[str] | None = None) -> int:
    """Retrain the shipped model (classifier/model_data/model.npz) on every training file present:
    `.venv/bin/python -m classifier.training [--posts DIR] [--out FILE]`."""
    import argparse

    from classifier.model import SHIPPED

    ap = argparse.ArgumentParser(prog="python -m classifier.training", description=main.__doc__)
    ap.add_argument("--posts", type=Path, default=REPO_POSTS)
    ap.add_argument("--out", type=Path, default=SHIPPED)
    args = ap.parse_args(argv)
    data = dataset(args.posts)
    model = train(data)
    model.save(args.out)
    writers = Counter(e.writer for e in data)
    print(
        f"trained on {model.meta['examples']} posts by {len(writers)} writers "
        f"({', '.join(f'{w} {n}' for w, n in sorted(writers.items()))}) → {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
