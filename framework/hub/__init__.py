"""Publishing to the HuggingFace Hub: a model card with YAML metadata, and the upload itself.

    write_model_card(export_dir, run_dir)      # README.md: metadata, results, usage, training config
    push_folder(export_dir, "org/name", private=True)
"""

from framework.hub.card import write_model_card
from framework.hub.push import push_folder

__all__ = ["push_folder", "write_model_card"]
