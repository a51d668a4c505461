"""Uploading an export folder to the Hub with huggingface_hub.

The token comes from the HF_TOKEN environment variable or the `hf auth login` cache (both through
`huggingface_hub.get_token`); it is handed to the client only, never logged, printed or written.
"""

from __future__ import annotations

import logging
from pathlib import Path

from framework.errors import FrameworkError

logger = logging.getLogger(__name__)


def push_folder(folder: str | Path, repo_id: str, *, private: bool = False,
                commit_message: str = "Upload model exported by framework") -> list[str]:
    """Create `repo_id` if needed and upload every file of `folder`; returns the uploaded names."""
    from huggingface_hub import HfApi, get_token

    folder = Path(folder)
    token = get_token()
    if not token:
        raise FrameworkError("no Hugging Face token: set HF_TOKEN or run `hf auth login`; nothing was uploaded.")
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    if "config.json" not in files:
        raise FrameworkError(f"{folder} has no config.json; push an export folder (framework export SRC OUT).")
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model",
                          commit_message=commit_message, allow_patterns=files)
    except Exception as err:  # HTTP, auth, network: one message for people (the client never echoes the token)
        raise FrameworkError(f"could not push to https://huggingface.co/{repo_id}: {type(err).__name__}: "
                             f"{_scrub(str(err), token)}") from None
    logger.info("pushed %d files to https://huggingface.co/%s (%s)", len(files), repo_id,
                "private" if private else "public")
    return files


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text
