"""A judge behind an OpenAI-compatible server (`vllm serve`, llama.cpp's server, Ollama, a hosted API).

Requests go through the maintained `openai` client (the `lorabench[judge]` extra), greedy
(temperature 0), up to judge.concurrency of them in flight at once (one client, shared by the
worker threads). Each answer is handed on the moment it arrives, so the caller caches it then;
the order of the answers does not matter, the caller orders its judgments itself. Timeouts,
connection failures, 429 and 5xx are retried by the client with exponential backoff
(judge.max_retries times); once a request still fails no new one starts, the ones in flight are
awaited and kept, and the failure becomes one LorabenchError line saying what happened and how
many judgments were kept. The API key is read from the variable judge.api_key_env names and
scrubbed from every message that leaves this module.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from lorabench.config.judge import JudgeSettings
from lorabench.core.errors import LorabenchError
from lorabench.core.messages import Hint, Message
from lorabench.judging.cache import Completion, JudgePrompt

# A server without authentication (vllm serve, llama.cpp, Ollama) takes any key; the client needs one.
NO_KEY = "not-needed"


def _api_key(settings: JudgeSettings) -> str:
    if settings.api_key_env is None:
        return NO_KEY
    key = os.environ.get(settings.api_key_env)
    if not key:
        raise LorabenchError.about("judge.api_key_env", f"the environment variable {settings.api_key_env} is not set (or empty)")
    return key


def _client_module() -> Any:
    try:
        import openai
    except ImportError:
        raise LorabenchError(
            "judge.endpoint needs the openai client: pip install 'lorabench[judge]'"
        ) from None
    return openai


def check_endpoint(settings: JudgeSettings) -> None:
    """The client is installed and the key variable set; nothing is sent."""
    _client_module()
    _api_key(settings)


class EndpointJudge:
    def __init__(self, settings: JudgeSettings) -> None:
        self.settings = settings
        self.identity = json.dumps({
            "judge": "endpoint", "endpoint": settings.endpoint, "model": settings.model,
            "max_new_tokens": settings.max_new_tokens,
        }, sort_keys=True)
        self._client: Any = None
        self._key = ""

    def _connect(self) -> Any:
        if self._client is None:
            openai = _client_module()
            self._key = _api_key(self.settings)
            self._client = openai.OpenAI(
                base_url=self.settings.endpoint, api_key=self._key,
                timeout=self.settings.timeout_s, max_retries=self.settings.max_retries,
            )
        return self._client

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key and self._key != NO_KEY else text

    def _failure(self, error: Exception, done: int) -> LorabenchError:
        openai = _client_module()
        where = f"judge endpoint {self.settings.endpoint} (model {self.settings.model})"
        kept = f"{done} judgment(s) of this call finished and are cached; run again to resume"
        retried = f"after {self.settings.max_retries} retr{'y' if self.settings.max_retries == 1 else 'ies'} with backoff"
        if isinstance(error, openai.APITimeoutError):
            what = Message("no answer within ", Hint("judge.timeout_s", f"{self.settings.timeout_s:g}"), f" s {retried}")
        elif isinstance(error, openai.APIConnectionError):
            what = f"cannot connect {retried}"
        elif isinstance(error, openai.APIStatusError):
            status = error.status_code
            detail = self._scrub(str(getattr(error, "message", "") or error)).splitlines()[0][:200]
            transient = status == 429 or status >= 500
            what = f"HTTP {status} {retried if transient else '(not retried)'}: {detail}"
        else:
            what = self._scrub(str(error)).splitlines()[0][:200]
        return LorabenchError(Message(f"{where}: ", what, f"; {kept}"))

    def _one(self, text: str) -> Completion:
        started = time.perf_counter()
        response = self._connect().chat.completions.create(
            model=self.settings.model,
            messages=[{"role": "user", "content": text}],
            temperature=0,
            max_tokens=self.settings.max_new_tokens,
        )
        seconds = time.perf_counter() - started
        choices = response.choices or []
        content = (choices[0].message.content or "") if choices else ""
        usage = response.usage
        return Completion(
            content.strip(),
            int(getattr(usage, "prompt_tokens", 0) or 0),
            int(getattr(usage, "completion_tokens", 0) or 0),
            seconds,
        )

    def complete(self, prompts: Sequence[JudgePrompt]) -> Iterator[tuple[str, Completion]]:
        if not prompts:
            return
        openai = _client_module()
        self._connect()  # once, before the worker threads share the client
        waiting = iter(prompts)
        running: dict[Future[Completion], str] = {}
        failure: BaseException | None = None
        done = 0
        with ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="lorabench-judge") as pool:
            while True:
                # Only this loop starts requests, so none starts once one has failed.
                while failure is None and len(running) < self.settings.concurrency:
                    ask = next(waiting, None)
                    if ask is None:
                        break
                    running[pool.submit(self._one, ask[1])] = ask[0]
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    key = running.pop(future)
                    error = future.exception()
                    if error is not None:
                        failure = failure or error
                        continue
                    done += 1
                    yield key, future.result()
        if isinstance(failure, openai.OpenAIError):
            raise self._failure(failure, done) from None
        if failure is not None:
            raise failure

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "endpoint", "endpoint": self.settings.endpoint, "model": self.settings.model,
            "api_key_env": self.settings.api_key_env, "max_new_tokens": self.settings.max_new_tokens,
            "decoding": "greedy (temperature 0)", "timeout_s": self.settings.timeout_s,
            "max_retries": self.settings.max_retries,
        }
