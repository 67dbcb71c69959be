"""``shiftlab serve``: a trained model behind HTTP (FastAPI and uvicorn), with micro-batching
and a page to try it. An ``.onnx`` model is served without torch."""
