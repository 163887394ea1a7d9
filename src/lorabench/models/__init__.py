"""Models: load a base (hub id, folder, .gguf, packaged alias) with or without a LoRA adapter, GGUF conversion, portable adapter folders."""
