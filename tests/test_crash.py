"""Crash safety with real processes: `rag index` killed mid-run, two writers at once, a lock left by a dead one."""

import os
import signal
import subprocess

from eval.bench_big_jsonl import write_jsonl
from eval.crash_test import RAG, run_crash_test, wait_until, write_corpus
from rag.index.journal import saved_chunks
from rag.index.store import LOCK


def test_index_killed_at_random_moments_is_always_the_old_or_the_new_one(tmp_path, encoder, settings):
    # Four kills here (a random time, inside the save, at the switch, a random time); eval/crash_test.py runs 24.
    report = run_crash_test(tmp_path, kills=4, articles=40, seed=5, encoder=encoder, settings=settings)
    assert [r.mode for r in report.runs] == ["time", "save", "switch", "time"]
    assert all(r.state in ("before", "after") and r.error is None for r in report.runs), "\n".join(report.lines())
    assert report.final_state_ok and report.final_leftovers == [], "\n".join(report.lines())


def start_index_holding_the_lock(corpus):
    """A `rag index` process, returned once it holds the writer lock (its pid is in the lock file)."""
    process = subprocess.Popen([RAG, "index", str(corpus)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = corpus / ".rag-index" / LOCK
    wait_until(process, lambda: lock.is_file() and lock.read_text().strip() == str(process.pid))
    assert process.poll() is None, process.communicate()
    return process


def test_a_second_index_run_is_refused_with_the_owner_pid(tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, articles=20, version=0)
    first = start_index_holding_the_lock(corpus)
    os.kill(first.pid, signal.SIGSTOP)  # frozen while it holds the lock: the second run meets it for certain
    try:
        second = subprocess.run([RAG, "index", str(corpus)], capture_output=True, text=True, timeout=300)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert second.returncode == 1
    assert second.stderr.strip() == (f"rag: error: another `rag index` (pid {first.pid}) is updating {corpus}/.rag-index; wait for it to finish and try again")
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert "indexed 21 articles" in out


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path):
    corpus = tmp_path / "corpus"
    write_corpus(corpus, articles=20, version=0)
    dead = start_index_holding_the_lock(corpus)
    dead.kill()
    dead.wait()
    assert (corpus / ".rag-index" / LOCK).read_text().strip() == str(dead.pid)  # the stale lock file
    result = subprocess.run([RAG, "index", str(corpus)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "indexed 21 articles" in result.stdout


def test_a_long_jsonl_run_killed_part_way_resumes_where_it_stopped(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    write_jsonl(corpus / "wire.jsonl", lines=240)
    env = {**os.environ, "RAG_INDEX_PROGRESS_CHUNKS": "16"}
    first = subprocess.Popen([RAG, "index", str(corpus)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    wait_until(first, lambda: saved_chunks(corpus / ".rag-index") >= 48)
    assert first.poll() is None, first.communicate()
    first.kill()
    first.wait()
    saved = saved_chunks(corpus / ".rag-index")

    second = subprocess.run([RAG, "index", str(corpus)], capture_output=True, text=True, timeout=600, env=env)
    assert second.returncode == 0, second.stderr
    assert "indexed 240 articles, 240 chunks" in second.stdout
    resumed = int(second.stdout.split("resumed: ")[1].split()[0])
    assert resumed >= saved >= 48  # at least what was saved before the kill (more may have landed before it took effect)
    assert f"{240 - resumed} chunks embedded, {resumed} reused" in second.stdout
