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
  The MNIST experiments of seed project 004 (../shared/seeds-experiments.md, E1-E11), each with
  the seed's own recipe and epoch count (budget.epochs 0 keeps each cell's train.epochs; add
  --set train.epochs=N for an equal, shorter budget). Not expressible yet, so not in the suite:
  E5 (its recipe is E4's; its layer layout - k3 layers, 4-block G - cannot be configured),
  E6 (64 px: its FID reference would be 64 px MNIST, not comparable with the 28 px cells),
  E8 (the seed's hyper-parameter study: run `ganbench tune --preset mnist-dcgan`; epochs, dropout
  and init are not searchable). Approximations: E1's MSE loss is LSGAN (0.5*MSE on logits, BN-free
  first D layer, DCGAN init); E7's 5/4-layer nets are ganbench's 28 px DCGAN; E9/E10's 3-layer
  MLPs are ganbench's 4-layer `mlp` (LeakyReLU + BN1d in G, Dropout 0.3 in D); E11's SGD learning
  rate is not stated by the seed (the preset's 0.01, momentum 0.5).
  Give the data: --set data.root=DIR.
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
  - {name: E1-mse, preset: mnist-dcgan, set: {loss.name: lsgan, train.epochs: 15}}
  - {name: E2-lr1e-3, preset: mnist-dcgan, set: {optim_g.lr: 1.0e-3, optim_d.lr: 1.0e-3, train.epochs: 30}}
  - {name: E3-best, preset: mnist-dcgan, set: {data.batch_size: 128, train.epochs: 100}}
  - name: E4-lr1e-3-b0.9
    preset: mnist-dcgan
    set: {optim_g.lr: 1.0e-3, optim_d.lr: 1.0e-3, optim_g.beta1: 0.9, optim_d.beta1: 0.9, train.epochs: 50}
  - name: E7-b0.9-150ep
    preset: mnist-dcgan
    set: {optim_g.beta1: 0.9, optim_d.beta1: 0.9, data.batch_size: 128, train.epochs: 150}
  - name: E9-mlp-adam
    preset: mnist-mlp
    set: {optim_d.name: adam, optim_d.lr: 2.0e-4, optim_d.momentum: 0.0, data.batch_size: 128, train.epochs: 50}
  - name: E10-mlp-adam-150ep
    preset: mnist-mlp
    set: {optim_d.name: adam, optim_d.lr: 2.0e-4, optim_d.momentum: 0.0, data.batch_size: 128, train.epochs: 150}
  - {name: E11-mlp-sgd-d, preset: mnist-mlp}
""", "seed project 004's MNIST experiments E1-E11 as cells, each with its own recipe (--set data.root=DIR)")

SUITES.add("art-64", """\
name: art-64
description: >-
  The seeds' art experiments at 64 px on your folder (--set data.name=folder:PATH): LSGAN (seed 000),
  DCGAN with BCE (seed 002 version 1's recipe: Adam 1e-4, batch 128, no flips) and WGAN-GP (seed 002
  version 3, BatchNorm-free critic). Scored by Inception FID on 5,000 samples against the whole
  folder (unlabelled art has no offline backbone). Slow on CPU: use --gpu.
protocol:
  metric: fid
  backbone: inception
  n_gen: 5000
  n_real: 0
  final: true
budget: {epochs: 20}
seeds: 3
cells:
  - {name: lsgan, preset: art-lsgan-64}
  - name: dcgan
    preset: art-lsgan-64
    set: {loss.name: bce, data.batch_size: 128, optim_g.lr: 1.0e-4, optim_d.lr: 1.0e-4, data.hflip: false}
  - {name: wgan-gp, preset: art-wgangp-64}
""", "LSGAN, DCGAN and WGAN-GP at 64 px on your art folder (--set data.name=folder:PATH)")
