import dataclasses

import pytest

from ganbench import config as C
from ganbench.errors import ConfigError
from ganbench.presets import PRESETS, get_preset


def test_yaml_round_trip_every_preset():
    for name in PRESETS.names():
        cfg = get_preset(name)
        assert C.from_yaml(C.to_yaml(cfg)) == cfg, name


def test_overrides_parse_types_and_nest():
    cfg = C.merge(get_preset("debug"), C.parse_overrides(
        ["optim_g.lr=1e-4", "data.hflip=true", "train.epochs=7", "data.name=folder:/x/y", "tracking.run_name=r1"]))
    assert cfg.optim_g.lr == pytest.approx(1e-4) and isinstance(cfg.optim_g.lr, float)
    assert cfg.data.hflip is True
    assert cfg.train.epochs == 7
    assert cfg.data.name == "folder:/x/y"
    assert cfg.tracking.run_name == "r1"
    # untouched sections keep the preset's values
    assert cfg.model == get_preset("debug").model


def test_int_given_for_float_field_is_coerced():
    cfg = C.merge(C.RunConfig(), C.parse_overrides(["optim_d.lr=1"]))
    assert cfg.optim_d.lr == 1.0 and isinstance(cfg.optim_d.lr, float)


@pytest.mark.parametrize("pair, needle", [
    ("optim_g.lrr=1", "optim_g.lrr"),
    ("nosection.x=1", "nosection"),
    ("train.epochs=abc", "train.epochs"),
    ("data.hflip=3", "data.hflip"),
    ("novalue", "key=value"),
])
def test_bad_overrides_name_the_key(pair, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        C.merge(C.RunConfig(), C.parse_overrides([pair]))


def test_flatten_gives_dotted_params():
    flat = C.flatten(get_preset("debug"))
    assert flat["optim_g.lr"] == get_preset("debug").optim_g.lr
    assert flat["data.name"] == "digits"
    assert all(not isinstance(v, dict) for v in flat.values())


def test_config_is_frozen():
    cfg = C.RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'epochs'"):
        cfg.train.epochs = 3  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'train'"):
        cfg.train = C.TrainConfig(epochs=3)  # type: ignore[misc]
    assert cfg.train.epochs == C.TrainConfig().epochs  # nothing changed


def test_yaml_file_load_and_errors(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("preset: mine\ntrain:\n  epochs: 3\n")
    cfg = C.load_yaml(p)
    assert cfg.train.epochs == 3 and cfg.preset == "mine" and cfg.data == C.DataConfig()
    with pytest.raises(ConfigError, match="not found"):
        C.load_yaml(tmp_path / "missing.yaml")
    p.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="YAML"):
        C.load_yaml(p)


def test_unknown_preset_lists_valid_ones():
    with pytest.raises(ConfigError) as e:
        get_preset("nope")
    assert "debug" in str(e.value) and "mnist-dcgan" in str(e.value)
