"""A fit's whole state as tensors and JSON, and back: what a checkpoint holds.

Tensors (safetensors): the model, the optimizer's per-parameter state, the EMA weights, the best
epoch's weights, torch's random state (CUDA's too, on a GPU). JSON: the optimizer's settings, the
learning-rate schedule, the position in the fit (epoch, step, loss so far, early-stopping count),
the best epoch's score, report and thresholds, the history, and the NumPy and Python random states.
The data order of an epoch is drawn from the generator's state at the epoch's start, which is saved,
so a resumed epoch draws the same order and skips the batches already trained.
"""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Any

import numpy as np
import torch

from textcnn.training.trainer import EpochRecord, FitResult, Position, _Best, _Step

FORMAT = 1


def _prefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {prefix + name: tensor for name, tensor in tensors.items()}


def _under(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {name[len(prefix) :]: tensor for name, tensor in tensors.items() if name.startswith(prefix)}


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def _float(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def records_to_json(records: list[EpochRecord]) -> list[dict[str, Any]]:
    """The epoch records as JSON objects (NaN as null)."""
    rows = []
    for record in records:
        row = dataclasses.asdict(record)
        rows.append({key: _number(value) if isinstance(value, float) else value for key, value in row.items()})
    return rows


def records_from_json(rows: list[dict[str, Any]]) -> list[EpochRecord]:
    floats = {f.name for f in dataclasses.fields(EpochRecord) if f.type == "float"}
    return [EpochRecord(**{key: _float(value) if key in floats else value for key, value in row.items()}) for row in rows]


def _thresholds(values: list[float] | None) -> np.ndarray | None:
    return None if values is None else np.array(values, dtype=np.float64)


def fit_to_json(fit: FitResult) -> dict[str, Any]:
    """A finished fit as JSON (its weights are saved as tensors beside it)."""
    return {
        "best_epoch": fit.best_epoch,
        "best_score": _number(fit.best_score),
        "history": records_to_json(fit.history),
        "stopped_early": fit.stopped_early,
        "seconds": fit.seconds,
        "best_report": fit.best_report,
        "thresholds": fit.thresholds.tolist() if fit.thresholds is not None else None,
    }


def fit_from_json(data: dict[str, Any]) -> FitResult:
    return FitResult(
        data["best_epoch"], _float(data["best_score"]), records_from_json(data["history"]), data["stopped_early"],
        data["seconds"], data["best_report"], _thresholds(data["thresholds"]),
    )  # fmt: skip


def random_states() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Torch's (and CUDA's) random state as tensors; NumPy's global one and Python's as JSON."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors.update({f"rng.cuda.{index}": state for index, state in enumerate(torch.cuda.get_rng_state_all())})
    numpy_state = np.random.get_state(legacy=False)
    numpy_state["state"] = {**numpy_state["state"], "key": numpy_state["state"]["key"].tolist()}
    version, internal, gauss = random.getstate()
    return tensors, {"numpy": numpy_state, "python": [version, list(internal), gauss]}


def set_random_states(tensors: dict[str, torch.Tensor], states: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[name] for name in sorted(name for name in tensors if name.startswith("rng.cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    numpy_state = dict(states["numpy"])
    numpy_state["state"] = {**numpy_state["state"], "key": np.array(numpy_state["state"]["key"], dtype=np.uint32)}
    np.random.set_state(numpy_state)
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


def _optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors, values = {}, {}
    for param, entries in state["state"].items():
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer.{param}.{name}"] = value
            else:
                values.setdefault(str(param), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "values": values}


def _load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], saved: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in _under("optimizer.", tensors).items():
        param, _, key = name.partition(".")
        state.setdefault(int(param), {})[key] = tensor
    for param, entries in saved["values"].items():
        state.setdefault(int(param), {}).update(entries)
    groups = [{**group, **({"betas": tuple(group["betas"])} if "betas" in group else {})} for group in saved["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def capture(step: _Step, at: Position, rng: np.random.Generator) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Everything a fit needs to go on from ``at``: (tensors, JSON-able state).

    ``rng`` draws the data order: at an epoch's start its state now is saved, inside an epoch the
    state it had when the epoch began.
    """
    optimizer_tensors, optimizer = _optimizer_state(step.optimizer)
    rng_tensors, states = random_states()
    tensors = {**_prefixed("model.", step.model.state_dict()), **optimizer_tensors, **rng_tensors}
    if step.ema is not None:
        tensors.update(_prefixed("ema.", step.ema.state_dict()))
    best = at.best
    if best.state is not None:
        tensors.update(_prefixed("best.", best.state))
    position = {key: getattr(at, key) for key in ("epoch", "step", "steps", "loss_sum", "seen", "epoch_seconds", "seconds", "stale")}
    state = {
        "format": FORMAT,
        "kind": "position",
        "position": position,
        "optimizer": optimizer,
        "scheduler": step.scheduler.state_dict(),
        "best": {
            "score": best.score, "epoch": best.epoch, "report": best.report, "has_state": best.state is not None,
            "thresholds": best.thresholds.tolist() if best.thresholds is not None else None,
        },  # fmt: skip
        "history": records_to_json(at.history),
        "rng": {**states, "data_order": rng.bit_generator.state if at.step == 0 else at.epoch_rng},
    }
    return tensors, state


def restore(step: _Step, tensors: dict[str, torch.Tensor], state: dict[str, Any], rng: np.random.Generator) -> Position:
    """Put the fit of ``step`` (and ``rng``, its data order) back where ``capture`` saw it; its position."""
    step.model.load_state_dict(_under("model.", tensors))
    _load_optimizer(step.optimizer, tensors, state["optimizer"])
    step.scheduler.load_state_dict(state["scheduler"])
    if step.ema is not None:
        step.ema.load_state_dict(_under("ema.", tensors))
    saved = state["best"]
    best_state = _under("best.", tensors) if saved["has_state"] else None
    best = _Best(saved["score"], saved["epoch"], best_state, saved["report"], _thresholds(saved["thresholds"]))
    set_random_states(tensors, state["rng"])
    rng.bit_generator.state = state["rng"]["data_order"]
    return Position(
        **state["position"], best=best, history=records_from_json(state["history"]), epoch_rng=state["rng"]["data_order"]
    )
