"""LoRA training on CPU, run in a worker process of its own (``python -m cluster.finetune.lora.train``).

Only this package imports torch, transformers and peft (the ``finetune`` extra); the service talks to it
through a JSON spec file and JSON lines on the worker's stdout (``cluster.finetune.local``).
"""
