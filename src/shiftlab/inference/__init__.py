"""Using a trained model: load a checkpoint, evaluate, predict on new files, export to ONNX.

The ONNX path (``backends.OnnxBackend`` with ``inputs`` and ``outputs``) needs neither torch
nor Lightning: ``predict`` from an ``.onnx`` file runs with numpy, onnxruntime, Pillow and
albumentations (images) or soundfile and scipy (recordings).
"""
