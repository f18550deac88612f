"""Sentences -> Segmentation: a label, tags and a product number for every sentence."""
