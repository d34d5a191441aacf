"""Running an ablation's stages: each a subprocess with its own log, resumable, up to N at a time.

Each stage is started by the experiments' one runner (experiments.stages.run_logged), and every finished stage gets
its record (experiments.stages.StageRecord, ``ablation_stage.json`` in its OUTPUT_DIR): its command, wall time and
whether it ran alone (no other stage of this ablation running at any moment of it). Only a stage that ran alone may
report its time as a config's cost: timing stages are ``exclusive`` and always do, whatever ``jobs``.
"""
from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Sequence
from typing import Any

from vos_eval.io import write_json_atomic
from vos_eval.locks import folder_holder
from vos_eval.provenance import portable_command

from ..stages import StageRecord, run_logged, utc_now
from .plan import AblationError, Stage

RUN_LOG = "ablation_runs.json"


def pending(stages: Sequence[Stage], force: bool = False) -> list[int]:
    """Indices of the stages to run: those whose results file does not exist yet (all of them with ``force``)."""
    return [i for i, stage in enumerate(stages) if force or not os.path.isfile(stage.results_file)]


def execute(stage: Stage, echo: bool = True) -> None:
    """Run one stage, streaming its output to its log (and the console when ``echo``); AblationError naming the
    stage and log on failure. A stage whose OUTPUT_DIR a live run holds is an AblationError naming that run before
    its log is touched (the running stage's log is not truncated); the log is never opened through a link."""
    for path in stage.needs:
        if not os.path.isfile(path):
            raise AblationError(f"config {stage.row} ({stage.kind}): required file not found: {path}")
    holder = folder_holder(stage.output_dir)
    if holder is not None:
        raise AblationError(f"config {stage.row} ({stage.kind}): {stage.output_dir} is in use by another run "
                            f"({holder}); wait for it to finish")
    print(f"# [{stage.label}] {shlex.join(stage.command)}  (log: {stage.log_file})", flush=True)
    code = run_logged(stage.command, stage.log_file, echo)
    if code != 0:
        raise AblationError(f"config {stage.row}: {stage.kind} failed with exit code {code}; see {stage.log_file}")
    if not os.path.isfile(stage.results_file):
        raise AblationError(f"config {stage.row}: {stage.kind} finished but wrote no {stage.results_file}; see "
                            f"{stage.log_file}")


def _timed(stage: Stage, echo: bool) -> tuple[str, float]:
    """Execute a stage; its start time (UTC) and wall seconds."""
    started, start = utc_now(), time.monotonic()
    execute(stage, echo)
    return started, time.monotonic() - start


def run_stages(stages: Sequence[Stage], todo: Sequence[int], jobs: int = 1) -> dict[int, StageRecord]:
    """Run the stages ``todo`` (plan indices), up to ``jobs`` at a time, each once the stages it comes after are
    done, an exclusive one only with nothing else running; write and return each finished stage's record.

    With jobs > 1 the stages' output goes to their logs only. After a failure no new stage starts; the running
    ones finish, then the first failure is raised.
    """
    records: dict[int, StageRecord] = {}

    def finish(index: int, started: str, wall_s: float, alone: bool) -> None:
        stage = stages[index]
        command = portable_command(stage.command, stage.output_dir)  # no machine paths in the record
        records[index] = StageRecord(stage.label, command, started, round(wall_s, 3), alone, jobs, stage.kind)
        records[index].write(stage.record_file)

    if jobs <= 1:
        for index in todo:
            print(f"# [{index + 1}/{len(stages)}] {stages[index].label}", flush=True)
            finish(index, *_timed(stages[index], True), True)
        return records
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    waiting, running, failures, concurrent = list(todo), {}, [], set()
    with ThreadPoolExecutor(jobs) as pool:
        while waiting or running:
            blocked = set(waiting) | set(running.values())
            ready = [i for i in waiting if not blocked.intersection(stages[i].after)] if not failures else []
            for index in ready:
                exclusive_running = any(stages[i].exclusive for i in running.values())
                if exclusive_running or len(running) >= jobs or (stages[index].exclusive and running):
                    break
                if running:  # both the new stage and every running one share the machine from now on
                    concurrent.update(running.values())
                    concurrent.add(index)
                waiting.remove(index)
                running[pool.submit(_timed, stages[index], False)] = index
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index = running.pop(future)
                error = future.exception()
                print(f"# [{index + 1}/{len(stages)}] {'failed' if error else 'done'}: {stages[index].label}",
                      flush=True)
                if error:
                    failures.append(error)
                else:
                    finish(index, *future.result(), index not in concurrent)
    if failures:
        raise failures[0]
    return records


def record_invocation(output_dir: str, entry: dict[str, Any]) -> str:
    """Append one invocation of the tool (its command line, start, wall time, stages run and skipped, the machine) to
    <output-dir>/ablation_runs.json, atomically; returns the file's path. The command (a list of arguments, or one
    shell-quoted string) is recorded as a string with the interpreter as ``python`` and paths relative to the
    repository or ``output_dir`` (vos_eval.provenance), never the machine's absolute paths."""
    path = os.path.join(output_dir, RUN_LOG)
    command = entry["command"]
    entry = {**entry, "command": shlex.join(portable_command(
        shlex.split(command) if isinstance(command, str) else command, output_dir))}
    history: list[dict[str, Any]] = []
    if os.path.isfile(path):
        try:
            with open(path, encoding="utf-8") as f:
                history = json.load(f)["invocations"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise AblationError(f"cannot read {path}: {e}") from e
    history.append(entry)
    write_json_atomic(path, {"invocations": history, "total_wall_s": round(sum(e["wall_s"] for e in history), 1)})
    return path
