"""A job that fails on a full disk ends ``failed`` with its ``disk_full`` error, even though the job table
(on that disk) cannot take its end state then: it is answered from memory and saved once space is freed,
never left ``running`` for good."""

from __future__ import annotations

import time

from indexer.errors import DiskFull
from indexer.jobs import JobManager
from indexer.stores.embedded.job_table import SqliteJobTable
from tests.small_disk import fill, needs_root, small_disk

pytestmark = needs_root


def test_a_job_failing_on_a_full_disk_ends_failed_and_is_saved_once_space_is_freed(tmp_path):
    with small_disk(tmp_path / "disk", "1m") as disk:
        data = disk / "data"
        data.mkdir()
        m = JobManager(SqliteJobTable(data / "jobs.sqlite3"))

        def fills_the_disk(progress, cancel):
            progress({"phase": "indexing", "files_done": 1})
            fill(disk)
            raise DiskFull(data, "the write")

        job = m.wait(m.submit("c", fills_the_disk).id, timeout=10)
        assert job.state == "failed" and job.error["code"] == "disk_full" and str(data) in job.error["message"]
        assert [j.state for j in m.list_jobs(key="c")] == ["failed"]
        (disk / "filler").unlink()
        other = SqliteJobTable(data / "jobs.sqlite3")  # what every other process sees
        deadline = time.monotonic() + 10
        while other.get(job.id)["state"] != "failed":
            assert time.monotonic() < deadline, "the end state was never saved"
            time.sleep(0.1)
        other.close()
        m.shutdown()
