"""Where the transformer networks run: OpenVINO by default, torch as the fallback (RAG_RUNTIME=torch).
The only module that imports openvino, and the only one that runs a network.

OpenVINO runs the very network torch runs, converted once from the same weights (no download, no
hub) and cached in the user's cache folder; `rag ask` then needs neither torch nor transformers
(their import alone took 6 s a command). Two precisions: int8 (the default; see Precision below)
and f32, asked for explicitly: on CPUs with bf16 units OpenVINO otherwise computes in bf16, which
moved token states by up to 0.016 (measured), while f32 keeps them within 3e-6 of torch's.
`python -m eval.benchmark throughput` measures each variant on the same chunks (eval/RESULTS.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import platformdirs
from pydantic import BaseModel, Field

log = logging.getLogger(__name__)

# OpenVINO's converter and NNCF send usage events to Google Analytics (and write a client id under
# ~/intel) unless a consent file opts out. This product sends nothing: with the telemetry package
# unimportable, both use their own no-op stubs. Set before either is first imported (only here).
sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]

RuntimeName = Literal["openvino", "torch"]
# f32: the network as trained, OpenVINO's outputs within 3e-6 of torch's. int8 (OpenVINO only): weights
# stored as int8 (NNCF's data-free weight compression) and activations quantised on the fly in groups
# of 64, the rest in the CPU's fastest float (bf16 where it has bf16 units): measured in eval/RESULTS.md.
Precision = Literal["f32", "int8"]
DYNAMIC_QUANTIZATION_GROUP = 64
# Part of each export's cache key: raise it when the way networks are converted changes.
EXPORT_FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    """RAG_CACHE_DIR, else the user's cache folder: also for networks loaded without the settings (the
    eval scripts, the tests), so a CI run with RAG_CACHE_DIR set keeps out of the user's cache."""
    return Path(os.environ.get("RAG_CACHE_DIR") or platformdirs.user_cache_dir("rag-news", appauthor=False))


class NetworkLoadError(RuntimeError):
    """A network could not be converted or loaded; the message names the files and what to do."""


class RuntimeOptions(BaseModel):
    """rag/config.py's Settings.runtime_options() gives them from the settings; these defaults are its."""

    runtime: RuntimeName = "openvino"
    precision: Precision = "int8"
    cache_dir: Path = Field(default_factory=default_cache_dir)
    # None: each call on every core, one call at a time. N: calls of N threads, cores // N at once.
    threads: int | None = Field(None, ge=1)
    # The cores the networks may use. None: every core of the machine; a Ray worker: the one Ray gives it.
    cores: int | None = Field(None, ge=1)

    def core_count(self) -> int:
        return self.cores or os.cpu_count() or 1

    @property
    def network_precision(self) -> Precision:
        """What the networks compute in: torch runs every network in f32, whatever is asked."""
        return "f32" if self.runtime == "torch" else self.precision


class Network(Protocol):
    def __call__(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]: ...


class NetworkSource(BaseModel):
    """A network as torch builds it from its files. `build` returns a torch module that takes the
    inputs by name and returns a tuple of tensors; `example` is a padded batch to convert it with."""

    model_config = {"arbitrary_types_allowed": True}

    name: str  # what it is, in messages and in its cache folder's name
    files: Sequence[Path]  # everything it is made of: a change to any makes a cached conversion stale
    build: Callable[[], Any]  # a torch.nn.Module: torch is imported only when a network is converted
    example: Callable[[], dict[str, np.ndarray]]


# OpenVINO networks load once per process and stay: every encoder and reader that asks for the same
# conversion with the same options shares one compiled network. Freed instead by the garbage collector at
# whatever moment it runs, a compiled network crashed the process (a segfault while another network's
# results were read, in tests/test_cli.py, which builds a pipeline per command).
_loaded: dict[tuple[str, int, int, str], OpenVinoNetwork] = {}
_loaded_lock = threading.Lock()


def load_network(source: NetworkSource, options: RuntimeOptions) -> Network:
    if options.runtime == "torch":
        return TorchNetwork(source.build(), options.threads or options.cores)
    model_xml = converted(source, options.cache_dir, options.network_precision)
    written = model_xml.stat()  # a conversion rewritten on disk is loaded again
    key = (str(model_xml), written.st_mtime_ns, written.st_size, options.model_dump_json())
    with _loaded_lock:
        if key not in _loaded:
            _loaded[key] = OpenVinoNetwork(model_xml, options)
        return _loaded[key]


class TorchNetwork:
    def __init__(self, module: Any, threads: int | None) -> None:
        import torch

        if threads:
            torch.set_num_threads(threads)
        self.module = module.eval()

    def __call__(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        import torch

        with torch.inference_mode():
            outputs = self.module(**{name: torch.from_numpy(array) for name, array in inputs.items()})
        return [output.float().numpy() for output in outputs]


class OpenVinoNetwork:
    def __init__(self, model_xml: Path, options: RuntimeOptions):
        import openvino

        core = openvino.Core()
        # A compiled network is cached too: the second process compiles in a fraction of the time.
        core.set_property({"CACHE_DIR": str(options.cache_dir / "openvino-compiled")})
        config: dict[str, object] = {"PERFORMANCE_HINT": "LATENCY"}  # one call at a time, on every core
        if options.threads:
            # Calls of `threads` threads each, as many at once as the cores hold: concurrent questions
            # then run side by side instead of queueing for the one stream.
            streams = max(1, options.core_count() // options.threads)
            config = {"NUM_STREAMS": streams, "INFERENCE_NUM_THREADS": streams * options.threads}
        elif options.cores:
            config["INFERENCE_NUM_THREADS"] = options.cores
        if options.network_precision == "int8":
            config["DYNAMIC_QUANTIZATION_GROUP_SIZE"] = DYNAMIC_QUANTIZATION_GROUP
        else:
            config["INFERENCE_PRECISION_HINT"] = "f32"
        try:
            self.compiled = core.compile_model(str(model_xml), "CPU", config)
        except RuntimeError as exc:
            raise NetworkLoadError(f"OpenVINO cannot load {model_xml} ({exc}): delete that folder to convert it again, or set RAG_RUNTIME=torch") from exc
        self.input_names = {port.get_any_name() for port in self.compiled.inputs}
        # At most as many calls at once as the network runs (one per stream: 1 for the default networks,
        # so their calls take turns); more wait. Two calls at once on a one-stream network deadlocked
        # inside OpenVINO now and then (seen: `rag index`'s two batches in flight, both threads stuck
        # copying their inputs into their requests).
        self.running = threading.BoundedSemaphore(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))

    def __call__(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        with self.running:
            # A request per call: the compiled network is shared by the threads, a request is not.
            results = self.compiled.create_infer_request().infer({name: array for name, array in inputs.items() if name in self.input_names})
            return [np.asarray(results[port]) for port in self.compiled.outputs]


_conversion_lock = threading.Lock()


def converted(source: NetworkSource, cache_dir: Path, precision: Precision = "f32") -> Path:
    """The network's OpenVINO files, converted from its torch form on first use and whenever its files
    change; a conversion is written aside and moved in whole, so a killed one leaves nothing half-made."""
    import openvino

    name = source.name if precision == "f32" else f"{source.name}-{precision}"
    folder = Path(cache_dir) / "openvino" / f"{name}-{_cache_key(source, openvino.__version__)}"
    model_xml = folder / "model.xml"
    with _conversion_lock:
        if model_xml.is_file():
            return model_xml
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=folder.parent))
        except OSError as exc:
            raise NetworkLoadError(
                f"cannot write the converted {source.name} network under {folder.parent} ({exc.strerror or exc}): "
                "set RAG_CACHE_DIR to a writable folder, or RAG_RUNTIME=torch"
            ) from exc
        # An older conversion of these same files is stale, and one whose files are gone; another install's
        # (a second checkout, a CI clone sharing the cache) is kept, or each would convert again after the other.
        ours = _source_paths(source)
        stale = sorted(p for p in folder.parent.glob(f"{name}-*") if p.is_dir() and p != folder and _key_of(p, name) and _replaced(p, ours))
        log.info(
            "converting the %s network to OpenVINO (%s)%s, once (about 10 s); cached in %s",
            source.name,
            precision,
            " (its files changed since the last conversion)" if stale else "",
            folder,
        )
        started = time.perf_counter()
        import torch

        try:
            module = source.build().eval()  # its own errors (a missing or damaged file) name the file already
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the tracer's warnings are about its own internals
                network = openvino.convert_model(module, example_input={k: torch.from_numpy(v) for k, v in source.example().items()})
                if precision == "int8":
                    import nncf

                    # Its bit-width table is not for our users; only its own logger is quietened (its
                    # set_log_level left pytest's log handlers at ERROR too: seen in the test suite).
                    logging.getLogger("nncf").setLevel(logging.ERROR)
                    with contextlib.redirect_stdout(io.StringIO()):  # nor its progress bar (no switch turns it off)
                        network = nncf.compress_weights(network, mode=nncf.CompressWeightsMode.INT8_ASYM)
            openvino.save_model(network, str(scratch / "model.xml"), compress_to_fp16=False)
            (scratch / SOURCES_FILE).write_text(json.dumps(ours), encoding="utf-8")
            try:
                os.rename(scratch, folder)
            except OSError:  # another process finished the same conversion first: theirs is as good
                if not model_xml.is_file():
                    raise
        except Exception as exc:  # the converter raises many kinds; say which network and the way out
            raise NetworkLoadError(f"cannot convert the {source.name} network to OpenVINO ({exc}); set RAG_RUNTIME=torch to run it with torch") from exc
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        for old in stale:
            shutil.rmtree(old, ignore_errors=True)
        log.info("converted the %s network in %.1f s", source.name, time.perf_counter() - started)
        return model_xml


def _cache_key(source: NetworkSource, openvino_version: str) -> str:
    """Names the files' content by path, size and modification time (hashing 100 MB on every
    command would cost more than the conversion saves), plus the converter's version."""
    digest = hashlib.sha256(f"{EXPORT_FORMAT_VERSION}|{openvino_version}".encode())
    for path in source.files:
        stat = Path(path).stat()
        digest.update(f"|{Path(path).resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


SOURCES_FILE = "sources.json"  # the files a conversion was made from: what tells a stale one from another install's


def _source_paths(source: NetworkSource) -> list[str]:
    return sorted(str(Path(path).resolve()) for path in source.files)


def _replaced(folder: Path, ours: list[str]) -> bool:
    """Whether a conversion in the cache is made obsolete by ours: made from the same files (since
    changed), from files that no longer exist, or unrecorded (made before conversions recorded theirs)."""
    try:
        theirs = json.loads((folder / SOURCES_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return theirs == ours or not all(Path(path).exists() for path in theirs)


def _key_of(folder: Path, name: str) -> bool:
    """Whether the folder is `name`'s own conversion (name, a dash, a 16-digit key), not another network's
    whose name `name` begins ("encoder-x" and "encoder-x-int8")."""
    key = folder.name[len(name) + 1 :]
    return len(key) == 16 and all(c in "0123456789abcdef" for c in key)
