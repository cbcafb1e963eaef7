"""Training checkpoints (Orbax): the train state and every process's input iterator, and the
resume that reads the newest checkpoint that is whole."""
from __future__ import annotations

import logging
from pathlib import Path

import grain
import orbax.checkpoint as ocp

log = logging.getLogger("openwebli.train")


def checkpoints(workdir: Path) -> ocp.CheckpointManager:
    """The workdir's checkpoints: each holds ``state`` (params, optimizer state, step) and
    ``data`` (every process's input iterator, Grain's own checkpoint format)."""
    options = ocp.CheckpointManagerOptions(max_to_keep=2)
    handlers = {"state": ocp.StandardCheckpointHandler(), "data": grain.checkpoint.CheckpointHandler()}
    return ocp.CheckpointManager((workdir / "checkpoints").resolve(), options=options,
                                 item_handlers=handlers)


def restore(manager: ocp.CheckpointManager, state, batches=None):
    """The newest checkpoint that reads, into ``state``'s layout (and ``batches``, an input
    iterator, set to where it was); a damaged one is reported and the one before it tried.
    None when there is no checkpoint."""
    steps = sorted(manager.all_steps(), reverse=True)
    for step in steps:
        items = {"state": ocp.args.StandardRestore(state)}
        if batches is not None:
            items["data"] = grain.checkpoint.CheckpointRestore(batches)
        try:
            restored = manager.restore(step, args=ocp.args.Composite(**items))
        except Exception as e:  # noqa: BLE001 — any damage: a truncated file, a missing item
            log.warning("checkpoint %d in %s cannot be read (%s: %s); trying the one before",
                        step, manager.directory, type(e).__name__, str(e)[:200])
            continue
        log.info("resumed from step %d", step)
        return restored.state
    if steps:
        raise ValueError(f"no checkpoint in {manager.directory} can be read (steps {steps}); "
                         "move the folder away to start over")
    return None
