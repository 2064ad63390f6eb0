"""Prediction: logits of encoded texts, probabilities, thresholds, the ONNX Runtime, output rows."""
