"""The built-in search spaces, in the same YAML a user's `--space FILE` is written in.

They live here as text (not as package data files) so an installed wheel always has them;
`ganbench tune --space NAME --print-space` prints one to start your own file from.
"""

DEFAULT = """\
# ganbench's default space: both learning rates, shared Adam betas, the batch size and the
# loss family; the critic steps and gradient-penalty weight only where the loss is WGAN-GP.
sampler: tpe            # tpe | random | grid | cmaes
constant_liar: true     # TPE: trials running elsewhere (--parallel, other drivers) count as
                        # bad guesses, so concurrent trials do not all sample the same spot
n_startup_trials: 4     # random trials before TPE / CMA-ES model the results
params:
  lr_g: {low: 1.0e-5, high: 2.0e-3, log: true}
  lr_d: {low: 1.0e-5, high: 2.0e-3, log: true}
  beta1: {low: 0.0, high: 0.9}
  beta2: {low: 0.9, high: 0.9999}
  batch_size: {choices: [32, 64, 128]}
  # wgan-gp is kept only for a BatchNorm-free critic (model wgan): the penalty is per sample.
  loss: {choices: [bce, lsgan, hinge, wgan-gp]}
  n_critic: {low: 1, high: 10, when: {loss: wgan-gp}, otherwise: 1}   # seed 002 used 7
  gp_weight: {low: 1.0, high: 20.0, log: true, when: {loss: wgan-gp}}
"""

# Lucic, Kurach, Michalski, Gelly, Bousquet, "Are GANs Created Equal? A Large-Scale Study",
# NeurIPS 2018: the wide ranges searched for every loss, batch size 64, random search.
LUCIC = """\
# Lucic et al. 2018 ("Are GANs Created Equal?"): the wide ranges they searched for every
# GAN, at batch size 64, by random search. One learning rate for both networks; the loss
# stays the preset's (they tuned each loss on its own).
sampler: random         # as in the paper; --sampler tpe usually gets further on tens of trials
constant_liar: false
n_startup_trials: 4
set:
  data.batch_size: 64
params:
  lr: {low: 1.0e-5, high: 1.0e-2, log: true}
  beta1: {low: 0.0, high: 0.999}     # [0, 1] in the paper; Adam needs beta1 < 1
  beta2: {low: 0.9, high: 0.9999}    # [0.9, 1] in the paper; Adam needs beta2 < 1
  n_critic: {choices: [1, 5], when: {loss: wgan-gp}}
"""

BUILTIN = {"default": DEFAULT, "lucic": LUCIC}
