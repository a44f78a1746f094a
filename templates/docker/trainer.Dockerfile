# The llmops trainer image: Python, torch and llmops's trainer (/opt/llmops/trainer/train.py).
# Built by `llmops image build --target trainer`. The default base is Debian with python3-torch
# (CPU); for GPUs pass a CUDA base that already has torch, e.g.
#   llmops image build --target trainer --base pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime
# (apt-get is skipped when the base's python3 already imports torch).
# The build context: trainer/ (the trainer's Python files).
ARG BASE=debian:bookworm-slim
FROM ${BASE}
# libopenblas0-pthread: without it Debian's torch falls back to the reference BLAS (10x slower).
RUN if python3 -c 'import torch, onnx' >/dev/null 2>&1; then echo "torch already in the base image"; else \
      apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
           python3 python3-torch python3-onnx libopenblas0-pthread >/dev/null \
      && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb; \
    fi \
 && python3 -c 'import torch; print("torch", torch.__version__)'
COPY trainer/ /opt/llmops/trainer/
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 HOME=/tmp
WORKDIR /opt/llmops
ENTRYPOINT ["python3", "/opt/llmops/trainer/train.py"]
