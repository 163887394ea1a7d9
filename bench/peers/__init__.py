"""lorabench against the tools users would otherwise run: lm-evaluation-harness and TRL.

Each case builds one set of items from lorabench's synthetic data and SmolLM2-135M (the packaged
alias, converted once into an ordinary transformers folder that every tool loads), runs the peer
through its Python API as its CLI would and lorabench through the library code its CLI runs, times
only the equivalent work, and checks that both produced the same results:

- `choice`: lm-eval `HFLM.loglikelihood` against `lorabench eval` (choice_mode logprob);
- `generation`: lm-eval `HFLM.generate_until` against `lorabench eval` on extractive questions;
- `training`: TRL `SFTTrainer` against `lorabench train`, LoRA r16 on all linear layers.

Run with the peers' own venv: `make bench-peers` (full sizes) or `make bench-peers-quick`;
`python -m bench.peers --help` lists the options. bench/README.md says what is measured and how.
"""
