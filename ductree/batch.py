"""Many cases at once: views and reports, in parallel, resumable, one bad case never stopping the rest.

:func:`run_batch` writes each case into its own folder under ``out``::

    out/
      manifest.json, manifest.csv      one row per case: status, seconds, outputs, error
      <case>/cc.png, lateral.png, ...  the views
      <case>/report.html (report.pdf)  the planning report
      <case>/.ductree-stamp.json       written last: input hash and output checksums

A case's **status** is ``ok`` (done now), ``skipped`` (``resume``: its
outputs are complete and its inputs unchanged), ``failed`` (bad input: the
error names the file and key) or ``error`` (an internal error).

**Resume.** The stamp holds a content hash of the case file, every source
file it names and the batch options, plus the size and SHA-256 of every
output. It is removed before a case is (re)done and written last, after
every output has been renamed into place; every output is written to a
temporary name first. So after any crash, even ``SIGKILL``, a case either
has a valid stamp (and whole outputs) or is done again.

**Timeout.** ``timeout_s`` stops a case that runs too long (a SIGALRM timer
in the process running it, started after the rendering modules are
imported): it ends ``error``, "timed out", without a stamp, and the batch
goes on.

**Parallelism.** Worker processes on this machine
(:class:`concurrent.futures.ProcessPoolExecutor`, ``jobs`` of them; each
worker reuses its own offscreen render window), or a Dask distributed
cluster when ``scheduler`` is given (``pip install ductree[batch-dask]``).
With ``jobs=1`` cases run in this process.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import time
import traceback
from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import Callable, Iterable, Sequence

from .errors import InputError

STAMP = ".ductree-stamp.json"
STAMP_SCHEMA = "ductree.batch-stamp/1"
MANIFEST_SCHEMA = "ductree.batch-manifest/1"
MANIFEST_FIELDS = ("case", "folder", "id", "status", "seconds", "views", "outputs", "warnings", "error")
STATUSES = ("ok", "skipped", "failed", "error", "pending")


@dataclass(frozen=True)
class BatchOptions:
    """What each case gets. ``views``/``size`` ``None`` = each case's own ``[render]`` settings."""

    views: tuple[str, ...] | None = None
    size: tuple[int, int] | None = None
    report: bool = True
    pdf: bool = False
    resume: bool = False
    #: seconds one case may take before it is stopped (``error``, "timed out"); None = no limit
    timeout_s: float | None = None

    def key(self) -> dict:
        """The options that change the outputs (part of the input hash)."""
        return {"views": self.views, "size": self.size, "report": self.report, "pdf": self.pdf}


@dataclass
class CaseResult:
    """One row of the manifest. ``outputs`` are file names inside ``folder``."""

    case: str
    folder: str
    id: str | None = None
    status: str = "pending"
    seconds: float = 0.0
    views: int = 0
    outputs: list[str] = field(default_factory=list)
    #: the case's own warnings (a low-confidence reconstruction, an unplaced lesion, ...), as its report lists them
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    def line(self) -> str:
        """The one line printed for this case."""
        if self.status in ("ok", "skipped"):
            what = f"{self.views} view(s)" + (" + report" if any(o.startswith("report") for o in self.outputs) else "")
            warned = f"  {len(self.warnings)} warning(s) (see the manifest)" if self.warnings else ""
            return f"{self.status:<7} {self.folder}  {what}  {self.seconds:.1f} s{warned}"
        return f"{self.status.upper():<7} {self.folder}  {self.error}"


@dataclass
class BatchResult:
    out: Path
    results: list[CaseResult]
    seconds: float

    @property
    def counts(self) -> dict[str, int]:
        c = {s: 0 for s in STATUSES}
        for r in self.results:
            c[r.status] = c.get(r.status, 0) + 1
        return c

    @property
    def exit_code(self) -> int:
        """0 all done; 2 some cases had bad input; 1 some case hit an internal error."""
        c = self.counts
        if c["error"] or c["pending"]:
            return 1
        return 2 if c["failed"] else 0

    @property
    def views_rendered(self) -> int:
        return sum(r.views for r in self.results if r.status == "ok")


# --------------------------------------------------------------------------- naming and hashing

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def case_folder_names(paths: Sequence[str | PathLike]) -> list[str]:
    """A unique, filesystem-safe output folder name per case, from its path (not its contents).

    ``.../case-007/case.toml`` and ``.../case-007`` give ``case-007``; a variant beside it,
    ``.../case-007/case_ductogram.toml`` (as ``ductree phantom --simulate`` writes), gives
    ``case-007_ductogram``; ``.../foo.toml`` gives ``foo``; repeats get ``-2``, ``-3``, ... in order.
    """
    names: list[str] = []
    seen: dict[str, int] = {}
    for p in paths:
        p = Path(p)
        if p.name == "case.toml":
            base = p.parent.name
        elif p.suffix == ".toml" and p.stem.startswith("case_") and p.parent.name:
            base = f"{p.parent.name}_{p.stem[len('case_'):]}"
        else:
            base = p.stem if p.suffix == ".toml" else p.name
        base = _SAFE.sub("_", base).strip("._") or "case"
        n = seen.get(base, 0) + 1
        seen[base] = n
        names.append(base if n == 1 else f"{base}-{n}")
    return names


def _sha256_file(path: Path, h: "hashlib._Hash | None" = None) -> str:
    h = h or hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_hash(case_path: Path, sources: Iterable[Path], options: BatchOptions) -> str:
    """SHA-256 over the case file, each source file (in order) and the output-changing options."""
    from . import __version__

    h = hashlib.sha256()
    h.update(json.dumps({"options": options.key(), "ductree": __version__}, sort_keys=True, default=list).encode())
    for p in [case_path, *sources]:
        h.update(str(Path(p).name).encode() + b"\0")
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def read_stamp(folder: Path) -> dict | None:
    try:
        d = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) and d.get("schema") == STAMP_SCHEMA else None


def stamp_is_complete(folder: Path, stamp: dict | None, digest: str) -> bool:
    """The stamp matches ``digest`` and every output it lists is there with its size and checksum."""
    if not stamp or stamp.get("input_hash") != digest:
        return False
    outs = stamp.get("outputs")
    if not isinstance(outs, dict) or not outs:
        return False
    for name, meta in outs.items():
        p = folder / name
        try:
            if p.stat().st_size != meta["bytes"] or _sha256_file(p) != meta["sha256"]:
                return False
        except (OSError, KeyError, TypeError):
            return False
    return True


def _clean_temporaries(folder: Path) -> None:
    for p in folder.glob(".*.tmp*"):
        try:
            p.unlink()
        except OSError:
            pass


# --------------------------------------------------------------------------- one case (runs in a worker)

def process_case(case_path: str, folder: str, out: str, options: BatchOptions) -> CaseResult:
    """Render one case's views (and report) into ``out/folder``; never raises for a case's own problems.

    Bad input gives ``status="failed"`` with the one-line message; anything
    else ``status="error"`` (the traceback goes to ``error.txt`` in the folder).
    """
    t0 = time.perf_counter()
    res = CaseResult(case=str(case_path), folder=folder)
    dest = Path(out) / folder
    limit = _time_limit(options.timeout_s)
    if options.timeout_s:
        _preload()  # imports are not safe to interrupt: do them before the clock starts
    try:
        with limit:
            _do_case(Path(case_path), dest, options, res)
    except Exception as exc:
        # A timeout may surface wrapped by the code it interrupted: the timer says what happened.
        _record_failure(res, dest, CaseTimeout() if limit.fired else exc, options)
    res.seconds = round(time.perf_counter() - t0, 3)
    return res


def _record_failure(res: CaseResult, dest: Path, exc: Exception, options: BatchOptions) -> None:
    """Put a case's failure in its result: timed out, bad input (``failed``) or internal error."""
    if isinstance(exc, CaseTimeout):
        res.status, res.outputs, res.views = "error", [], 0
        res.error = f"timed out after {options.timeout_s:g} s (--timeout); its outputs are not vouched for"
        if dest.is_dir():
            _clean_temporaries(dest)
    elif isinstance(exc, InputError):
        res.status, res.error = "failed", str(exc)
    else:  # an internal error: keep going, record it
        res.status, res.error = "error", f"internal error: {type(exc).__name__}: {exc}"
        try:
            from .atomic import write_text

            if dest.is_dir():
                write_text(dest / "error.txt", "".join(traceback.format_exception(exc)))
        except Exception:
            pass


def _preload() -> None:
    """Import what rendering a case needs (once per process), so a timeout never lands inside an import."""
    import pyvista  # noqa: F401
    import vtkmodules.vtkRenderingFreeType  # noqa: F401
    import vtkmodules.vtkRenderingOpenGL2  # noqa: F401

    from . import case, lesions, plan, render, report, scene  # noqa: F401


class CaseTimeout(Exception):
    """A case ran past the batch's ``timeout_s``."""


class _time_limit:
    """Raise :class:`CaseTimeout` in this thread after ``seconds`` (a SIGALRM timer; POSIX main thread only).

    Where no timer can be set (another thread, as in a Dask worker; Windows) the case runs unlimited.
    The stamp is written last, so a case stopped midway is never taken as complete by ``--resume``.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.old = None
        self.fired = False

    def __enter__(self) -> None:
        import signal
        import threading

        if not self.seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
            self.seconds = None
            return

        def _raise(signum, frame):
            self.fired = True
            raise CaseTimeout()

        self.old = signal.signal(signal.SIGALRM, _raise)
        signal.setitimer(signal.ITIMER_REAL, float(self.seconds))

    def __exit__(self, *exc) -> None:
        if self.seconds:
            import signal

            signal.setitimer(signal.ITIMER_REAL, 0.0)
            signal.signal(signal.SIGALRM, self.old or signal.SIG_DFL)


def _do_case(case_path: Path, dest: Path, options: BatchOptions, res: CaseResult) -> None:
    from .atomic import write_text
    from .case import load_case
    from .atomic import make_output_dir
    from .render import case_views, render_views, shared_renderer

    case = load_case(case_path)
    res.id = case.id
    views = case_views(case, options.views)
    size = options.size or tuple(case.render.size)
    make_output_dir(dest)
    digest = input_hash(case.path or case_path, case.source.paths(), options)
    if options.resume:
        stamp = read_stamp(dest)
        if stamp_is_complete(dest, stamp, digest):
            res.status = "skipped"
            res.outputs = sorted(stamp["outputs"])
            res.views = int(stamp.get("views", 0))
            res.warnings = list(stamp.get("warnings", []))
            return
    # From here the folder's old outputs are no longer vouched for.
    try:
        (dest / STAMP).unlink()
    except FileNotFoundError:
        pass
    _clean_temporaries(dest)
    renderer = shared_renderer(size, background=case.render.background)
    images: dict = {}
    written = render_views(case, views=views, out_dir=dest, size=size, renderer=renderer, images=images)
    outputs = [p.name for p in written.values()]
    if options.report or options.pdf:
        from .report import write_report

        rep = write_report(case, dest / "report.html" if options.report else None,
                           pdf_path=dest / "report.pdf" if options.pdf else None, views=views, images=images)
        outputs += [p.name for p in rep.values()]
    from .report import collect_warnings
    from .scene import prepare_case

    tree, located, plans = prepare_case(case)
    res.warnings = collect_warnings(case, tree, located, plans)
    stamp = {
        "schema": STAMP_SCHEMA, "case": str(case_path), "id": case.id, "input_hash": digest,
        "views": len(written), "options": options.key(), "warnings": res.warnings,
        "outputs": {name: {"bytes": (dest / name).stat().st_size, "sha256": _sha256_file(dest / name)}
                    for name in outputs},
    }
    write_text(dest / STAMP, json.dumps(stamp, indent=1, default=list) + "\n")
    res.status = "ok"
    res.outputs = outputs
    res.views = len(written)


# --------------------------------------------------------------------------- the manifest

def manifest_rows(results: Sequence[CaseResult]) -> list[dict]:
    return [asdict(r) for r in results]


def write_manifest(out: Path, results: Sequence[CaseResult], *, seconds: float | None = None) -> tuple[Path, Path]:
    """Write ``manifest.json`` and ``manifest.csv`` (atomically) into ``out``."""
    from .atomic import write_text

    rows = manifest_rows(results)
    counts = {s: sum(1 for r in results if r.status == s) for s in STATUSES}
    doc = {"schema": MANIFEST_SCHEMA, "cases": len(results), "counts": counts, "seconds": seconds, "results": rows}
    pj = write_text(out / "manifest.json", json.dumps(doc, indent=1) + "\n")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(MANIFEST_FIELDS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**r, "outputs": ";".join(r["outputs"]), "warnings": " | ".join(r["warnings"]),
                    "error": r["error"] or ""})
    pc = write_text(out / "manifest.csv", buf.getvalue())
    return pj, pc


# --------------------------------------------------------------------------- the batch

def _worker_init() -> None:
    """Worker start: quiet library warnings (each case's own warnings go to its report)."""
    import warnings

    warnings.simplefilter("ignore")


def run_batch(cases: Sequence[str | PathLike], out: str | PathLike, *, views: Sequence[str] | None = None,
              size: Sequence[int] | None = None, jobs: int | None = None, resume: bool = False,
              report: bool = True, pdf: bool = False, scheduler: str | None = None,
              timeout_s: float | None = None, on_result: Callable[[CaseResult, int, int], None] | None = None) -> BatchResult:
    """Render many cases; see the module docstring.

    Parameters
    ----------
    cases : sequence of paths
        Case files (``case.toml``) or their folders.
    out : path
        Output root (created if missing); one folder per case inside.
    views, size : optional
        Override every case's ``[render]`` views and size (pixels).
    jobs : int, optional
        Worker processes (default: the CPU count); 1 = in this process.
    resume : bool
        Skip cases whose outputs are complete and inputs unchanged.
    report, pdf : bool
        Also write ``report.html`` / ``report.pdf`` per case.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``) to run the cases on.
    timeout_s : float, optional
        Stop a case that takes longer than this (seconds): it ends ``error`` ("timed out") and the
        batch goes on. Enforced where the case runs in a process's main thread (``jobs`` workers
        and ``jobs=1``), not on a Dask cluster.
    on_result : callable, optional
        Called as ``on_result(result, done, total)`` as each case finishes.

    Returns
    -------
    BatchResult
        Per-case results (in the order given), total seconds and the exit code.
    """
    from .atomic import make_output_dir
    from .render import parse_size
    from .scene import check_views

    t0 = time.perf_counter()
    out = Path(out)
    if not cases:
        raise InputError("no cases given", key="CASE")
    opts = BatchOptions(views=None if views is None else check_views(views, key="--views"),
                        size=None if size is None else parse_size(size), report=report, pdf=pdf, resume=resume,
                        timeout_s=_check_timeout(timeout_s))
    make_output_dir(out)
    paths = [str(c) for c in cases]
    folders = case_folder_names(paths)
    results = [CaseResult(case=p, folder=f) for p, f in zip(paths, folders)]
    n = len(paths)
    done = 0

    def finish(i: int, r: CaseResult) -> None:
        nonlocal done
        results[i] = r
        done += 1
        write_manifest(out, results, seconds=round(time.perf_counter() - t0, 3))
        if on_result is not None:
            on_result(r, done, n)

    write_manifest(out, results)
    if scheduler:
        _run_dask(scheduler, paths, folders, str(out), opts, finish)
    elif (jobs or os.cpu_count() or 1) <= 1 or n == 1:
        for i, (p, f) in enumerate(zip(paths, folders)):
            finish(i, process_case(p, f, str(out), opts))
    else:
        _run_pool(int(jobs or os.cpu_count() or 1), paths, folders, str(out), opts, finish)
    seconds = round(time.perf_counter() - t0, 3)
    write_manifest(out, results, seconds=seconds)
    return BatchResult(out=out, results=results, seconds=seconds)


def _check_timeout(seconds: float | None) -> float | None:
    if seconds is None:
        return None
    import math

    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds <= 0:
        raise InputError(f"must be a number of seconds > 0, got {seconds!r}", key="--timeout")
    return float(seconds)


def _run_pool(jobs: int, paths, folders, out: str, opts: BatchOptions, finish) -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")  # no fork: the parent may hold threads (progress bar) and GL state
    with ProcessPoolExecutor(max_workers=min(jobs, len(paths)), mp_context=ctx, initializer=_worker_init) as ex:
        futs = {ex.submit(process_case, p, f, out, opts): i for i, (p, f) in enumerate(zip(paths, folders))}
        for fut in as_completed(futs):
            i = futs[fut]
            try:
                r = fut.result()
            except BrokenProcessPool as exc:
                r = CaseResult(case=paths[i], folder=folders[i], status="error",
                               error=f"internal error: a worker process died ({exc})")
            except Exception as exc:
                r = CaseResult(case=paths[i], folder=folders[i], status="error",
                               error=f"internal error: {type(exc).__name__}: {exc}")
            finish(i, r)


def _run_dask(address: str, paths, folders, out: str, opts: BatchOptions, finish) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise InputError("--scheduler needs Dask distributed: pip install 'ductree[batch-dask]'",
                         key="--scheduler") from None
    _check_reachable(address)
    try:
        client = Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address}: {exc}", key="--scheduler") from None
    try:
        futs = client.map(process_case, paths, folders, [out] * len(paths), [opts] * len(paths), pure=False)
        index = {f.key: i for i, f in enumerate(futs)}
        for fut in as_completed(futs, loop=client.loop):
            i = index[fut.key]
            try:
                r = fut.result()
            except Exception as exc:
                r = CaseResult(case=paths[i], folder=folders[i], status="error",
                               error=f"internal error on the cluster: {type(exc).__name__}: {exc}")
            finish(i, r)
    finally:
        client.close()


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast (one line, bad input) when nothing listens at a ``tcp://host:port`` scheduler address."""
    import socket
    from urllib.parse import urlsplit

    if "://" not in address:
        address = "tcp://" + address
    parts = urlsplit(address)
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or not parts.port:
        raise InputError(f"expected tcp://HOST:PORT, got {address!r}", key="--scheduler")
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout_s):
            pass
    except OSError as exc:
        raise InputError(f"cannot reach the Dask scheduler at {parts.hostname}:{parts.port}: "
                         f"{exc.strerror or exc}", key="--scheduler") from None
