"""Synthetic twins: learnable stand-ins with each real dataset's task, labels, modalities and protocol."""
