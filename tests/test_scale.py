"""Grading at scale: the same batch on a local pool with SQLite, and on a local multi-process
Dask cluster with a PostgreSQL gradebook, gives the same grades, each recorded once."""
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from course.grading.gradebook import nbgrader_api
from course.grading.batch import grade_batch
from course.authoring.release import release
from submissions import other_assignment, students

pytestmark = pytest.mark.sandbox

AID = "01-gradient-descent"


@pytest.fixture(scope="module")
def postgres():
    """A throwaway PostgreSQL server on a unix socket (Debian's postgresql package)."""
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    assert bins, "PostgreSQL is not installed: run `make system`"
    pg = lambda name: os.path.join(bins[-1], name)
    data = tempfile.mkdtemp(prefix="course-pg-", dir="/var/tmp")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(data, "postgres")
    run = lambda *cmd: subprocess.run([*as_postgres, *cmd], check=True, capture_output=True, text=True)
    run(pg("initdb"), "-D", data, "-A", "trust", "-U", "postgres")
    run(pg("pg_ctl"), "-D", data, "-w", "-l", f"{data}/log", "-o", f"-k {data} -c listen_addresses=''", "start")
    try:
        run(pg("createdb"), "-h", data, "-U", "postgres", "course")
        yield f"postgresql://postgres@/course?host={data}"
    finally:
        run(pg("pg_ctl"), "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(data, ignore_errors=True)


def course_with_submissions(root, db_url=None):
    release(AID, nbgrader_api(root, db_url), chapters=root / "chapters")
    released = nbformat.read(root / "release" / AID / f"{AID}.ipynb", as_version=4)
    population = students(AID, released, other_assignment(AID))
    for sid in ["s01-reference", "s02-untouched", "s04-last-exercise-unfinished", "s06-edits-locked-checks",
                "s11-empty-file", "s13-kills-kernel"]:
        content = population[sid][0]
        path = root / "submitted" / sid / AID / f"{AID}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(content if isinstance(content, str) else nbformat.writes(content))


def grades(outcomes):
    return {(o.student, o.assignment): (o.status, o.score) for o in outcomes}


def recorded(db_url, root):
    api = nbgrader_api(root, db_url)
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        return sorted((s.student_id, s.score) for s in gb.find_assignment(AID).submissions)


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    root = tmp_path_factory.mktemp("local")
    course_with_submissions(root)
    return root, grade_batch(root, [AID], workers=2, feedback=False)


@pytest.mark.database
def test_dask_cluster_with_postgresql_gives_the_same_grades(local, postgres, tmp_path_factory):
    from distributed import LocalCluster

    root = tmp_path_factory.mktemp("dask")
    course_with_submissions(root, postgres)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        outcomes = grade_batch(root, [AID], db_url=postgres, feedback=False, scheduler=cluster.scheduler_address)
    assert grades(outcomes) == grades(local[1])
    graded = sorted((o.student, o.score) for o in outcomes if o.status == "graded")
    assert recorded(postgres, root) == graded  # each grade once, none lost
    # Grading again on the cluster's gradebook changes nothing.
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        again = grade_batch(root, [AID], db_url=postgres, feedback=False, scheduler=cluster.scheduler_address)
    assert grades(again) == grades(outcomes)
    assert recorded(postgres, root) == graded


def test_local_batch_records_each_grade_once(local):
    root, outcomes = local
    assert {o.status for o in outcomes} == {"graded", "not graded"}
    assert recorded(None, root) == sorted((o.student, o.score) for o in outcomes if o.status == "graded")
