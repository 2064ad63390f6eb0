"""Data in: reading files, tokenizing, vocabulary, labels, encoding and batching (no models, no training)."""
