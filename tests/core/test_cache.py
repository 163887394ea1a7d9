"""core.cache: the one folder lorabench caches into (converted GGUF models, the judge's verdicts)."""

from __future__ import annotations

from lorabench.core import cache


def test_the_cache_root_is_the_given_folder_else_the_users_cache(monkeypatch, tmp_path) -> None:
    assert cache.cache_root(tmp_path / "here") == tmp_path / "here"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.cache_root("~/elsewhere") == tmp_path / "elsewhere"
    assert cache.cache_root() == cache.cache_root(None) == cache.DEFAULT_CACHE_ROOT
    assert cache.DEFAULT_CACHE_ROOT.parts[-2:] == (".cache", "lorabench")  # under the home lorabench was imported with
