"""Starting Ray, once, the same way for every ganbench command; and logs a person can read.

Left to its defaults, Ray prints every line any of its processes writes into the terminal:
Ray Train's placement-group cleaner warns "Failed to query Ray Train Controller actor state"
every ~2 s (it asks the state API, which needs the dashboard ganbench does not start), the
controller logs C++ errors about its PreemptionWatcher actor, Serve prints its proxies' route
tables. ganbench's own lines drown in them. So, by default:

- Ray worker processes format ganbench's records (and Python warnings) exactly as the driver
  does, `HH:MM:SS ganbench.x LEVEL: message` (a worker setup hook, `setup_worker_logging`);
- the driver shows, of everything its workers print, only those lines and Ray's progress bars
  (tqdm_ray), on stderr: stdout carries the final JSON line and nothing else;
- in the driver, ganbench logs at INFO, every other library (Ray, MLflow, ...) warnings and
  errors only.

Nothing is lost: Ray keeps every process's full output in its session folder
(`session_logs()`, printed when Ray starts). `--verbose` or GANBENCH_VERBOSE=1 shows
everything, as Ray prints it (still on stderr).
"""
from __future__ import annotations

import functools
import logging
import os
import re
import sys
from typing import Optional

log = logging.getLogger("ganbench.ray")

VERBOSE_ENV = "GANBENCH_VERBOSE"
FORMAT, DATEFMT = "%(asctime)s %(name)s %(levelname)s: %(message)s", "%H:%M:%S"
# What a worker line of ours looks like (FORMAT); anything else from a worker is Ray's or a library's.
OUR_LINE = re.compile(r"^\d\d:\d\d:\d\d (ganbench|py\.warnings)[\w.]* [A-Z]+: ")
# Loggers of ours in the driver; all others are quiet unless verbose.
OURS = ("ganbench", "tuning", "serve", "__main__")
_logs_dir: Optional[str] = None


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "").lower() in ("1", "true", "yes", "on")


def configure_logging(verbose_flag: bool = False) -> None:
    """The driver's logging: ours at INFO (DEBUG when verbose), other libraries at WARNING.
    The choice goes into the environment, so Ray workers started later see it too."""
    if verbose_flag:
        os.environ[VERBOSE_ENV] = "1"
    loud = verbose()
    logging.basicConfig(level=logging.DEBUG if loud else logging.INFO, format=FORMAT, datefmt=DATEFMT,
                        stream=sys.stderr)
    if not loud:
        _quiet_libraries()


class _OnlyOurs(logging.Filter):
    """On the root handler: records of other libraries pass from WARNING up."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name.split(".")[0] in OURS


def _quiet_libraries() -> None:
    for handler in logging.getLogger().handlers:  # the terminal's handler, not (say) pytest's capture
        if type(handler) is logging.StreamHandler and handler.stream is sys.stderr and \
                not any(isinstance(f, _OnlyOurs) for f in handler.filters):
            handler.addFilter(_OnlyOurs())
    # Libraries with their own handlers (not through the root one). MLflow sets its level when
    # imported (later than this, and in every Ray worker): it reads MLFLOW_LOGGING_LEVEL.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    quiet("mlflow", "alembic", "ray")


def quiet(*loggers: str) -> None:
    """Warnings and errors only from these loggers, unless verbose. For libraries that set their
    logger's level when imported (Ray Serve does), call it after that import."""
    if not verbose():
        for name in loggers:
            logging.getLogger(name).setLevel(logging.WARNING)


def setup_worker_logging() -> None:
    """Ray's worker_process_setup_hook: ganbench's lines in the driver's format, on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT, DATEFMT))
    for name in ("ganbench", "py.warnings"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.propagate = False  # not twice through whatever Ray put on the root logger
    logging.getLogger("ganbench").setLevel(logging.DEBUG if verbose() else logging.INFO)
    logging.captureWarnings(True)


def init_ray(**kwargs) -> None:
    """ray.init for ganbench (a local Ray, or the cluster at RAY_ADDRESS); no-op if Ray is up.

    - include_dashboard=False: ~1 s and a few hundred MB less per run on a laptop;
    - log_to_driver=True: workers' lines reach the driver, which then filters them (below);
    - configure_logging=True with logging_level: Ray's own driver-side logger at WARNING
      unless verbose."""
    import ray

    if ray.is_initialized():
        return
    loud = verbose()
    runtime_env = dict(kwargs.pop("runtime_env", None) or {})
    runtime_env.setdefault("worker_process_setup_hook", f"{__name__}.setup_worker_logging")
    ray.init(include_dashboard=False, log_to_driver=True, configure_logging=True,
             logging_level=logging.INFO if loud else logging.WARNING, runtime_env=runtime_env, **kwargs)
    _route_worker_output(loud)
    global _logs_dir
    _logs_dir = _session_logs_dir()
    log.info("Ray started; every Ray process's full log is in %s%s", _logs_dir,
             "" if loud else " (--verbose or GANBENCH_VERBOSE=1 shows it all here)")


def session_logs() -> Optional[str]:
    """Ray's log folder of this session (on the head node when on a cluster), once Ray started."""
    return _logs_dir


def _session_logs_dir() -> Optional[str]:
    try:
        from ray._private import worker

        return worker._global_node.get_logs_dir_path()
    except Exception:  # noqa: BLE001 - a remote cluster or another Ray version: say less
        return None


def keep_line(line: str) -> bool:
    """A worker line worth the terminal by default: ours, or a Ray progress bar update."""
    from ray.experimental.tqdm_ray import RAY_TQDM_MAGIC

    return RAY_TQDM_MAGIC in line or bool(OUR_LINE.match(line))


def _route_worker_output(loud: bool) -> None:
    """Replace Ray's printer of worker output with ours (see the module docstring). Ray 2.60
    has no public hook for this; if its internals moved, Ray's own printer stays, and we say so."""
    try:
        from ray._private import worker
        from ray._private.ray_logging import global_worker_stdstream_dispatcher as dispatcher
    except ImportError:
        log.warning("this Ray version does not let ganbench filter its workers' output: showing all of it")
        return
    printer = getattr(worker.print_to_stdstream, "ray_printer", worker.print_to_stdstream)
    dispatcher.remove_handler("ray_print_logs")
    dispatcher.add_handler("ray_print_logs", functools.partial(_print_worker_lines, printer, loud))
    # Ray's own error messages (a worker killed for memory, say) come by another path and go to
    # stdout: keep them, on stderr.
    worker.print_to_stdstream = functools.partial(_to_stderr, printer)
    worker.print_to_stdstream.ray_printer = printer


def _to_stderr(printer, data: dict, ignore_prefix: bool) -> None:
    printer({**data, "is_err": True}, ignore_prefix)


def _print_worker_lines(print_to_stdstream, loud: bool, data: dict) -> None:
    data = {**data, "is_err": True}  # stdout is the final JSON line's alone
    if not loud:
        lines = [line for line in data.get("lines", []) if keep_line(line)]
        if not lines:
            return
        data["lines"] = lines
    # Our lines already say who (logger name); Ray's "(RayTrainWorker pid=...)" prefix only when verbose.
    print_to_stdstream(data, ignore_prefix=not loud)
