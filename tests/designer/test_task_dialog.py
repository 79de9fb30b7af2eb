"""The export and import dialogs' shared job lifecycle: closing the dialog while its job runs
waits for the job (a destroyed running QThread aborts the app), and a failure is shown."""
import threading

from designer.task_dialog import TaskDialog


class Recording(TaskDialog):
    def __init__(self):
        super().__init__()
        self.results, self.failures = [], []

    def _on_done(self, result):
        self.results.append(result)

    def _on_failed(self, message):
        self.failures.append(message)
        self.show_failure(f"failed: {message}")


def test_closing_while_the_job_runs_waits_for_it(qtbot):
    dialog = Recording()
    qtbot.addWidget(dialog)
    dialog.show()
    release, finished = threading.Event(), threading.Event()

    def job(progress):
        progress(0.5, "halfway")
        assert release.wait(10)
        finished.set()
        return 42

    dialog.run_task(job, "test", "Working…")
    assert dialog.is_busy() and dialog.status.text() == "Working…"
    threading.Timer(0.2, release.set).start()
    dialog.close()  # the title bar's ×: blocks until the job has returned
    assert finished.is_set()
    qtbot.waitUntil(lambda: dialog.results == [42], timeout=5000)
    assert not dialog.is_busy()


def test_a_failing_job_shows_its_message(qtbot):
    dialog = Recording()
    qtbot.addWidget(dialog)

    def job(progress):
        raise OSError("disk full")

    dialog.run_task(job, "test", "Working…")
    qtbot.waitUntil(lambda: dialog.failures == ["disk full"], timeout=5000)
    assert dialog.status.text() == "failed: disk full" and not dialog.progress.isVisibleTo(dialog)
