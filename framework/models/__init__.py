"""The model zoo: single-device PyTorch models that are, weight for weight, stock HF models."""
