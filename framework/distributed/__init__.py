"""Process groups, launchers and the DeepSpeed config: everything about more than one process."""
