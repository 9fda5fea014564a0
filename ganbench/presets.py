"""Presets: plain functions returning a RunConfig, one per experiment worth reproducing.

Each is named for what it is (model, loss, data, size). Presets on a folder of your own
images take the folder from `--set data.name=folder:/path/to/images`; without it they stop
with a message saying so.
"""
from __future__ import annotations

from ganbench.config import (
    DataConfig, EvalConfig, FinalEvalConfig, LossConfig, ModelConfig, OptimConfig, RunConfig, TrainConfig,
)
from ganbench.registry import Registry

PRESETS: Registry = Registry("preset")

# The DCGAN paper's optimiser; most seeds use it for both networks.
ADAM_DCGAN = OptimConfig(name="adam", lr=2e-4, beta1=0.5, beta2=0.999)
FOLDER_PLACEHOLDER = "folder:REQUIRED"
# Lucic et al. 2018's protocol for MNIST, Fashion-MNIST and CIFAR-10: 10k generated against
# 10k test images through Inception (grayscale tiled to RGB), so the final number sits beside
# their table. On GPU runs only by default: on a CPU it costs about half an hour.
LUCIC_FINAL = FinalEvalConfig(run="gpu", backbone="inception", n_gen=10_000, n_real=10_000, real_split="test")


def _run(preset: str, **sections) -> RunConfig:
    return RunConfig(preset=preset, **sections)


@PRESETS.register("debug", "tiny DCGAN on the built-in digits, 2 short epochs: seconds on CPU (tests, smoke checks)")
def debug() -> RunConfig:
    return _run(
        "debug",
        data=DataConfig(name="digits", resolution=28, channels=1, batch_size=32),
        model=ModelConfig(name="dcgan", latent_dim=16, ngf=8, ndf=8),
        optim_g=ADAM_DCGAN, optim_d=ADAM_DCGAN,
        train=TrainConfig(epochs=2, max_steps_per_epoch=8, sample_grid=16),
    )


@PRESETS.register("digits-dcgan", "DCGAN 28 px on the built-in digits (1,797 real handwritten digits): the demo model")
def digits_dcgan() -> RunConfig:
    return _run(
        "digits-dcgan",
        data=DataConfig(name="digits", resolution=28, channels=1, batch_size=64),
        model=ModelConfig(name="dcgan", latent_dim=64, ngf=32, ndf=32),
        optim_g=ADAM_DCGAN, optim_d=ADAM_DCGAN,
        train=TrainConfig(epochs=30, checkpoint_every=5),
        eval=EvalConfig(every=5, n_gen=2000),
    )


@PRESETS.register("mnist-dcgan", "DCGAN 28 px on MNIST: recognisable digits, 25 epochs of the 10k test split in ~6 min on "
                  "2 CPU cores; digits uneven (4-17% each): mnist-cdcgan for even ones")
def mnist_dcgan() -> RunConfig:
    # Sized for a 2-core CPU on the 10k test split (benchmarks/mnist_preset.py measures it):
    # 25 epochs x 10k images at ~800 img/s. With the 60k train split, 5 epochs cost the same.
    # Its digits are uneven, and eight training changes did not fix that at this budget
    # (docs/numbers.md, benchmarks/results/balance-*-cpu/); mnist-cdcgan's are even.
    return _run(
        "mnist-dcgan",
        data=DataConfig(name="mnist", split="train", resolution=28, channels=1, batch_size=64),
        model=ModelConfig(name="dcgan", latent_dim=100, ngf=64, ndf=64),
        optim_g=ADAM_DCGAN, optim_d=ADAM_DCGAN,
        train=TrainConfig(epochs=25, checkpoint_every=5),
        final_eval=LUCIC_FINAL,
        eval=EvalConfig(every=5, n_gen=5000),
    )


@PRESETS.register("mnist-mlp", "fully connected GAN on MNIST 28 px, Adam for G and SGD for D (the classic MLP GAN)")
def mnist_mlp() -> RunConfig:
    return _run(
        "mnist-mlp",
        data=DataConfig(name="mnist", resolution=28, channels=1, batch_size=64),
        model=ModelConfig(name="mlp", latent_dim=100),
        optim_g=ADAM_DCGAN,
        optim_d=OptimConfig(name="sgd", lr=0.01, momentum=0.5),
        train=TrainConfig(epochs=30, checkpoint_every=5),
        final_eval=LUCIC_FINAL,
    )


@PRESETS.register("mnist-infogan", "InfoGAN-style DCGAN on MNIST: 10-way categorical code + 2 continuous codes")
def mnist_infogan() -> RunConfig:
    return _run(
        "mnist-infogan",
        data=DataConfig(name="mnist", resolution=28, channels=1, batch_size=64, use_labels=False),
        model=ModelConfig(name="infogan", latent_dim=64, ngf=32, ndf=32, n_cat=10, n_cont=2),
        optim_g=OptimConfig(name="adam", lr=1e-3, beta1=0.5, beta2=0.999),
        optim_d=ADAM_DCGAN,
        train=TrainConfig(epochs=20, checkpoint_every=5),
        final_eval=LUCIC_FINAL,
    )


@PRESETS.register("mnist-cdcgan", "conditional DCGAN on MNIST 28 px: pick the digit with --label")
def mnist_cdcgan() -> RunConfig:
    return _run(
        "mnist-cdcgan",
        data=DataConfig(name="mnist", resolution=28, channels=1, batch_size=64),
        model=ModelConfig(name="cdcgan", latent_dim=64, ngf=32, ndf=32),
        optim_g=ADAM_DCGAN, optim_d=ADAM_DCGAN,
        train=TrainConfig(epochs=15, checkpoint_every=5),
        final_eval=LUCIC_FINAL,
    )


@PRESETS.register("fashion-mnist-dcgan", "DCGAN 28 px on Fashion-MNIST (Adam 2e-4, betas 0.5/0.999)")
def fashion_mnist_dcgan() -> RunConfig:
    return _run(
        "fashion-mnist-dcgan",
        data=DataConfig(name="fashion-mnist", resolution=28, channels=1, batch_size=64),
        model=ModelConfig(name="dcgan", latent_dim=100, ngf=64, ndf=64),
        optim_g=ADAM_DCGAN, optim_d=ADAM_DCGAN,
        train=TrainConfig(epochs=25, checkpoint_every=5),
        final_eval=LUCIC_FINAL,
    )


@PRESETS.register("cifar10-dcgan", "DCGAN 32 px RGB on CIFAR-10")
def cifar10_dcgan() -> RunConfig:
    return _run(
        "cifar10-dcgan",
        data=DataConfig(name="cifar10", resolution=32, channels=3, batch_size=128, hflip=True),
        model=ModelConfig(name="dcgan", latent_dim=100, ngf=64, ndf=64),
        optim_g=ADAM_DCGAN, optim_d=ADAM_DCGAN,
        train=TrainConfig(epochs=50, checkpoint_every=5),
        final_eval=LUCIC_FINAL,
    )


@PRESETS.register("art-lsgan-64", "LSGAN 64 px RGB on a folder of art (--set data.name=folder:PATH), Adam betas 0.5/0.999")
def art_lsgan_64() -> RunConfig:
    return _run(
        "art-lsgan-64",
        data=DataConfig(name=FOLDER_PLACEHOLDER, resolution=64, channels=3, batch_size=64, hflip=True, loader="auto"),
        model=ModelConfig(name="dcgan", latent_dim=100, ngf=64, ndf=64),
        loss=LossConfig(name="lsgan"),
        optim_g=ADAM_DCGAN, optim_d=ADAM_DCGAN,
        train=TrainConfig(epochs=100, checkpoint_every=5),
    )


@PRESETS.register("art-wgangp-64", "WGAN-GP 64 px RGB on a folder of art: critic without BatchNorm, n_critic 5, Adam betas 0.5/0.9")
def art_wgangp_64() -> RunConfig:
    wgan_adam = OptimConfig(name="adam", lr=1e-4, beta1=0.5, beta2=0.9)
    return _run(
        "art-wgangp-64",
        data=DataConfig(name=FOLDER_PLACEHOLDER, resolution=64, channels=3, batch_size=64, hflip=True),
        model=ModelConfig(name="wgan", latent_dim=100, ngf=64, ndf=64),
        loss=LossConfig(name="wgan-gp", gp_weight=10.0, n_critic=5),
        optim_g=wgan_adam, optim_d=wgan_adam,
        train=TrainConfig(epochs=100, checkpoint_every=5),
    )


@PRESETS.register("folder-cdcgan-64", "conditional DCGAN 64 px on a labelled folder (class subfolders, e.g. art by artist, dog breeds)")
def folder_cdcgan_64() -> RunConfig:
    return _run(
        "folder-cdcgan-64",
        data=DataConfig(name=FOLDER_PLACEHOLDER, resolution=64, channels=3, batch_size=64, hflip=True),
        model=ModelConfig(name="cdcgan", latent_dim=100, ngf=64, ndf=64),
        optim_g=OptimConfig(name="adam", lr=2e-4, beta1=0.9, beta2=0.999),
        optim_d=ADAM_DCGAN,
        train=TrainConfig(epochs=100, checkpoint_every=5),
    )


@PRESETS.register("folder-hinge-32", "DCGAN 32 px with hinge loss on a folder of photos (fast CPU-sized art/photo run)")
def folder_hinge_32() -> RunConfig:
    return _run(
        "folder-hinge-32",
        data=DataConfig(name=FOLDER_PLACEHOLDER, resolution=32, channels=3, batch_size=64, hflip=True),
        model=ModelConfig(name="dcgan", latent_dim=100, ngf=32, ndf=32),
        loss=LossConfig(name="hinge"),
        optim_g=ADAM_DCGAN, optim_d=ADAM_DCGAN,
        train=TrainConfig(epochs=50, checkpoint_every=5),
    )


# ---------------------------------------------------------------- the seed experiments
# One preset per experiment of the five seed projects that states enough to reproduce
# (/work/shared/seeds-experiments.md, IDs A1-E12). NOTES says where each comes from and what
# the seed left unstated, i.e. what the preset had to choose.

NOTES: dict[str, str] = {
    "art-lsgan-64": "seed 000 A1 (LSGAN on WikiArt abstract art, Adam 2e-4 / 0.5, 0.999); chosen: 64 px, batch 64, "
                    "100 epochs, hflip, the DCGAN layout (the seed's layers are only screenshots; model.arch=infogan-mnist "
                    "is the paper table it cites, at 28 px)",
    "folder-cdcgan-64": "seed 003 D1 (conditional GAN on Kaggle's dog breeds); the seed states no architecture or "
                        "hyper-parameters: everything here is ganbench's choice",
    "mnist-mlp": "seed 004 E11 (SGD for D, Adam for G); chosen: SGD lr 0.01 momentum 0.5 (the seed gives none), "
                 "ganbench's MLP layout",
}


def _seed(name: str, help: str, note: str):
    """Register a seed-experiment preset with its note (a preset with a note is a seed experiment)."""
    def deco(fn):
        NOTES[name] = note
        return PRESETS.register(name, help)(fn)
    return deco


def _adam(lr: float, beta1: float = 0.5, beta2: float = 0.999) -> OptimConfig:
    return OptimConfig(name="adam", lr=lr, beta1=beta1, beta2=beta2)


def _mnist(name: str, *, batch: int, epochs: int, opt: OptimConfig, resolution: int = 28,
           model: ModelConfig | None = None, loss: LossConfig | None = None, dataset: str = "mnist",
           split: str = "train", opt_d: OptimConfig | None = None) -> RunConfig:
    return _run(
        name,
        data=DataConfig(name=dataset, split=split, resolution=resolution, channels=1, batch_size=batch),
        model=model or ModelConfig(name="dcgan", latent_dim=100, ngf=64, ndf=64),
        loss=loss or LossConfig(name="bce"),
        optim_g=opt, optim_d=opt_d or opt,
        train=TrainConfig(epochs=epochs, checkpoint_every=5),
        eval=EvalConfig(every=5, n_gen=5000),
        final_eval=LUCIC_FINAL,
    )


def _art(name: str, *, resolution: int, batch: int, epochs: int, opt_g: OptimConfig, opt_d: OptimConfig,
         flips: bool, model: ModelConfig, loss: LossConfig, resize_mode: str = "crop",
         checkpoint_every: int = 5, keep: int = 3) -> RunConfig:
    return _run(
        name,
        data=DataConfig(name=FOLDER_PLACEHOLDER, resolution=resolution, channels=3, batch_size=batch,
                        hflip=flips, vflip=flips, resize_mode=resize_mode),
        model=model, loss=loss, optim_g=opt_g, optim_d=opt_d,
        train=TrainConfig(epochs=epochs, checkpoint_every=checkpoint_every, keep_checkpoints=keep),
    )


@_seed("art-dcgan-128-flips", "seed 001 B2: DCGAN 128 px on a folder of art, h+v flips, BCE, batch 128, 200 epochs",
       "seed 001 B2 (resize + centre crop to 128, h and v flips, BCE, batch 128, 200 epochs); chosen: Adam 2e-4 / "
       "0.5, 0.999, z 100, ngf=ndf=64 (unstated); 128 px DCGAN = 6 ConvT in G, 5 convs + head in D (the seed's '6 times')")
def art_dcgan_128_flips() -> RunConfig:
    return _art("art-dcgan-128-flips", resolution=128, batch=128, epochs=200, opt_g=ADAM_DCGAN, opt_d=ADAM_DCGAN,
                flips=True, model=ModelConfig(name="dcgan", latent_dim=100, ngf=64, ndf=64), loss=LossConfig(name="bce"))


@_seed("art-dcgan-128-e12", "seed 004 E12: DCGAN 128 px art, h+v flips, z 128, Adam G 1e-3 / D 1e-4 (betas 0.9, 0.999), 200 epochs",
       "seed 004 E12 ('Adam with default parameters except the learning rates': G '10e-4' = 1e-3, D '10e-5' = 1e-4, "
       "betas 0.9, 0.999; z 128; batch 128; 200 epochs; crop + h/v flips); chosen: ngf=ndf=64, the DCGAN layout")
def art_dcgan_128_e12() -> RunConfig:
    return _art("art-dcgan-128-e12", resolution=128, batch=128, epochs=200, opt_g=_adam(1e-3, 0.9), opt_d=_adam(1e-4, 0.9),
                flips=True, model=ModelConfig(name="dcgan", latent_dim=128, ngf=64, ndf=64), loss=LossConfig(name="bce"))


_C_NOTE = ("seed 002 {id} (Keras DCGAN {px} px on 'Best Artworks of All Time': BCE, Adam 1e-4 / 0.5, batch 128, "
           "Resize((px, px)) squash, no flips, a checkpoint every 15 epochs); chosen: 150 epochs (its text; its code "
           "says 250), beta2 0.999 (Keras default), keep 10 checkpoints; the Keras layers (Dense 4x4x512, k5, "
           "Dropout 0.4 in G) are not fully stated, so this is ganbench's DCGAN layout with DCGAN init at ngf=ndf=64")


@_seed("art-dcgan-64-seed002", "seed 002 C1: DCGAN 64 px art, squash resize, no flips, Adam 1e-4, batch 128, checkpoint every 15",
       _C_NOTE.format(id="C1", px=64))
def art_dcgan_64_seed002() -> RunConfig:
    return _art("art-dcgan-64-seed002", resolution=64, batch=128, epochs=150, opt_g=_adam(1e-4), opt_d=_adam(1e-4),
                flips=False, model=ModelConfig(name="dcgan", latent_dim=100, ngf=64, ndf=64), loss=LossConfig(name="bce"),
                resize_mode="squash", checkpoint_every=15, keep=10)


@_seed("art-dcgan-128-seed002", "seed 002 C2: as C1 at 128 px", _C_NOTE.format(id="C2", px=128))
def art_dcgan_128_seed002() -> RunConfig:
    return _art("art-dcgan-128-seed002", resolution=128, batch=128, epochs=150, opt_g=_adam(1e-4), opt_d=_adam(1e-4),
                flips=False, model=ModelConfig(name="dcgan", latent_dim=100, ngf=64, ndf=64), loss=LossConfig(name="bce"),
                resize_mode="squash", checkpoint_every=15, keep=10)


@_seed("art-wgangp-64-seed002", "seed 002 C3: WGAN-GP 64 px art, 7 critic steps on the same batch, GP eps per element, Adam 1e-4 (0.5, 0.999)",
       "seed 002 C3 (crit_repeats 7 on the same real batch then one G step, GP weight 10 with eps per element, Adam "
       "1e-4 / 0.5, 0.999, batch 64, squash resize, no flips); chosen: 38 epochs (its appendix; its text says 'over "
       "300'), z 100 (appendix; chapter 4 uses 64), ganbench's WGAN layout at ngf=ndf=64 (the seed's k5/k4/k2 "
       "layers are not fully stated)")
def art_wgangp_64_seed002() -> RunConfig:
    return _art("art-wgangp-64-seed002", resolution=64, batch=64, epochs=38, opt_g=_adam(1e-4), opt_d=_adam(1e-4),
                flips=False, model=ModelConfig(name="wgan", latent_dim=100, ngf=64, ndf=64),
                loss=LossConfig(name="wgan-gp", gp_weight=10.0, n_critic=7, critic_schedule="same-batch", gp_eps="element"),
                resize_mode="squash")


@_seed("fashion-mnist-dcgan-b1", "seed 001 B1: DCGAN on all 70k Fashion-MNIST images, batch 128, 50 epochs",
       "seed 001 B1 (70,000 images = train + test, BCE, batch 128, 50 epochs); chosen: 28 px (the source size; its "
       "transform says 128), Adam 2e-4 / 0.5, 0.999 and ngf=ndf=64 (unstated)")
def fashion_mnist_dcgan_b1() -> RunConfig:
    return _mnist("fashion-mnist-dcgan-b1", dataset="fashion-mnist", split="all", batch=128, epochs=50, opt=ADAM_DCGAN)


@_seed("mnist-dcgan-mse-e1", "seed 004 E1: MNIST DCGAN with MSE on sigmoid outputs, BatchNorm on every D conv, default init, 15 epochs",
       "seed 004 E1 (nn.MSELoss on D's sigmoid outputs, BN after every D conv, default init, Adam 2e-4 / 0.5, 0.999, "
       "batch 64, 15 epochs); chosen: the 28 px DCGAN widths and kernels at ngf=ndf=64 (unstated)")
def mnist_dcgan_mse_e1() -> RunConfig:
    return _mnist("mnist-dcgan-mse-e1", batch=64, epochs=15, opt=ADAM_DCGAN, loss=LossConfig(name="mse-sigmoid"),
                  model=ModelConfig(name="dcgan", latent_dim=100, ngf=64, ndf=64, arch="dcgan28-bn-all"))


@_seed("mnist-dcgan-lr1e-3-e2", "seed 004 E2: MNIST DCGAN, Adam 1e-3 (0.5, 0.999), batch 64, 30 epochs",
       "seed 004 E2 (BCE, Adam 1e-3 / 0.5, 0.999, batch 64, 30 epochs); chosen: the 28 px DCGAN layout at ngf=ndf=64 (unstated)")
def mnist_dcgan_lr1e3_e2() -> RunConfig:
    return _mnist("mnist-dcgan-lr1e-3-e2", batch=64, epochs=30, opt=_adam(1e-3))


@_seed("mnist-dcgan-e3", "seed 004 E3 (its best run): MNIST DCGAN, Adam 2e-4 (0.5, 0.999), batch 128, 100 epochs",
       "seed 004 E3, 'the best performer' (BCE, Adam 2e-4 / 0.5, 0.999, batch 128, 100 epochs); chosen: the 28 px "
       "DCGAN layout at ngf=ndf=64 (unstated)")
def mnist_dcgan_e3() -> RunConfig:
    return _mnist("mnist-dcgan-e3", batch=128, epochs=100, opt=ADAM_DCGAN)


@_seed("mnist-dcgan-beta09-e4", "seed 004 E4: MNIST DCGAN, Adam 1e-3 (0.9, 0.999), batch 64, 50 epochs",
       "seed 004 E4 (BCE, Adam 1e-3 / 0.9, 0.999, batch 64, 50 epochs); chosen: the 28 px DCGAN layout at ngf=ndf=64")
def mnist_dcgan_beta09_e4() -> RunConfig:
    return _mnist("mnist-dcgan-beta09-e4", batch=64, epochs=50, opt=_adam(1e-3, 0.9))


@_seed("mnist-dcgan-e5-layout", "seed 004 E5: its explicit 28 px layout (k3 layers), Adam 1e-3 (0.9, 0.999), batch 64, 50 epochs",
       "seed 004 E5 (stated layout: model.arch=dcgan28-e5; BCE, Adam 1e-3 / 0.9, 0.999, batch 64, 50 epochs); "
       "chosen: ngf=ndf=64, bias off, LeakyReLU 0.2 and DCGAN init (the PyTorch tutorial's; unstated)")
def mnist_dcgan_e5_layout() -> RunConfig:
    return _mnist("mnist-dcgan-e5-layout", batch=64, epochs=50, opt=_adam(1e-3, 0.9),
                  model=ModelConfig(name="dcgan", latent_dim=100, ngf=64, ndf=64, arch="dcgan28-e5"))


@_seed("mnist-dcgan-64-e6", "seed 004 E6: MNIST at 64 px, 5 ConvT in G, Adam 2e-4 (0.5, 0.999), batch 128, 150 epochs",
       "seed 004 E6 (5 ConvTranspose2d in G, BCE, Adam 2e-4 / 0.5, 0.999, batch 128, 150 epochs); chosen: 64 px (what "
       "5 ConvT imply), ngf=ndf=64; differs: D has 4 convs + head with 3 BN (the seed: '3 Conv2d, 3 BatchNorm2d') and "
       "G 4 BN (the seed: 5)")
def mnist_dcgan_64_e6() -> RunConfig:
    return _mnist("mnist-dcgan-64-e6", batch=128, epochs=150, opt=ADAM_DCGAN, resolution=64)


@_seed("mnist-dcgan-32-e7", "seed 004 E7: MNIST at 32 px (4 ConvT G, 3 conv + head D), Adam 2e-4 (0.9, 0.999), batch 128, 150 epochs",
       "seed 004 E7 ('Four ConvTranspose2d', 'Three Conv2d', BCE, Adam 2e-4 / 0.9, 0.999, batch 128, 150 epochs); "
       "chosen: 32 px, where ganbench's DCGAN has exactly that many layers ('G 5 layers / D 4 layers' counts the "
       "output), ngf=ndf=64")
def mnist_dcgan_32_e7() -> RunConfig:
    return _mnist("mnist-dcgan-32-e7", batch=128, epochs=150, opt=_adam(2e-4, 0.9), resolution=32)


@_seed("mnist-mlp3-e9", "seed 004 E9: fully connected GAN, 3 layers each side (ReLU G, LeakyReLU D), Adam both, batch 128, 50 epochs",
       "seed 004 E9 (3 FC layers each side, ReLU + Tanh in G, LeakyReLU in D, BCE, Adam 2e-4 / 0.5, 0.999, batch 128, "
       "50 epochs); chosen: widths 256-512 (from E10's), LeakyReLU 0.2, no BN or dropout, PyTorch init (model.arch=mlp3)")
def mnist_mlp3_e9() -> RunConfig:
    return _mnist("mnist-mlp3-e9", batch=128, epochs=50, opt=ADAM_DCGAN,
                  model=ModelConfig(name="mlp", latent_dim=100, ngf=32, ndf=32, arch="mlp3"))


@_seed("mnist-mlp4-e10", "seed 004 E10: E9 + 1024-unit layers (G 256-512-1024, D 1024-512-256), batch 128, 150 epochs",
       "seed 004 E10 (E9 plus a 1024-unit layer in G and D, BCE, Adam 2e-4, batch 128, 150 epochs); chosen: betas "
       "0.5, 0.999 (not restated), LeakyReLU 0.2, no BN or dropout (model.arch=mlp4)")
def mnist_mlp4_e10() -> RunConfig:
    return _mnist("mnist-mlp4-e10", batch=128, epochs=150, opt=ADAM_DCGAN,
                  model=ModelConfig(name="mlp", latent_dim=100, ngf=32, ndf=32, arch="mlp4"))


QUICK = ("debug", "digits-dcgan", "mnist-dcgan", "mnist-mlp", "mnist-infogan", "mnist-cdcgan",
         "fashion-mnist-dcgan", "cifar10-dcgan")


def preset_groups() -> list[tuple[str, list[str]]]:
    """Headings for `ganbench presets`: seed experiments, quick (built-in data), your own data."""
    seeds = [n for n in PRESETS.names() if n in NOTES]
    quick = [n for n in PRESETS.names() if n in QUICK and n not in seeds]
    rest = [n for n in PRESETS.names() if n not in seeds and n not in quick]
    return [
        ("seed experiments (seeds-experiments.md; --show NAME for the recipe, the note says what was chosen)", seeds),
        ("quick (built-in or downloadable data)", quick),
        ("your own data (--set data.name=folder:PATH)", rest),
    ]


def get_preset(name: str) -> RunConfig:
    return PRESETS.get(name)()
