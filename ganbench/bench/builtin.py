"""Built-in suites, `ganbench bench NAME`. Each is the YAML a user would write (kept as text
here, not as package data, so it also ships in a plain `pip install .`), parsed by the same
code as a suite file; `ganbench bench --show NAME` prints it as a starting point.
"""
from __future__ import annotations

from ganbench.registry import Registry

SUITES: Registry[str] = Registry("suite")

SUITES.add("smoke", """\
name: smoke
description: two tiny cells x two seeds on the built-in digits; seconds per run on CPU (CI runs it)
protocol:                     # the digits CNN with small counts: a smoke check, not a published number
  metric: fid
  backbone: digitscnn
  n_gen: 300
  n_real: 0                   # the whole split (1,797 digits)
  kid_subsets: 10
  kid_subset_size: 100
  final: false                # the during-training evaluation (every epoch) is the number
  every: 1
budget: {epochs: 2}
seeds: 2
resources: {workers: 1, cpus: 1}
target: 2800                  # fid300_digitscnn to reach (time to target); 2 debug epochs are far from good
cells:
  - {name: bce, preset: debug}
  - {name: lsgan, preset: debug, set: {loss.name: lsgan}}
""", "two tiny cells x two seeds on the built-in digits, seconds on CPU (CI)")

SUITES.add("losses-mnist", """\
name: losses-mnist
description: >-
  Lucic et al. 2018 on MNIST: non-saturating BCE, LSGAN, WGAN-GP and hinge on the same DCGAN
  (28 px, ngf=ndf=64), the same budget and several seeds. WGAN-GP uses the DCGAN generator with a
  BatchNorm-free critic (a gradient penalty needs per-sample gradients) and its paper's
  optimiser (Adam 1e-4, betas 0.5/0.9, n_critic 5). Give the data: --set data.root=DIR
  (and --set data.split=test for the 10k test split on a small machine).
protocol:
  metric: fid
  backbone: inception
  n_gen: 10000
  n_real: 10000
  real_split: test
  final: true                 # the best checkpoint, evaluated once at the end
  proxy: {every: 1, backbone: mnistcnn, n_gen: 2000, metric: fid}
budget: {epochs: 10}
seeds: 3
set: {data.name: mnist}
cells:
  - {name: ns-bce, preset: mnist-dcgan, set: {loss.name: bce}}
  - {name: lsgan, preset: mnist-dcgan, set: {loss.name: lsgan}}
  - name: wgan-gp
    preset: mnist-dcgan
    set: {model.name: wgan, loss.name: wgan-gp, loss.n_critic: 5, loss.gp_weight: 10.0,
          optim_g.lr: 1.0e-4, optim_d.lr: 1.0e-4, optim_g.beta2: 0.9, optim_d.beta2: 0.9}
  - {name: hinge, preset: mnist-dcgan, set: {loss.name: hinge}}
""", "Lucic et al.'s loss comparison on MNIST: bce, lsgan, wgan-gp, hinge on one DCGAN (--set data.root=DIR)")

SUITES.add("seeds-mnist", """\
name: seeds-mnist
description: >-
  The MNIST experiments of seed project 004 (../shared/seeds-experiments.md, E1-E11), each its
  seed-faithful preset with the seed's own recipe and epoch count (budget.epochs 0 keeps each
  cell's train.epochs; add --set train.epochs=N for an equal, shorter budget). Left out: E6 and
  E7 (64 and 32 px: their FID references would not be the 28 px one the other cells share; train
  them with --preset mnist-dcgan-64-e6 / mnist-dcgan-32-e7) and E8 (the seed's own hyperparameter
  study: `ganbench tune --preset mnist-dcgan --space lucic`). `ganbench presets --show NAME` says
  what each seed left unstated. Give the data: --set data.root=DIR.
protocol:
  metric: fid
  backbone: inception
  n_gen: 10000
  n_real: 10000
  real_split: test
  final: true
  proxy: {every: 5, backbone: mnistcnn, n_gen: 2000, metric: fid}
budget: {epochs: 0}
seeds: 2
set: {data.name: mnist}
cells:
  - {name: E1-mse-sigmoid, preset: mnist-dcgan-mse-e1}
  - {name: E2-lr1e-3, preset: mnist-dcgan-lr1e-3-e2}
  - {name: E3-best, preset: mnist-dcgan-e3}
  - {name: E4-lr1e-3-b0.9, preset: mnist-dcgan-beta09-e4}
  - {name: E5-layout, preset: mnist-dcgan-e5-layout}
  - {name: E9-mlp3, preset: mnist-mlp3-e9}
  - {name: E10-mlp4, preset: mnist-mlp4-e10}
  - {name: E11-mlp-sgd-d, preset: mnist-mlp}
""", "seed project 004's MNIST experiments E1-E11 as cells, each its seed preset (--set data.root=DIR)")

SUITES.add("art-64", """\
name: art-64
description: >-
  The seeds' art experiments at 64 px on your folder (--set data.name=folder:PATH): LSGAN (seed 000
  A1), DCGAN (seed 002 C1: squash resize, no flips, Adam 1e-4, batch 128) and WGAN-GP (seed 002 C3:
  7 critic steps on the same batch, per-element gradient penalty). Scored by Inception FID on 5,000
  samples against the whole folder (unlabelled art has no offline proxy). Slow on CPU: use --gpu.
protocol:
  metric: fid
  backbone: inception
  n_gen: 5000
  n_real: 0
  final: true
budget: {epochs: 20}
seeds: 3
cells:
  - {name: A1-lsgan, preset: art-lsgan-64}
  - {name: C1-dcgan, preset: art-dcgan-64-seed002}
  - {name: C3-wgan-gp, preset: art-wgangp-64-seed002}
""", "LSGAN, DCGAN and WGAN-GP at 64 px on your art folder, as the seeds ran them (--set data.name=folder:PATH)")

SUITES.add("art-128", """\
name: art-128
description: >-
  The seeds' 128 px art DCGANs on your folder (--set data.name=folder:PATH): seed 001 B2 (h+v
  flips, BCE, batch 128), seed 002 C2 (C1's recipe at 128 px) and seed 004 E12 (z 128, Adam G
  1e-3 / D 1e-4). Inception FID on 5,000 samples against the whole folder. GPU only in practice.
protocol:
  metric: fid
  backbone: inception
  n_gen: 5000
  n_real: 0
  final: true
budget: {epochs: 20}
seeds: 3
cells:
  - {name: B2-flips, preset: art-dcgan-128-flips}
  - {name: C2-seed002, preset: art-dcgan-128-seed002}
  - {name: E12-z128, preset: art-dcgan-128-e12}
""", "the seeds' 128 px art DCGANs on your folder (--set data.name=folder:PATH; GPU)")
