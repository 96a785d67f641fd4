"""The prediction log: one JSON line per answered image, rotated, and its summary.

Each worker process writes its own file, `predictions-<pid>.jsonl` (rotated to `.1`, `.2`
… by size), so processes never interleave or rotate each other's lines. `summarise`
reads every file of a log folder.

A line holds the request id, time, route, which model answered (version and role), the
class, confidence, whether it was uncertain, the latency and, in shadow mode, the other
model's answer under `shadow`. Image bytes are kept only when asked for
(`--log-images`): then they go to `images/<request id>` beside the log and the line names
the file.
"""

import json
import logging
import os
import statistics
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from apparel_classifier.errors import UserError
from apparel_classifier.fileio import atomic_path

LOG_GLOB = "predictions-*.jsonl*"


@dataclass(frozen=True)
class Answer:
    """One model's answer to one image, as logged."""

    version: str
    role: str  # "prod" or "candidate"
    category: str
    confidence: float
    uncertain: bool
    latency_ms: float


# What `summarise` reads from each line (and from its `shadow`); other keys are left alone.
_ANSWER = TypeAdapter(Answer)


def prepare_folder(folder: Path) -> None:
    """Create the log folder (and its parents); UserError when it cannot hold the log."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(
            f"--log-dir {folder} is a file, not a folder: name a folder for the prediction log"
        ) from None
    except OSError as err:
        raise UserError(
            f"--log-dir {folder}: cannot create the prediction log folder ({err.strerror}); "
            "name a folder you can write to"
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"--log-dir {folder} is not writable: name a folder you can write to")


class PredictionLog:
    """Appends JSON lines to this process's rotating log file in `folder`."""

    def __init__(
        self, folder: Path, max_bytes: int, backups: int, keep_images: bool = False
    ) -> None:
        prepare_folder(folder)
        self.folder = folder
        self.keep_images = keep_images
        self.path = folder / f"predictions-{os.getpid()}.jsonl"
        # The logging module's rotation, on a private logger: not propagated to the root
        # logger, so the lines never reach the console.
        self._logger = logging.getLogger(f"{__name__}.{os.getpid()}.{id(self)}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        self._handler = RotatingFileHandler(
            self.path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        self._logger.addHandler(self._handler)

    def write(
        self,
        request_id: str,
        route: str,
        answer: Answer,
        shadow: Answer | None = None,
        image: bytes | None = None,
    ) -> None:
        """Log one answered image (and, in shadow mode, the other model's answer)."""
        entry: dict[str, Any] = {
            "request_id": request_id,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "route": route,
            **asdict(answer),
        }
        if shadow is not None:
            entry["shadow"] = asdict(shadow)
        if image is not None and self.keep_images:
            stored = self.folder / "images" / request_id
            stored.parent.mkdir(exist_ok=True)
            with atomic_path(stored) as tmp:
                tmp.write_bytes(image)
            entry["image"] = stored.relative_to(self.folder).as_posix()
        self._logger.info(json.dumps(entry, separators=(",", ":")))

    def close(self) -> None:
        """Flush and close the file."""
        self._logger.removeHandler(self._handler)
        self._handler.close()


def read_entries(folder: Path) -> list[dict[str, Any]]:
    """Every line of every log file in `folder` (rotated ones included), oldest file first.

    A last line cut short (a process killed mid-write: no newline at its end) is skipped;
    any other line that is not a logged answer raises UserError naming its file and line.
    """
    entries = []
    for path in sorted(folder.glob(LOG_GLOB), key=lambda p: p.stat().st_mtime):
        try:
            data = path.read_bytes()
        except OSError as err:
            raise UserError(f"cannot read the prediction log {path}: {err.strerror}") from None
        lines = data.split(b"\n")
        # Lines end with a newline: after the split the last piece is empty, unless cut short.
        for number, line in enumerate(lines[:-1], start=1):
            if line.strip():  # a blank line (an editor's) holds nothing to misread
                entries.append(_entry(path, number, line))
        if lines[-1]:
            try:
                entries.append(_entry(path, len(lines), lines[-1]))
            except UserError:
                continue  # cut short by a process killed mid-write
    return entries


def _entry(path: Path, number: int, line: bytes) -> dict[str, Any]:
    """One log line, checked to hold a logged answer (and a shadow answer, if any)."""
    try:
        entry = json.loads(line.decode("utf-8"))
        if not isinstance(entry, dict):
            raise ValueError(f"a JSON {type(entry).__name__}, not an object")
        _ANSWER.validate_python(entry)
        if entry.get("shadow") is not None:
            _ANSWER.validate_python(entry["shadow"])
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the line"
        raise UserError(_not_a_log_line(path, number, f"{where}: {first['msg']}")) from None
    except ValueError as err:  # not UTF-8, not JSON, not an object
        raise UserError(_not_a_log_line(path, number, str(err))) from None
    return entry


def _not_a_log_line(path: Path, number: int, reason: str) -> str:
    return (
        f"{path}, line {number}, is not a prediction log line ({reason}); move files that the "
        f"server did not write out of {path.parent}"
    )


@dataclass(frozen=True)
class ModelSummary:
    """How one model version answered: volume, classes, confidence and latency."""

    version: str
    mode: str  # "answered" (returned to clients) or "shadow" (logged only)
    requests: int
    classes: dict[str, float]  # category -> share of this model's answers
    mean_confidence: float
    uncertain_share: float
    latency_p50_ms: float
    latency_p99_ms: float


@dataclass(frozen=True)
class Agreement:
    """Shadow mode: how often the answering model and the shadow model named the same class."""

    answered_by: str
    shadow: str
    pairs: int
    agreement: float


@dataclass(frozen=True)
class LogSummary:
    """The `compare-log` report."""

    entries: int
    models: list[ModelSummary]
    agreement: list[Agreement]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return asdict(self)


def summarise(entries: list[dict[str, Any]]) -> LogSummary:
    """Per model version (answered and shadow apart): classes, confidence, latency; agreement."""
    answers: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    pairs: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for entry in entries:
        answers[entry["version"], "answered"].append(entry)
        if shadow := entry.get("shadow"):
            answers[shadow["version"], "shadow"].append(shadow)
            same = shadow["category"] == entry["category"]
            pairs[entry["version"], shadow["version"]].append(same)
    models = [
        _model_summary(version, mode, rows) for (version, mode), rows in sorted(answers.items())
    ]
    agreement = [
        Agreement(answered, shadow, len(same), sum(same) / len(same))
        for (answered, shadow), same in sorted(pairs.items())
    ]
    return LogSummary(len(entries), models, agreement)


def _model_summary(version: str, mode: str, rows: list[dict[str, Any]]) -> ModelSummary:
    counts = Counter(r["category"] for r in rows)
    latencies = [float(r["latency_ms"]) for r in rows]
    return ModelSummary(
        version=version,
        mode=mode,
        requests=len(rows),
        classes={c: n / len(rows) for c, n in counts.most_common()},
        mean_confidence=statistics.fmean(float(r["confidence"]) for r in rows),
        uncertain_share=sum(bool(r["uncertain"]) for r in rows) / len(rows),
        latency_p50_ms=statistics.median(latencies),
        latency_p99_ms=_percentile(latencies, 99),
    )


def _percentile(values: list[float], q: int) -> float:
    """The q-th percentile (nearest rank), defined for a single value too."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def format_summary(summary: LogSummary) -> str:
    """The report as aligned text: one block per model, then the agreement."""
    lines = [f"{summary.entries} logged answers"]
    for m in summary.models:
        top = ", ".join(f"{c} {s:.0%}" for c, s in list(m.classes.items())[:5])
        lines += [
            f"\n{m.version} ({m.mode}): {m.requests} answers",
            f"  confidence: mean {m.mean_confidence:.3f}, uncertain {m.uncertain_share:.1%}",
            f"  latency: p50 {m.latency_p50_ms:.2f} ms, p99 {m.latency_p99_ms:.2f} ms",
            f"  classes: {top}",
        ]
    for a in summary.agreement:
        lines.append(
            f"\nagreement, {a.answered_by} answering with {a.shadow} in shadow: "
            f"{a.agreement:.1%} of {a.pairs} answers"
        )
    if not summary.agreement:
        lines.append("\nno shadow answers logged: run the server with --shadow to compare models")
    return "\n".join(lines)
