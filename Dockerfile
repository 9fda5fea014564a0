# The one image ganbench runs from on Kubernetes (k8s/): Ray head and workers, the tuning
# RayJob, Serve replicas and the MLflow server. Not built or run in this repository's CI
# (it has no docker daemon); k8s/README.md says how to build and push it.
#
#   docker build -t registry.example.com/ganbench:0.1.0-ray2.60.0-py311-gpu .
#
# Ray's own image: Python 3.11 and ray 2.60.0 (pinned in pyproject.toml; KubeRay needs the
# Ray inside to equal spec.rayVersion), the `ray` user, CUDA user-space for the GPU nodes.
FROM rayproject/ray:2.60.0-py311-gpu

# torch and torchvision first: the largest layer (a CUDA build from PyPI) and the one that
# changes least, so rebuilding after a code change reuses it.
RUN pip install --no-cache-dir torch==2.14.1 torchvision==0.29.1

# --chown: the image runs as `ray`, and building the project writes into its source folder.
COPY --chown=ray:users pyproject.toml README.md /home/ray/ganbench/
COPY --chown=ray:users ganbench /home/ray/ganbench/ganbench
COPY --chown=ray:users tuning /home/ray/ganbench/tuning
COPY --chown=ray:users serve /home/ray/ganbench/serve
WORKDIR /home/ray/ganbench
# The project with its pinned dependencies (ray is already the image's), plus psycopg (3): the
# PostgreSQL driver of the postgresql+psycopg:// URLs of MLflow's backend store and Optuna's
# storage on the cluster (SQLAlchemy 2.1's default for plain postgresql:// too).
RUN pip install --no-cache-dir . "psycopg[binary]"
