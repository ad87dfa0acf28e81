"""The runtimes on a tiny torch network: the same outputs either way, a conversion made once, made
again when its files change, and a failed one leaving nothing behind."""

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from rag.runtime import NetworkLoadError, NetworkSource, RuntimeOptions, load_network


class Doubler(torch.nn.Module):
    """Inputs by name, a tuple of outputs: the shape every network here has."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(4, 3)

    def forward(self, input_ids, attention_mask):
        return self.layer(input_ids.float()) * attention_mask.float()[..., :1], input_ids.sum(dim=-1, keepdim=True).float()


def example() -> dict[str, np.ndarray]:
    return {"input_ids": np.arange(8, dtype=np.int64).reshape(2, 4), "attention_mask": np.ones((2, 4), dtype=np.int64)}


@pytest.fixture
def weights(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"v1")
    return path


def source(weights, build=Doubler) -> NetworkSource:
    return NetworkSource(name="doubler", files=[weights], build=build, example=example)


def test_openvino_gives_torchs_outputs_for_other_shapes_too(weights, tmp_path):
    inputs = {"input_ids": np.arange(12, dtype=np.int64).reshape(3, 4) % 5, "attention_mask": np.array([[1] * 4, [1] * 4, [0] * 4])}
    torch_outputs = load_network(source(weights), RuntimeOptions(runtime="torch", cache_dir=tmp_path))(inputs)
    openvino_outputs = load_network(source(weights), RuntimeOptions(runtime="openvino", precision="f32", cache_dir=tmp_path))(inputs)
    assert len(openvino_outputs) == len(torch_outputs) == 2
    for ours, theirs in zip(openvino_outputs, torch_outputs):
        assert ours.shape == theirs.shape and np.allclose(ours, theirs, atol=1e-5)


def test_a_conversion_is_made_once_and_again_when_its_files_change(weights, tmp_path, caplog):
    options = RuntimeOptions(cache_dir=tmp_path / "cache")
    caplog.set_level(logging.INFO, logger="rag.runtime")
    load_network(source(weights), options)
    assert "converting the doubler network to OpenVINO (int8), once" in caplog.text
    first = list((tmp_path / "cache" / "openvino").iterdir())
    caplog.clear()
    load_network(source(weights), options)
    assert "converting" not in caplog.text

    weights.write_bytes(b"v2, another size")
    os.utime(weights, ns=(1, 1))
    load_network(source(weights), options)
    assert "its files changed since the last conversion" in caplog.text
    second = list((tmp_path / "cache" / "openvino").iterdir())
    assert len(first) == len(second) == 1 and first != second  # the stale one is gone


def test_another_installs_conversion_is_kept_and_one_whose_files_are_gone_is_not(weights, tmp_path, caplog):
    """Two checkouts (or a CI clone) sharing the cache must not undo each other's conversions."""
    options = RuntimeOptions(cache_dir=tmp_path / "cache")
    other = tmp_path / "other-checkout" / "weights.bin"
    other.parent.mkdir()
    other.write_bytes(b"v1 of the other install")
    load_network(source(other), options)
    load_network(source(weights), options)
    assert len(list((tmp_path / "cache" / "openvino").iterdir())) == 2  # both kept
    caplog.set_level(logging.INFO, logger="rag.runtime")
    caplog.clear()  # what the two conversions above logged (the level may be INFO already, set by a test before)
    load_network(source(other), options)
    assert "converting" not in caplog.text  # the other install's is still there
    other.unlink()
    weights.write_bytes(b"v2, another size")
    load_network(source(weights), options)  # ours changed: our old one goes, and the one whose files are gone
    assert len(list((tmp_path / "cache" / "openvino").iterdir())) == 1


def test_a_failed_conversion_names_the_network_and_the_way_out_and_leaves_nothing(weights, tmp_path):
    class Unconvertible(torch.nn.Module):
        def forward(self, input_ids, attention_mask):
            raise ValueError("no graph here")

    with pytest.raises(NetworkLoadError, match="(?s)doubler network.*RAG_RUNTIME=torch"):
        load_network(source(weights, build=Unconvertible), RuntimeOptions(cache_dir=tmp_path / "cache"))
    assert list((tmp_path / "cache" / "openvino").iterdir()) == []


def test_a_damaged_conversion_says_which_folder_to_delete(weights, tmp_path):
    options = RuntimeOptions(cache_dir=tmp_path / "cache")
    load_network(source(weights), options)
    (converted,) = (tmp_path / "cache" / "openvino").iterdir()
    (converted / "model.xml").write_text("<net broken", encoding="utf-8")
    with pytest.raises(NetworkLoadError, match=str(converted)):
        load_network(source(weights), options)


def test_int8_is_a_conversion_of_its_own_close_to_f32_and_both_are_kept(weights, tmp_path):
    inputs = example()
    f32 = load_network(source(weights), RuntimeOptions(cache_dir=tmp_path / "cache", precision="f32"))(inputs)
    int8 = load_network(source(weights), RuntimeOptions(cache_dir=tmp_path / "cache", precision="int8"))(inputs)
    assert sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "cache" / "openvino").iterdir()) == ["doubler", "doubler-int8"]
    for quantised, exact in zip(int8, f32):
        assert np.allclose(quantised, exact, atol=0.05 * np.abs(exact).max())


def test_torch_computes_in_f32_whatever_precision_is_asked():
    assert RuntimeOptions(runtime="torch", precision="int8").network_precision == "f32"
    assert RuntimeOptions(runtime="openvino", precision="int8").network_precision == "int8"


def test_a_conversion_sends_no_telemetry_and_writes_nothing_in_home(tmp_path):
    import subprocess
    import sys

    script = (
        "import numpy as np, torch\n"
        "from rag.runtime import NetworkSource, RuntimeOptions, load_network\n"
        "from tests.test_runtime import Doubler, example\n"
        "from pathlib import Path\n"
        "weights = Path('weights.bin'); weights.write_bytes(b'v1')\n"
        "for precision in ('f32', 'int8'):\n"
        "    options = RuntimeOptions(cache_dir=Path('cache'), precision=precision)\n"
        "    load_network(NetworkSource(name='doubler', files=[weights], build=Doubler, example=example), options)\n"
        "import openvino.tools.ovc.telemetry_utils as ovc, nncf.telemetry.wrapper as nncf_telemetry\n"
        "print(ovc.tm.__name__, type(nncf_telemetry.telemetry).__name__)\n"
    )
    home = tmp_path / "home"
    home.mkdir()
    environment = {k: v for k, v in os.environ.items() if k not in ("CI",)} | {"HOME": str(home), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["openvino.tools.ovc.telemetry_stub", "MagicMock"]  # both libraries' no-op stubs
    assert list(home.iterdir()) == []  # no ~/intel consent or client-id files


def test_a_cache_folder_that_cannot_be_written_names_it_and_the_way_out(weights, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    with pytest.raises(NetworkLoadError, match=rf"under {blocked}/openvino .*RAG_CACHE_DIR.*RAG_RUNTIME=torch"):
        load_network(source(weights), RuntimeOptions(cache_dir=blocked))


def test_the_default_cache_is_rag_cache_dir_when_set(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert RuntimeOptions().cache_dir == tmp_path / "elsewhere"
    monkeypatch.delenv("RAG_CACHE_DIR")
    assert RuntimeOptions().cache_dir.name == "rag-news"
