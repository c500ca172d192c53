"""The shipped post classifier: character n-grams + two calibrated linear models, pure numpy.

Two decisions (see ../docs/dataset.md and ../../shared/docs/taxonomy.md):
- is the post a matter: binary logistic regression, Platt-calibrated on out-of-fold scores;
- which kind (村里事 / 邻里事 / 户里事): 3-class logistic regression trained on matters only,
  temperature-calibrated.
An explicit tag (#邻里事 …, 【户里事】…) wins over both.

The model file (`model.npz`, written by `classifier.training`) holds the n-gram vocabulary, one
weight row per n-gram ([matter, kind₁, kind₂, kind₃]), biases and calibration. A deployment's
retrained model in `data_dir/model.npz` is preferred over the one that ships in
`classifier/model_data/`; `ReloadingClassifier` picks a new file up without a restart.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from classifier.base import Classifier, Prediction
from classifier.normalize import NEUTRAL, normalize, view
from classifier.tags import explicit_tag
from storage.models import NOT_MATTER

log = logging.getLogger(__name__)

SHIPPED = Path(__file__).parent / "model_data" / "model.npz"
MODEL_NAME = "model.npz"
FORMAT = 2  # 2: features of `normalize.view` (no length bucket, emoji and wrapping removed)
SILENT = (NEUTRAL, "☺", "◎")  # in the vocabulary for their document frequency only
RELOAD_EVERY = 30.0  # seconds between checks of the model file's mtime
LABEL_AT = 0.5  # P(matter) from which the label is a kind rather than 非事项


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


class LinearModel:
    """One loaded model file. Thread-safe (read-only after loading)."""

    def __init__(
        self,
        vocab: list[str],
        weights: npt.NDArray[np.floating[Any]],
        bias: npt.NDArray[np.floating[Any]],
        kinds: list[str],
        *,
        max_n: int = 3,
        min_n: int = 1,
        cue_value: float = 0.3,
        platt: tuple[float, float] = (1.0, 0.0),
        temperature: float = 1.0,
        meta: dict[str, Any] | None = None,
        df: npt.NDArray[np.int32] | None = None,
    ) -> None:
        if weights.shape != (len(vocab), 1 + len(kinds)):
            raise ValueError(f"weights {weights.shape} do not fit {len(vocab)} n-grams")
        self.index = {g: i for i, g in enumerate(vocab)}
        # Rows kept for duplicate detection's document frequencies only (no weight, no feature).
        self._silent = {self.index[g] for g in SILENT if g in self.index}
        self.vocab = vocab
        self.weights = np.ascontiguousarray(weights, dtype=np.float64)
        self.bias = np.asarray(bias, dtype=np.float64)
        self.kinds = kinds
        self.max_n = max_n
        self.min_n = min_n
        self.cue_value = cue_value
        self.platt = platt
        self.temperature = temperature
        self.meta = meta or {}
        # Document frequency of each n-gram in the training posts (duplicate detection's IDF).
        self.df_counts = df if df is not None else np.zeros(len(vocab), dtype=np.int32)
        self.n_docs = int(self.meta.get("examples", 0)) if df is not None else 0
        self._df: dict[str, int] | None = None

    @property
    def df(self) -> dict[str, int]:
        if self._df is None:
            self._df = dict(zip(self.vocab, self.df_counts.tolist(), strict=True))
        return self._df

    # -- file ---------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write atomically (a reloading bot never reads half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            format=np.array(FORMAT),
            vocab=np.array(self.vocab),
            weights=self.weights.astype(np.float16),
            bias=self.bias.astype(np.float32),
            kinds=np.array(self.kinds),
            max_n=np.array(self.max_n),
            min_n=np.array(self.min_n),
            cue_value=np.array(self.cue_value),
            platt=np.array(self.platt, dtype=np.float64),
            temperature=np.array(self.temperature, dtype=np.float64),
            meta=np.array(json.dumps(self.meta, ensure_ascii=False)),
            df=self.df_counts.astype(np.int32),
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != FORMAT:
                raise ValueError(f"{path}: model format {int(z['format'])}, expected {FORMAT}")
            platt = z["platt"].tolist()
            return cls(
                z["vocab"].tolist(),
                z["weights"].astype(np.float32),
                z["bias"],
                z["kinds"].tolist(),
                max_n=int(z["max_n"]),
                min_n=int(z["min_n"]),
                cue_value=float(z["cue_value"]),
                platt=(float(platt[0]), float(platt[1])),
                temperature=float(z["temperature"]),
                meta=json.loads(str(z["meta"])),
                df=z["df"] if "df" in z.files else None,
            )

    # -- inference ----------------------------------------------------------------------------
    def logits(self, text: str) -> list[float]:
        """Raw scores [matter, kind₁, kind₂, kind₃] of one post."""
        core, feats = view(normalize(text))
        get = self.index.get
        rows = self._rows(core)
        found = [i for i in map(get, feats) if i is not None]
        z = self.bias
        if rows:
            take = np.fromiter(rows, dtype=np.intp, count=len(rows))
            z = z + self.weights.take(take, axis=0).sum(axis=0) * (1.0 / math.sqrt(len(rows)))
        if found:
            z = z + self.weights.take(found, axis=0).sum(axis=0) * self.cue_value
        return [float(v) for v in z]

    def _rows(self, core: str) -> set[int]:
        """The vocabulary rows of `grams(core)`, without building the strings' set first."""
        get = self.index.get
        rows: set[int | None] = set()
        if core:
            for piece in core.split(" "):
                for n in range(self.min_n, self.max_n + 1):
                    if n == 1:
                        rows.update(map(get, piece))
                    else:
                        rows.update(map(get, [piece[i : i + n] for i in range(len(piece) - n + 1)]))
            rows.add(get("\x02" + core[: self.max_n - 1]))
            rows.add(get(core[1 - self.max_n :] + "\x03"))
            rows.discard(None)
            rows -= self._silent  # type: ignore[arg-type]
        return rows  # type: ignore[return-value]

    def predict(self, text: str) -> Prediction:
        tag = explicit_tag(text)
        if tag is not None:
            return Prediction(tag, 1.0, 1.0, tag, 1.0)
        z = self.logits(text)
        a, b = self.platt
        matter = _sigmoid(a * z[0] + b)
        k = [v / self.temperature for v in z[1:]]
        top = max(k)
        e = [math.exp(v - top) for v in k]
        total = sum(e)
        best = max(range(len(e)), key=e.__getitem__)
        kind, kind_conf = self.kinds[best], e[best] / total
        if matter >= LABEL_AT:
            return Prediction(kind, matter * kind_conf, matter, kind, kind_conf)
        return Prediction(NOT_MATTER, 1.0 - matter, matter, kind, kind_conf)


class ReloadingClassifier:
    """Serves the newest model file among `paths` (first existing wins) and reloads it when its
    modification time changes, checked at most every `every` seconds."""

    def __init__(self, paths: list[Path], every: float = RELOAD_EVERY) -> None:
        self.paths = paths
        self.every = every
        self._lock = threading.Lock()
        self._model: LinearModel | None = None
        self._source: tuple[Path, float] | None = None
        self._checked = -math.inf
        self.check(force=True)

    @property
    def model(self) -> LinearModel | None:
        return self._model

    @property
    def source(self) -> Path | None:
        return self._source[0] if self._source else None

    def _current(self) -> tuple[Path, float] | None:
        for p in self.paths:
            try:
                return p, p.stat().st_mtime
            except OSError:
                continue
        return None

    def check(self, force: bool = False) -> bool:
        """Reload when the preferred file changed; True when a new model was loaded."""
        now = time.monotonic()
        if not force and now - self._checked < self.every:
            return False
        with self._lock:
            self._checked = now
            current = self._current()
            if current is None or current == self._source:
                return False
            try:
                model = LinearModel.load(current[0])
            except Exception:  # a broken file must not stop the bot: keep serving the old one
                log.exception("could not load model %s; keeping the previous one", current[0])
                return False
            self._model, self._source = model, current
            log.info("classifier model loaded from %s (%s)", current[0], model.meta.get("trained"))
            return True

    def predict(self, text: str) -> Prediction:
        self.check()
        model = self._model
        if model is None:
            raise RuntimeError("no classifier model loaded")
        return model.predict(text)


def model_paths(data_dir: Path | None = None) -> list[Path]:
    """Where models are looked for, preferred first: the deployment's, then the shipped one."""
    return ([data_dir / MODEL_NAME] if data_dir is not None else []) + [SHIPPED]


def load_default(data_dir: Path | None = None, every: float = RELOAD_EVERY) -> Classifier | None:
    """The deployment's retrained model (data_dir/model.npz) or the shipped one, reloading;
    None when neither exists or loads."""
    clf = ReloadingClassifier(model_paths(data_dir), every=every)
    return clf if clf.model is not None else None
