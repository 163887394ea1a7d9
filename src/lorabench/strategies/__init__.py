"""Ways to ask several questions on one context (extractive QA), for training and evaluation alike.

`single` asks one question per prompt (lorabench.prompts); `batch` asks all of a context's
questions in one numbered prompt (batch.py); `sequential` asks them one turn at a time in a
conversation (sequential.py). grouping.py forms the contexts, accounting.py prices each strategy.
"""
