"""The phase runner. Two critic schedules (loss.critic_schedule):
- alternate: one D step per batch, one G step every `n_critic` batches (an epoch makes
  batches D updates and batches / n_critic G updates);
- same-batch: `n_critic` D steps on the same real batch (fresh fakes each time), then one
  G step, every batch (n_critic x batches D updates, batches G updates; seed 002's WGAN-GP).

A new GAN variant is a loss entry or a model entry, never another branch here: the loss
says whether it wants a gradient penalty, the model says whether it is conditional
(labels go to G and D) or InfoGAN-style (D has a Q head and G gets sampled codes).

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

from ganbench.config import LossConfig
from ganbench.losses import GanLoss, gradient_penalty, info_loss
from ganbench.train.stats import Stats


def unwrap(m: nn.Module) -> nn.Module:
    return m.module if isinstance(m, nn.parallel.DistributedDataParallel) else m


def _requires_grad(m: nn.Module, flag: bool) -> None:
    for p in m.parameters():
        p.requires_grad_(flag)


@dataclass
class GanStep:
    G: nn.Module  # possibly DDP-wrapped
    D: nn.Module  # possibly DDP-wrapped
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    loss: GanLoss
    loss_cfg: LossConfig
    latent_dim: int
    conditional: bool
    info: bool
    n_cont: int
    sample_labels: callable  # (n, generator, device) -> Tensor | None
    device: torch.device
    amp: bool = False  # bf16 autocast, GPU only

    def _autocast(self):
        if self.amp and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _latent(self, n: int, labels: Optional[torch.Tensor], gen: torch.Generator):
        z = torch.randn(n, self.latent_dim, generator=gen, device=self.device)
        if self.conditional:
            return z, labels  # fake images of the same classes as the real batch
        if self.info:
            return z, self.sample_labels(n, gen, self.device)
        return z, None

    def _info_term(self, D: nn.Module, fake: torch.Tensor, codes: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        _, cat_logits, cont_pred = D.info(fake)
        cont = z[:, self.latent_dim - self.n_cont :] if self.n_cont else z[:, :0]
        return self.loss_cfg.info_weight * info_loss(cat_logits, codes, cont_pred, cont)

    def _fake(self, n: int, labels: torch.Tensor, gen: torch.Generator, with_graph: bool):
        z, g_labels = self._latent(n, labels, gen)
        if with_graph:  # kept for the G step that follows (one G forward per iteration)
            with self._autocast():
                return self.G(z, g_labels).float(), z, g_labels
        with torch.no_grad(), self._autocast():
            return unwrap(self.G)(z, g_labels).float(), z, g_labels

    def d_step(self, real, labels, fake, z, g_labels, gen: torch.Generator, stats: Stats) -> torch.Tensor:
        D = self.D
        d_labels = labels if self.conditional else None
        fake = fake.detach()
        with self._autocast():
            real_logits = D(real, d_labels).float()
            fake_logits = D(fake, g_labels if self.conditional else None).float()
            loss_d = self.loss.d_loss(real_logits, fake_logits)
        if self.loss.uses_gp:
            gp = gradient_penalty(D, real, fake, d_labels, generator=gen,
                                  per_element=self.loss_cfg.gp_eps == "element")
            stats.report("gp", gp)
            loss_d = loss_d + self.loss_cfg.gp_weight * gp
        if self.info:
            # D's Q head learns to recover the codes from (detached) fakes.
            inf = self._info_term(unwrap(self.D), fake, g_labels, z)
            stats.report("info_d", inf)
            loss_d = loss_d + inf
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

    def g_step(self, fake, z, g_labels, stats: Stats) -> torch.Tensor:
        D = unwrap(self.D)
        d_labels = g_labels if self.conditional else None
        _requires_grad(D, False)
        try:
            with self._autocast():
                loss_g = self.loss.g_loss(D(fake, d_labels).float())
            if self.info:
                inf = self._info_term(D, fake, g_labels, z)
                stats.report("info_g", inf)
                loss_g = loss_g + inf
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
        finally:
            _requires_grad(D, True)
        stats.report("loss_g", loss_g)
        return loss_g

    def step(self, i: int, real: torch.Tensor, labels: torch.Tensor, gen: torch.Generator, stats: Stats) -> None:
        n_critic = self.loss_cfg.n_critic
        if self.loss_cfg.critic_schedule == "same-batch" and n_critic > 1:
            for _ in range(n_critic):
                fake, z, g_labels = self._fake(real.shape[0], labels, gen, with_graph=False)
                self.d_step(real, labels, fake, z, g_labels, gen, stats)
            fake, z, g_labels = self._fake(real.shape[0], labels, gen, with_graph=True)
            self.g_step(fake, z, g_labels, stats)
            return
        # With one D step per G step, the G step reuses this iteration's fakes (as the
        # textbook DCGAN loop does): one G forward per iteration instead of two.
        reuse = n_critic == 1
        fake, z, g_labels = self._fake(real.shape[0], labels, gen, with_graph=reuse)
        self.d_step(real, labels, fake, z, g_labels, gen, stats)
        if (i + 1) % n_critic == 0:
            if not reuse:
                fake, z, g_labels = self._fake(real.shape[0], labels, gen, with_graph=True)
            self.g_step(fake, z, g_labels, stats)
