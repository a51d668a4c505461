"""Visualisation: attention heatmaps (`framework viz attention`)."""

from framework.viz.attention import AttentionMap, attention_maps, plot

__all__ = ["AttentionMap", "attention_maps", "plot"]
