"""The phase runner. Two critic schedules (loss.critic_schedule):
- alternate: one D step per batch, one G step every `n_critic` batches (an epoch makes
  batches D updates and batches / n_critic G updates);
- same-batch: `n_critic` D steps on the same real batch (fresh fakes each time), then one
  G step, every batch (n_critic x batches D updates, batches G updates; seed 002's WGAN-GP).

A new GAN variant is a loss entry or a model entry, never another branch here: the loss
says whether it wants a gradient penalty; G says what it reads for a batch
(`G.sample_latent`: z plus the real batch's classes, sampled codes, or nothing) and D says
whether it adds a term of its own (`D.aux_loss`: InfoGAN's Q head). Labels go to every
D call; a D that does not condition ignores them.

DDP notes (why the calls look the way they do):
- Fakes: with n_critic == 1 they are made once through G's DDP wrapper and reused by the
  G step; otherwise D's fakes come from the *unwrapped* G under no_grad (no DDP
  bookkeeping for a forward without a backward). D runs through its DDP wrapper in the
  D phase so its gradients are averaged across ranks.
- G phase: G runs through DDP; D runs *unwrapped* with requires_grad off, so D's
  parameters neither accumulate gradients nor trigger an all-reduce for a step that
  does not update them.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from ganbench.augment import diff_augment
from ganbench.config import LossConfig
from ganbench.losses import GanLoss, gradient_penalty
from ganbench.models.ema import GeneratorEMA
from ganbench.train.stats import Stats


def unwrap(m: nn.Module) -> nn.Module:
    return m.module if isinstance(m, nn.parallel.DistributedDataParallel) else m


def _requires_grad(m: nn.Module, flag: bool) -> None:
    for p in m.parameters():
        p.requires_grad_(flag)


@dataclass
class GanStep:
    G: nn.Module  # a models.Generator, possibly DDP-wrapped
    D: nn.Module  # a models.Discriminator, possibly DDP-wrapped
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    loss: GanLoss
    loss_cfg: LossConfig
    device: torch.device
    amp: bool = False  # bf16 autocast, GPU only
    ema: Optional[GeneratorEMA] = None  # moved towards G after every G step (ema.decay > 0)
    augment: str = ""  # DiffAugment policy for every image D judges ("" = none)
    # DiffAugment's own random stream (reseeded per epoch by the loop): turning augmentation
    # on leaves the noise and data streams unchanged, so A/B runs differ only by it.
    aug_gen: Optional[torch.Generator] = None

    def _autocast(self):
        if self.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _fake(self, n: int, labels: Optional[torch.Tensor], gen: torch.Generator, with_graph: bool):
        z, g_labels = unwrap(self.G).sample_latent(n, labels, gen, self.device)
        if with_graph:  # kept for the G step that follows (one G forward per iteration)
            with self._autocast():
                return self.G(z, g_labels).float(), z, g_labels
        with torch.no_grad(), self._autocast():
            return unwrap(self.G)(z, g_labels).float(), z, g_labels

    def d_logits(self, D: nn.Module, x: torch.Tensor, labels: Optional[torch.Tensor]) -> torch.Tensor:
        """Every image D judges in a step passes here: real and fake alike get DiffAugment
        (differentiable, so G's gradient flows through it), each sample its own draw."""
        with self._autocast():
            return D(self._augmented(x), labels).float()

    def _augmented(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.augment, self.aug_gen) if self.augment else x

    def _feature_matching(self, D: nn.Module, real, labels, fake, g_labels, stats: Stats) -> Optional[torch.Tensor]:
        """loss.feature_matching x |mean D features(real) - mean D features(fake)|^2, for G."""
        weight = self.loss_cfg.feature_matching
        if not weight:
            return None
        with self._autocast():  # D judges augmented images; its features are compared the same way
            with torch.no_grad():
                target = D.features(self._augmented(real), labels).float().mean(0)
            term = weight * (D.features(self._augmented(fake), g_labels).float().mean(0) - target).square().sum()
        stats.report("fm_g", term)
        return term

    def _aux(self, D: nn.Module, fake, z, g_labels, stats: Stats, phase: str) -> Optional[torch.Tensor]:
        term = D.aux_loss(fake, z, g_labels)
        if term is None:
            return None
        term = self.loss_cfg.info_weight * term
        stats.report(f"{D.aux_name}_{phase}", term)
        return term

    def d_step(self, real, labels, fake, z, g_labels, gen: torch.Generator, stats: Stats) -> torch.Tensor:
        fake = fake.detach()
        real_logits = self.d_logits(self.D, real, labels)
        fake_logits = self.d_logits(self.D, fake, g_labels)
        loss_d = self.loss.d_loss(real_logits, fake_logits)
        if self.loss.uses_gp:
            gp = gradient_penalty(self.D, real, fake, labels, generator=gen,
                                  per_element=self.loss_cfg.gp_eps == "element")
            stats.report("gp", gp)
            loss_d = loss_d + self.loss_cfg.gp_weight * gp
        aux = self._aux(unwrap(self.D), fake, z, g_labels, stats, "d")  # e.g. Q learns the codes from fakes
        if aux is not None:
            loss_d = loss_d + aux
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        thr = self.loss.real_threshold
        stats.report("loss_d", loss_d)
        stats.report("d_real", self.loss.output(real_logits))
        stats.report("d_fake", self.loss.output(fake_logits))
        stats.report("d_acc_real", (real_logits > thr).float())
        stats.report("d_acc_fake", (fake_logits <= thr).float())
        return loss_d

    def g_step(self, fake, z, g_labels, stats: Stats, real=None, labels=None) -> torch.Tensor:
        """real, labels: this iteration's real batch (feature matching compares with it)."""
        D = unwrap(self.D)
        _requires_grad(D, False)
        try:
            fake_logits = self.d_logits(D, fake, g_labels)
            loss_g = self.loss.g_loss(fake_logits)
            aux = self._aux(D, fake, z, g_labels, stats, "g")
            if aux is not None:
                loss_g = loss_g + aux
            fm = self._feature_matching(D, real, labels, fake, g_labels, stats) if real is not None else None
            if fm is not None:
                loss_g = loss_g + fm
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
            if self.ema is not None:  # every rank: its G is the same after DDP's all-reduce
                self.ema.update(self.G)
        finally:
            _requires_grad(D, True)
        stats.report("loss_g", loss_g)
        # D(G(z)) as the G step sees it: after D's update, before G's (the DCGAN tutorial's
        # second D(G(z)) number); d_fake is the same before D's update.
        stats.report("d_fake_g", self.loss.output(fake_logits.detach()))
        return loss_g

    def step(self, i: int, real: torch.Tensor, labels: torch.Tensor, gen: torch.Generator, stats: Stats) -> None:
        n_critic = self.loss_cfg.n_critic
        if self.loss_cfg.critic_schedule == "same-batch" and n_critic > 1:
            for _ in range(n_critic):
                fake, z, g_labels = self._fake(real.shape[0], labels, gen, with_graph=False)
                self.d_step(real, labels, fake, z, g_labels, gen, stats)
            fake, z, g_labels = self._fake(real.shape[0], labels, gen, with_graph=True)
            self.g_step(fake, z, g_labels, stats, real, labels)
            return
        # With one D step per G step, the G step reuses this iteration's fakes (as the
        # textbook DCGAN loop does): one G forward per iteration instead of two.
        reuse = n_critic == 1
        fake, z, g_labels = self._fake(real.shape[0], labels, gen, with_graph=reuse)
        self.d_step(real, labels, fake, z, g_labels, gen, stats)
        if (i + 1) % n_critic == 0:
            if not reuse:
                fake, z, g_labels = self._fake(real.shape[0], labels, gen, with_graph=True)
            self.g_step(fake, z, g_labels, stats, real, labels)
