"""`ganbench tune --space FILE_OR_NAME --sampler NAME`: the search space and sampler from
YAML, the built-in `default` (ganbench's own) and `lucic` (Lucic et al. 2018) spaces, and
one clear line for a bad file."""
from __future__ import annotations

import optuna
import pytest
import yaml

from ganbench.cli import main
from ganbench.errors import ConfigError
from ganbench.presets import get_preset
from tuning import space as S
from tuning.sampler import build_sampler


def _file(tmp_path, text: str) -> str:
    p = tmp_path / "space.yaml"
    p.write_text(text)
    return str(p)


def _sample(space: S.Space, cfg, n=30) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    return [S.suggest(study.ask(), space, cfg) for _ in range(n)]


def test_default_space_is_todays():
    cfg = get_preset("debug")
    space = S.fit_to(S.load_space("default"), cfg)
    assert [p.name for p in space.params] == ["lr_g", "lr_d", "beta1", "beta2", "batch_size", "loss",
                                              "n_critic", "gp_weight"]
    lr = space.params[0]
    assert (lr.low, lr.high, lr.log) == (1e-5, 2e-3, True)
    assert space.sampler == "tpe" and space.constant_liar
    loss = next(p for p in space.params if p.name == "loss")
    assert "wgan-gp" not in loss.choices, "a BatchNorm critic cannot take a gradient penalty"
    wgan = S.fit_to(S.load_space("default"), get_preset("art-wgangp-64"))
    assert "wgan-gp" in next(p for p in wgan.params if p.name == "loss").choices
    # trial 0 is the preset itself
    assert S.defaults(space, cfg) == {"lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
                                      "batch_size": 32, "loss": "bce"}
    for over in _sample(space, cfg):
        assert over["loss"]["n_critic"] == 1 and "gp_weight" not in over["loss"]  # only for wgan-gp
        assert over["optim_g"]["beta1"] == over["optim_d"]["beta1"]


def test_lucic_space():
    space = S.load_space("lucic")
    by = {p.name: p for p in space.params}
    assert (by["lr"].low, by["lr"].high, by["lr"].log) == (1e-5, 1e-2, True)
    assert (by["beta1"].low, by["beta2"].low) == (0.0, 0.9) and by["beta2"].high < 1  # Adam needs < 1
    assert by["n_critic"].choices == (1, 5) and by["n_critic"].when == (("loss", ("wgan-gp",)),)
    assert space.sampler == "random"
    cfg = S.apply_fixed(get_preset("art-wgangp-64"), space)
    assert cfg.data.batch_size == 64
    for over in _sample(space, cfg):
        assert over["optim_g"]["lr"] == over["optim_d"]["lr"] and over["loss"]["n_critic"] in (1, 5)


def test_a_space_file_with_ranges_choices_conditions_and_config_keys(tmp_path):
    space = S.load_space(_file(tmp_path, """
sampler: tpe
constant_liar: true
params:
  lr_d: {low: 1e-4, high: 1e-3, log: true}     # 1e-4 without a dot: YAML's string, read as a number
  model.ngf: {choices: [8, 16]}
  loss: {choices: [hinge, lsgan]}
  n_critic: {low: 2, high: 3, when: {loss: hinge}, otherwise: 1}
"""))
    cfg = get_preset("debug")
    space = S.fit_to(space, cfg)
    assert next(p for p in space.params if p.name == "n_critic").kind == "int"  # from the config field
    for over in _sample(space, cfg):
        assert 1e-4 <= over["optim_d"]["lr"] <= 1e-3 and over["model"]["ngf"] in (8, 16, cfg.model.ngf)
        assert over["loss"]["n_critic"] in ((2, 3) if over["loss"]["name"] == "hinge" else (1,))
    assert S.parse_space(S.to_yaml(space), "again").params == space.params, "--print-space reads back"


def test_samplers(tmp_path):
    default = S.load_space("default")
    tpe = build_sampler(default, seed=1)
    assert isinstance(tpe, optuna.samplers.TPESampler) and tpe._constant_liar
    assert isinstance(build_sampler(S.load_space("default", "random"), 1), optuna.samplers.RandomSampler)
    grid = S.load_space(_file(tmp_path, "sampler: grid\nparams:\n  batch_size: {choices: [32, 64]}\n"))
    assert isinstance(build_sampler(grid, 1), optuna.samplers.GridSampler)
    try:
        import cmaes  # noqa: F401
        assert isinstance(build_sampler(S.load_space("default", "cmaes"), 1), optuna.samplers.CmaEsSampler)
    except ImportError:
        with pytest.raises(ConfigError, match="pip install cmaes"):
            build_sampler(S.load_space("default", "cmaes"), 1)


@pytest.mark.parametrize("text, needle", [
    ("params: {lr_g: {low: 1e-5, high: 1e-3}}\nsamplr: tpe\n", "unknown key 'samplr'"),
    ("params: {lr_q: {low: 1e-5, high: 1e-3}}\n", "unknown parameter 'lr_q'"),
    ("params: {lr_g: {low: 1e-2, high: 1e-3}}\n", "low (0.01) > high (0.001)"),
    ("params: {lr_g: {low: 0, high: 1e-3, log: true}}\n", "log scale needs low > 0"),
    ("params: {lr_g: {low: 1e-5, hihg: 1e-3}}\n", "unknown key 'hihg'"),
    ("params: {lr_g: {low: 1e-5, high: 1e-3}}\nsampler: annealing\n", "unknown sampler 'annealing'"),
    ("params: {lr_g: {low: 1e-5, high: 1e-3}}\nsampler: random\nconstant_liar: true\n", "constant_liar"),
    ("params: {lr_g: {low: 1e-5, high: 1e-3}}\nsampler: grid\n", "grid needs `choices`"),
    ("params: {n_critic: {low: 1.5, high: 3}}\n", "whole numbers"),
    ("params: {gp_weight: {low: 1, high: 3, when: {los: wgan-gp}}}\n", "'los'"),
    ("params: {loss: {choices: [bce, nope]}}\n", "params.loss: unknown loss function 'nope'"),
    ("set: {data.batchsize: 64}\nparams: {lr_g: {low: 1e-5, high: 1e-3}}\n", "data.batchsize"),
    ("params: [lr_g]\n", "`params:`"),
    ("params: {lr_g: {low: 1e-5, high: [}\n", "not valid YAML"),
])
def test_bad_space_files_are_one_clear_line(tmp_path, capsys, text, needle):
    path = _file(tmp_path, text)
    assert main(["tune", "--preset", "debug", "--space", path, "--storage", "notadb://x"]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err, err


def test_print_space_and_a_study_on_a_space_file(tmp_path, tmp_path_factory, capsys, monkeypatch):
    """The CLI prints a space; a study samples only what its space file names, with its sampler."""
    import tune_driver
    from mlflow_store import shared_store

    assert main(["tune", "--space", "lucic", "--print-space"]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["params"]["lr"]["high"] == 1e-2

    tune_driver.patch(monkeypatch)
    monkeypatch.setenv("FAKE_TRIAL_SECONDS", "0")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", shared_store(tmp_path_factory))
    path = _file(tmp_path, "sampler: grid\nparams:\n  beta1: {choices: [0.0, 0.5]}\n  model.ngf: {choices: [8, 16]}\n")
    assert main(["tune", "--preset", "debug", "--workers", "0", "--trials", "4", "--space", path, "--study", "grid",
                 "--storage", f"sqlite:///{tmp_path / 'o.db'}", "--pruner", "none"]) == 0
    study = optuna.load_study(study_name="grid", storage=f"sqlite:///{tmp_path / 'o.db'}")
    assert {tuple(sorted(t.params)) for t in study.trials} == {("beta1", "model.ngf")}
    assert {(t.params["beta1"], t.params["model.ngf"]) for t in study.trials} == {(0.0, 8), (0.0, 16), (0.5, 8), (0.5, 16)}
