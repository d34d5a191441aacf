"""The quickstart's console names paths as the README writes them: relative to the repository when inside it."""
import os

from experiments.quickstart import shown
from experiments.stages import REPO


def test_paths_inside_the_repository_are_shown_relative_to_it():
    log = os.path.join(REPO, "output", "quickstart", "pretrain", "run.log")
    assert shown(log) == "output/quickstart/pretrain/run.log"
    assert shown(os.path.join(REPO, "datasets", "DAVIS-synthetic")) == "datasets/DAVIS-synthetic"


def test_paths_elsewhere_and_relative_paths_are_shown_as_given():
    outside = os.path.join(os.path.dirname(str(REPO)), "elsewhere", "run.log")
    assert shown(outside) == outside
    assert shown("output/x") == "output/x"
