"""LoRA training: training examples from records, the Trainer with answer-only loss and real-metric validation, merging an adapter."""
