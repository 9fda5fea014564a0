"""GAN models: `build_models(cfg, image_shape, num_classes) -> GanModels`, looked up in MODELS.

Importing the variant modules registers them; adding a variant is one new module here.
"""
from ganbench.models.base import MODELS, GanModels, build_models, check_model
from ganbench.models import conditional, dcgan, infogan, mlp  # noqa: F401  (registration)

__all__ = ["MODELS", "GanModels", "build_models", "check_model"]
