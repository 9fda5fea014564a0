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


@PRESETS.register("mnist-dcgan", "DCGAN 28 px on MNIST: recognisable digits of all classes in under 10 minutes on 2 CPU cores")
def mnist_dcgan() -> RunConfig:
    # Sized for a 2-core CPU on the 10k test split (benchmarks/mnist_preset.py measures it):
    # 25 epochs x 10k images at ~800 img/s. With the 60k train split, 5 epochs cost the same.
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


def get_preset(name: str) -> RunConfig:
    return PRESETS.get(name)()
