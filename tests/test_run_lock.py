"""The run lock: one `ganzoo train` per run directory; a second is refused naming the first's
PID, and a lock whose holder died never blocks the next run."""

import subprocess
import sys
import time

import pytest

from ganzoo.runs.files import RunLock


def test_a_locked_run_dir_is_refused_naming_the_other_process(run, run_main, lock_held_elsewhere, snapshot,
                                                              ring_argv):
    with lock_held_elsewhere(run) as holder:
        before = snapshot(run)
        code, _, err = run_main([*ring_argv, "--run-dir", run, "--epochs", "3"])
        assert code == 2 and f"PID {holder.pid}" in err and len(err.strip().splitlines()) == 1, err
        assert snapshot(run) == before
    assert run_main([*ring_argv, "--run-dir", str(run), "--epochs", "3"])[0] == 0
    RunLock(run).acquire().release()  # and the run released its own lock


@pytest.mark.slow  # a TensorFlow start-up; test_a_locked_run_dir... covers the lock in the default suite
def test_a_second_ganzoo_on_a_training_run_dir_exits_2_naming_the_first(
        tmp_path, run_main, subprocess_env, ring_argv, latest):
    args = [*ring_argv, "--epochs", "40", "--run-dir", tmp_path / "run"]
    first = subprocess.Popen([sys.executable, "-m", "ganzoo", *map(str, args)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, env=subprocess_env())
    try:
        deadline = time.time() + 240
        while not (tmp_path / "run" / "checkpoints" / "latest.json").exists() and time.time() < deadline:
            assert first.poll() is None, first.communicate()[1]
            time.sleep(0.02)
        code, _, err = run_main(args)
        assert first.poll() is None, "the first run ended before the second started"
        assert code == 2 and f"PID {first.pid}" in err and "Traceback" not in err, err
    finally:
        first.kill()
        first.wait()
    # The killed run's lock went with it: resume, one more epoch.
    epochs = latest(tmp_path / "run")["epoch"] + 1
    assert run_main([*args[:-4], "--epochs", epochs, *args[-2:]])[0] == 0
    assert latest(tmp_path / "run")["step"] == 3 * epochs
